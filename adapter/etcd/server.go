package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nsraft/nsraft/collector"
)

// ServerConfig configures the etcd server host.
type ServerConfig struct {
	// Endpoint is this member's client URL (e.g. https://10.0.0.1:2379);
	// /metrics is read from it unless MetricsURL is set.
	Endpoint   string
	MetricsURL string
	// TLS secures the client connection and the metrics and probe
	// requests; nil for plain http.
	TLS *tls.Config
	// HeartbeatInterval and ElectionTimeout are the member's flags as it
	// was started (etcd does not expose them; defaults 100ms and 1s).
	HeartbeatInterval, ElectionTimeout time.Duration
	// Window is how far back rates, histograms and elections count
	// (default 30s).
	Window time.Duration
	// Timeout bounds each request (default 2s).
	Timeout time.Duration
	// ReadEvery is how often the member's status and /metrics are read
	// (default 1s); the samples between two reads carry the last one's
	// figures. While this member leads with hand-off on, every other
	// member's /metrics is read at the same pace (the hand-off's
	// evidence); otherwise the others are read every Advice.Every.
	ReadEvery time.Duration
	// Handoff configures leader hand-off (off unless Enabled).
	Handoff HandoffConfig
	// Advice bounds and paces the restart-time advice of the flags.
	Advice AdviceConfig
	// PreVoteDisabled says the member runs with --pre-vote=false (etcd
	// v3.5 enables pre-vote by default).
	PreVoteDisabled bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ProcStat is where the machine's CPU accounting is read for the
	// sample's CPU idle (default /proc/stat); hand-off never uses it.
	ProcStat string
}

// Server samples one etcd member through its client API, its /metrics and
// probes of its peers' /raft/probing endpoints, and advises its timing.
type Server struct {
	cfg  ServerConfig
	cli  *clientv3.Client
	http *http.Client

	mu        sync.Mutex
	history   []Metrics          // readings inside the window, oldest first
	seen      *collector.Tracker // what the member has observed, RTTs to its peers included
	selfRTT   recent             // into this member, through its advertised peer URL
	peerLast  map[uint64]time.Duration
	peers     []peer // from the member list
	probeNext int
	probing   bool
	self      uint64
	cpu       collector.CPU
	handoff   handoffState

	readNext     time.Time // when the member's status and /metrics are next read
	walP99       time.Duration
	walOK        bool
	leading      bool    // as of the last read of the status
	lead         leadLog // every member's figures, read each ReadEvery while this member leads
	peersRTT     recent  // out of this member, to its peers
	adviser      *Adviser
	evidence     evidenceLog
	evidenceNext time.Time
	gathering    bool
	gatherDone   sync.WaitGroup
}

type peer struct {
	id        uint64
	name      string
	peerURL   string
	clientURL string
	learner   bool
}

// NewServer connects to the member. A member that cannot be reached is an
// error here; later, a sample with nothing present (the policy holds).
func NewServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("etcd host: no endpoint")
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	if cfg.MetricsURL == "" {
		cfg.MetricsURL = cfg.Endpoint + "/metrics"
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 100 * time.Millisecond
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = collector.ElectionWindow
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.ReadEvery <= 0 {
		cfg.ReadEvery = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Handoff.defaults()
	cfg.Advice.defaults()
	if strings.HasPrefix(cfg.Endpoint, "https://") && cfg.TLS == nil {
		return nil, fmt.Errorf("etcd host %s: https endpoint without TLS configuration", cfg.Endpoint)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{cfg.Endpoint}, DialTimeout: cfg.Timeout, TLS: cfg.TLS, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd host %s: %w", cfg.Endpoint, err)
	}
	// Uncompressed: a member gzips its /metrics for a client that asks,
	// which on a LAN costs both sides CPU for nothing.
	tr := &http.Transport{TLSClientConfig: cfg.TLS, MaxIdleConnsPerHost: 4, DisableCompression: true}
	s := &Server{cfg: cfg, cli: cli, http: &http.Client{Timeout: cfg.Timeout, Transport: tr}, cpu: collector.CPU{Path: cfg.ProcStat},
		peerLast: map[uint64]time.Duration{}, peersRTT: recent{n: 16}, evidence: evidenceLog{horizon: cfg.Advice.Horizon},
		adviser: NewAdviser(Flags{Heartbeat: cfg.HeartbeatInterval, Election: cfg.ElectionTimeout}, cfg.Advice)}
	// One probe a tick: the last 32 (3.2s at a 100ms tick) keep the
	// statistics current when the network changes.
	s.seen = collector.NewTracker(collector.TrackerConfig{ElectionWindow: cfg.Window, RTTSize: 32})
	sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	st, err := cli.Status(sctx, cfg.Endpoint)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd host %s: status: %w", cfg.Endpoint, err)
	}
	s.self = st.Header.MemberId
	if err := s.refreshMembers(sctx); err != nil {
		cli.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the client.
func (s *Server) Close() error {
	s.gatherDone.Wait()
	return s.cli.Close()
}

// gather reads the other members' /metrics in the background, beside
// this member's own reading (own, or ownErr): every ReadEvery while this
// member leads with hand-off on (the hand-off's evidence), and every
// Advice.Every for the adviser, which weighs only readings of every
// member.
func (s *Server) gather(now time.Time, own Metrics, ownErr error) {
	s.mu.Lock()
	lead := s.cfg.Handoff.Enabled && s.leading
	if !lead {
		s.lead = leadLog{}
	}
	advise := !now.Before(s.evidenceNext)
	if s.gathering || !lead && !advise {
		s.mu.Unlock()
		return
	}
	s.gathering = true
	if advise {
		s.evidenceNext = now.Add(s.cfg.Advice.Every)
	}
	s.gatherDone.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.gatherDone.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.Timeout)
		defer cancel()
		if advise {
			_ = s.refreshMembers(ctx) // on failure the last list serves
		}
		s.mu.Lock()
		peers := append([]peer(nil), s.peers...)
		s.mu.Unlock()
		rd := Reading{At: now, ByMember: map[uint64]Metrics{}}
		for _, p := range peers {
			switch {
			case p.learner:
			case p.id == s.self && ownErr == nil:
				rd.ByMember[p.id] = own
			case p.id == s.self:
				rd.Missing = append(rd.Missing, fmt.Sprintf("%s (%v)", p.name, ownErr))
			case p.clientURL == "":
				rd.Missing = append(rd.Missing, p.name+" (no client URL)")
			default:
				m, err := scrapeURL(ctx, s.http, p.clientURL+"/metrics", now)
				if err != nil {
					rd.Missing = append(rd.Missing, fmt.Sprintf("%s (%v)", p.name, err))
					continue
				}
				rd.ByMember[p.id] = m
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.gathering = false
		if lead && s.leading {
			s.lead.add(rd, 3*s.cfg.ReadEvery, 4*s.cfg.Handoff.PersistFor)
		}
		if advise && len(rd.Missing) == 0 && len(rd.ByMember) > 0 {
			// Advice rests on every member: a partial reading is not
			// evidence of the cluster.
			s.adviser.Update(now, s.evidence.add(rd))
		}
	}()
}

// Recommendation is the restart-time advice in force.
func (s *Server) Recommendation() Recommendation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adviser.Current()
}

func (s *Server) refreshMembers(ctx context.Context) error {
	ml, err := s.cli.MemberList(ctx)
	if err != nil {
		return fmt.Errorf("etcd host %s: member list: %w", s.cfg.Endpoint, err)
	}
	var ps []peer
	for _, m := range ml.Members {
		p := peer{id: m.ID, name: m.Name, learner: m.IsLearner}
		if len(m.PeerURLs) > 0 {
			p.peerURL = strings.TrimRight(m.PeerURLs[0], "/")
		}
		if len(m.ClientURLs) > 0 {
			p.clientURL = strings.TrimRight(m.ClientURLs[0], "/")
		}
		ps = append(ps, p)
	}
	s.mu.Lock()
	s.peers = ps
	s.mu.Unlock()
	return nil
}

// Live reports that an etcd server only takes advice.
func (s *Server) Live() bool { return false }

// Apply is never called for an advisory host.
func (s *Server) Apply(time.Duration) error {
	return errors.New("etcd servers cannot change their timing while running: advisory")
}

// ID is this member's ID.
func (s *Server) ID() uint64 { return s.self }

// Sample takes one sample of the member. Its status and /metrics are
// read every ReadEvery; the samples between carry the last read's
// figures, with the tick's own probe and the machine's CPU.
func (s *Server) Sample() collector.Sample {
	now := s.cfg.Now()
	s.mu.Lock()
	read := !now.Before(s.readNext)
	if read {
		s.readNext = now.Add(s.cfg.ReadEvery)
	}
	s.mu.Unlock()
	var st *clientv3.StatusResponse
	var m Metrics
	var stErr, mErr error
	if read {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		st, stErr = s.cli.Status(ctx, s.cfg.Endpoint)
		m, mErr = s.scrape(ctx, now)
		cancel()
	}
	s.probe()
	pct, cpuOK, cpuErr := s.cpu.IdlePct()

	s.mu.Lock()
	if read {
		s.record(now, st, stErr, m, mErr)
	}
	if cpuErr == nil && cpuOK {
		s.seen.CPUIdle(pct)
	}
	smp := s.seen.Sample(now)
	smp.Node = strconv.FormatUint(s.self, 16)
	voters := 0
	for _, p := range s.peers {
		if !p.learner {
			voters++
		}
	}
	if voters > 0 {
		smp.ClusterSize = voters
		smp.Set(collector.FieldClusterSize)
	}
	if s.walOK {
		smp.DiskSyncP99 = s.walP99
		smp.Set(collector.FieldDiskSync)
	}
	s.mu.Unlock()
	if read {
		s.gather(now, m, mErr)
	}
	smp.PreVote = !s.cfg.PreVoteDisabled
	smp.Set(collector.FieldPreVote)
	smp.HeartbeatInterval = s.cfg.HeartbeatInterval
	smp.HeartbeatTimeout, smp.ElectionTimeout = s.cfg.ElectionTimeout, s.cfg.ElectionTimeout
	smp.Set(collector.FieldHostTimeouts)
	return smp
}

// record takes one read of the member's status and /metrics into the
// tracker and the window; s.mu is held.
func (s *Server) record(now time.Time, st *clientv3.StatusResponse, stErr error, m Metrics, mErr error) {
	if stErr == nil {
		// etcd's status cannot tell a candidate from a follower that
		// knows no leader: a leaderless member reads as candidate, so a
		// term it spends leaderless counts as an election it stood in.
		role, leader := collector.RoleFollower, strconv.FormatUint(st.Leader, 16)
		switch {
		case st.Leader == 0:
			role, leader = collector.RoleCandidate, ""
		case st.Leader == s.self:
			role = collector.RoleLeader
		}
		s.seen.Status(now, role, st.RaftTerm, leader)
		s.seen.Replication(st.RaftIndex, st.RaftAppliedIndex)
		s.leading = role == collector.RoleLeader
	} else {
		s.leading = false
	}
	s.seen.Timeout(s.cfg.ElectionTimeout)
	if mErr != nil {
		return
	}
	if n := len(s.history); n > 0 {
		// Counters since the previous reading: its retries and failed
		// heartbeats.
		prev := s.history[n-1]
		s.seen.Retry(now, int(m.ProposalsFailed-prev.ProposalsFailed))
		s.seen.RPCFailed(now, int(m.HeartbeatFailures-prev.HeartbeatFailures))
	}
	s.history = append(s.history, m)
	for len(s.history) > 2 && now.Sub(s.history[1].At) >= s.cfg.Window {
		s.history = s.history[1:]
	}
	if old := s.history[0]; len(s.history) > 1 {
		s.walP99, s.walOK = m.WALFsync.Sub(old.WALFsync).Quantile(0.99)
	}
}

func (s *Server) scrape(ctx context.Context, now time.Time) (Metrics, error) {
	return scrapeURL(ctx, s.http, s.cfg.MetricsURL, now)
}

// probe measures the round trip to one peer per tick, round robin, with
// GET /raft/probing on its advertised peer URL — the endpoint etcd's own
// prober uses, over the same network path as Raft's messages. At most one
// probe is in flight; it never delays the sample.
func (s *Server) probe() {
	s.mu.Lock()
	if s.probing || len(s.peers) < 2 {
		s.mu.Unlock()
		return
	}
	var target peer
	for range s.peers {
		p := s.peers[s.probeNext%len(s.peers)]
		s.probeNext++
		if p.peerURL != "" {
			target = p
			break
		}
	}
	if target.peerURL == "" {
		s.mu.Unlock()
		return
	}
	s.probing = true
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			s.probing = false
			s.mu.Unlock()
		}()
		start := time.Now()
		resp, err := s.http.Get(target.peerURL + "/raft/probing")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("probe %s: %s", target.name, resp.Status)
			}
		}
		rtt := time.Since(start)
		if target.id == s.self {
			// The path into this member, as its peers take it.
			s.selfRTT.add(rtt, err)
			return
		}
		now := s.cfg.Now()
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.seen.RPCFailed(now, 1)
			return
		}
		s.seen.RTT(now, rtt, 0)
		s.peerLast[target.id] = rtt
		s.peersRTT.add(rtt, nil)
	}()
}

// peerRTT is the last round trip measured to a peer.
func (s *Server) peerRTT(id uint64) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.peerLast[id]
	return d, ok
}

// recent keeps the last few round trips of one path (n, default 8); a
// failed probe counts as a very slow one.
type recent struct {
	mu sync.Mutex
	n  int
	xs []time.Duration
}

func (r *recent) add(d time.Duration, err error) {
	if err != nil {
		d = time.Hour
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.xs = append(r.xs, d)
	if n := max(r.n, 8); len(r.xs) > n {
		r.xs = r.xs[len(r.xs)-n:]
	}
}

// median of the last few, once there are at least min: a probe that
// waited for a busy CPU moves the tail, not the middle.
func (r *recent) median(min int) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.xs) < max(min, 1) {
		return 0, false
	}
	xs := append([]time.Duration(nil), r.xs...)
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	return xs[len(xs)/2], true
}

// Advice is the restart-time advice in force for --heartbeat-interval
// and --election-timeout, with its evidence (see Adviser): it rests on
// every member's metrics over a long horizon, not on the tick's decision,
// and changes rarely, since following it means a rolling restart.
func (s *Server) Advice(collector.Sample, time.Duration) string {
	return s.Recommendation().Text()
}

// AdviceChanges counts the times the advised flags changed.
func (s *Server) AdviceChanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adviser.Changes()
}

// AdvisedFlags are the advised heartbeat interval and election timeout.
func (s *Server) AdvisedFlags() (heartbeat, election time.Duration) {
	r := s.Recommendation()
	return r.Heartbeat, r.Election
}

func roundUp(d, step time.Duration) time.Duration {
	if step <= 0 {
		return d
	}
	return (d + step - 1) / step * step
}
