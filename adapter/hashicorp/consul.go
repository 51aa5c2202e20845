package hashicorp

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/nsraft/nsraft/collector"
)

// ConsulConfig configures the Consul host.
type ConsulConfig struct {
	// Address is the Consul agent's HTTP API (default http://127.0.0.1:8500).
	Address string
	// Token is an ACL token with agent:read (and, for Live, agent:write).
	Token string
	// Live opts in to applying decisions: the host writes Fragment (a
	// Consul config file holding performance.raft_multiplier) and asks
	// Consul to reload. Off by default: decisions are recommendations.
	Live     bool
	Fragment string
	// MinReloadInterval rate-limits live reloads (default 30s): a Consul
	// reload re-reads every configuration file.
	MinReloadInterval time.Duration
	// Timeout bounds each HTTP request (default 2s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ProcStat is where CPU accounting is read (the agent runs beside the
	// Consul server); default /proc/stat.
	ProcStat string
	// Handoff lets the leader hand off on its agent's word (off by
	// default).
	Handoff ConsulHandoff
}

// Consul samples a Consul server through its HTTP API and advises (or,
// opted in, applies) the raft_multiplier that puts the decided timeout in
// force. Consul v1.16 scales hashicorp/raft's 1s HeartbeatTimeout and
// ElectionTimeout and its 500ms LeaderLeaseTimeout by
// performance.raft_multiplier (1–10). On `consul reload` it re-applies
// HeartbeatTimeout and ElectionTimeout from the multiplier through
// raft.ReloadConfig; the lease keeps its start value, so a multiplier
// whose timeout falls below it is refused by Consul. The consul.raft.*
// timing fields are overridden by Consul's defaults and cannot be used.
type Consul struct {
	cfg  ConsulConfig
	http *http.Client

	mu         sync.Mutex
	startMult  int                // the multiplier Consul started with
	mult       int                // the multiplier in force
	lease      time.Duration      // LeaderLeaseTimeout, fixed at start
	seen       *collector.Tracker // what the server has observed
	reloadedAt time.Time
	wrote      bool
	cpu        collector.CPU
	lastAdvice string
	// confDir is the snapshot of Consul's config dir (the fragment's)
	// as of the agent's start or its last reload: name → content hash.
	confDir map[string]string
	// readBack confirms an applied multiplier from the leader's own
	// heartbeat rate (Consul reports only its start values).
	readBack readBack
	notes    []string // what the operator should know (pending edits, read-backs)
	// tail is the worst heartbeat round-trip p99 the leader reported
	// since the agent started; leaseText the restart-time advice it gave,
	// kept until the advised multiplier changes.
	tail      time.Duration
	leaseMult int
	leaseText string
	// The server process's own CPU: the last reading and the rate
	// (cores) between the last two.
	cpuAt    time.Time
	cpuTotal time.Duration
	cpuCores float64
	cpuOK    bool
	ho       consulHandoffState
}

// readBack is a pending or finished confirmation of a reload.
type readBack struct {
	mult       int
	after      time.Time // the heartbeat count is read from here on
	count      float64
	peers      int
	started    bool
	confirmed  bool
	mismatched bool
}

// NewConsul returns a Consul host. It reads the server's start timing
// once; an unreachable Consul is an error here and, later, a sample with
// nothing present (the policy holds).
func NewConsul(ctx context.Context, cfg ConsulConfig) (*Consul, error) {
	if cfg.Address == "" {
		cfg.Address = "http://127.0.0.1:8500"
	}
	cfg.Address = strings.TrimRight(cfg.Address, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MinReloadInterval <= 0 {
		cfg.MinReloadInterval = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Handoff.defaults()
	if cfg.Live && cfg.Fragment == "" {
		return nil, errors.New("consul live mode needs a fragment file in Consul's config dir to write raft_multiplier into")
	}
	c := &Consul{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout}, cpu: collector.CPU{Path: cfg.ProcStat},
		seen: collector.NewTracker(collector.TrackerConfig{})}
	self, err := c.self(ctx)
	if err != nil {
		return nil, err
	}
	if !self.Config.Server {
		return nil, fmt.Errorf("consul at %s is a client agent: only servers run Raft", cfg.Address)
	}
	hb, err1 := time.ParseDuration(self.DebugConfig.ConsulRaftHeartbeatTimeout)
	lease, err2 := time.ParseDuration(self.DebugConfig.ConsulRaftLeaderLeaseTimeout)
	if err1 != nil || err2 != nil || hb <= 0 {
		return nil, fmt.Errorf("consul at %s: cannot read its raft timing (DebugConfig.ConsulRaftHeartbeatTimeout %q)", cfg.Address, self.DebugConfig.ConsulRaftHeartbeatTimeout)
	}
	c.startMult = max(1, int(math.Round(float64(hb)/float64(time.Second))))
	c.mult, c.lease = c.startMult, lease
	if cfg.Live {
		c.confDir = snapshotDir(filepath.Dir(cfg.Fragment), cfg.Fragment)
		// A fragment left by an earlier agent is stale: the server runs
		// what it read at start or last reload; start from the operator's
		// own configuration again.
		if _, err := os.Stat(cfg.Fragment); err == nil {
			os.Remove(cfg.Fragment)
			c.reload(ctx)
		}
	}
	return c, nil
}

type consulSelf struct {
	Config struct {
		NodeName string
		Server   bool
		Version  string
	}
	DebugConfig struct {
		ConsulRaftHeartbeatTimeout   string
		ConsulRaftLeaderLeaseTimeout string
	}
	Stats map[string]map[string]string
}

func (c *Consul) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.Address+path, nil)
	if err != nil {
		return nil, err
	}
	if c.cfg.Token != "" {
		req.Header.Set("X-Consul-Token", c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("consul %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("consul %s: %s", path, resp.Status)
	}
	return resp, nil
}

func (c *Consul) self(ctx context.Context) (*consulSelf, error) {
	resp, err := c.get(ctx, "/v1/agent/self")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s consulSelf
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("consul /v1/agent/self: %w", err)
	}
	return &s, nil
}

// ConsulMetrics is what the host reads from Consul's Prometheus output.
type ConsulMetrics struct {
	// HeartbeatP50, P90, P99 summarize the leader's heartbeat RPCs to its
	// followers (consul_raft_replication_heartbeat, worst peer); ok is
	// false on followers and when Consul has no recent observation.
	HeartbeatP50, HeartbeatP90, HeartbeatP99 time.Duration
	HeartbeatOK                              bool
	// HeartbeatCount is the number of heartbeat RPCs the leader has sent,
	// summed over its followers, and HeartbeatPeers how many followers
	// they went to.
	HeartbeatCount float64
	HeartbeatPeers int
	// Candidacies counts elections this server started
	// (consul_raft_state_candidate).
	Candidacies float64
	// StoreLogsP99 is the p99 of BoltDB log writes (disk sync).
	StoreLogsP99 time.Duration
	StoreLogsOK  bool
	// ProcessCPU is the Consul process's own CPU time
	// (process_cpu_seconds_total), ProcessCPUOK whether it was exposed.
	ProcessCPU   time.Duration
	ProcessCPUOK bool
}

// ParseConsulMetrics reads Consul's /v1/agent/metrics?format=prometheus
// text. Quantiles Consul reports as NaN (no observation in its window)
// are missing, not zero.
func ParseConsulMetrics(text string) (ConsulMetrics, error) {
	var m ConsulMetrics
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return m, fmt.Errorf("consul metrics: %w", err)
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	q := func(s *dto.Summary, want float64) (float64, bool) {
		for _, x := range s.GetQuantile() {
			if x.GetQuantile() == want && !math.IsNaN(x.GetValue()) && x.GetValue() >= 0 {
				return x.GetValue(), true
			}
		}
		return 0, false
	}
	if f := fams["consul_raft_replication_heartbeat"]; f != nil {
		for _, mt := range f.GetMetric() {
			m.HeartbeatCount += float64(mt.GetSummary().GetSampleCount())
			m.HeartbeatPeers++
			p50, ok1 := q(mt.GetSummary(), 0.5)
			p90, ok2 := q(mt.GetSummary(), 0.9)
			p99, ok3 := q(mt.GetSummary(), 0.99)
			if ok1 && ok2 && ok3 && ms(p99) >= m.HeartbeatP99 {
				m.HeartbeatP50, m.HeartbeatP90, m.HeartbeatP99, m.HeartbeatOK = ms(p50), ms(p90), ms(p99), true
			}
		}
	}
	if f := fams["consul_raft_state_candidate"]; f != nil && len(f.GetMetric()) > 0 {
		m.Candidacies = f.GetMetric()[0].GetCounter().GetValue()
	}
	if f := fams["process_cpu_seconds_total"]; f != nil && len(f.GetMetric()) > 0 {
		m.ProcessCPU = time.Duration(f.GetMetric()[0].GetCounter().GetValue() * float64(time.Second))
		m.ProcessCPUOK = true
	}
	if f := fams["consul_raft_boltdb_storeLogs"]; f != nil && len(f.GetMetric()) > 0 {
		if v, ok := q(f.GetMetric()[0].GetSummary(), 0.99); ok {
			m.StoreLogsP99, m.StoreLogsOK = ms(v), true
		}
	}
	return m, nil
}

// Sample takes one sample of the Consul server. What cannot be read is
// marked missing.
func (c *Consul) Sample() collector.Sample {
	now := c.cfg.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	s := collector.Sample{At: now}
	self, err := c.self(ctx)
	if err != nil {
		c.mu.Lock()
		c.ho.leader = false // unknown: no hand-off on it
		c.mu.Unlock()
		return s
	}
	r := self.Stats["raft"]
	role := collector.ParseRole(r["state"])
	term, termErr := strconv.ParseUint(r["term"], 10, 64)
	leader := c.leader(ctx)
	if leader == "" && role == collector.RoleLeader {
		leader = self.Config.NodeName
	}
	c.mu.Lock()
	if termErr == nil {
		c.seen.Status(now, role, term, leader)
		c.seen.Timeout(time.Duration(c.mult) * time.Second)
	}
	if role != collector.RoleLeader {
		// "0" right after contact, "never" before any, else a duration.
		// Consul reports only the latest contact, read once a tick.
		switch lc := r["last_contact"]; lc {
		case "never", "":
		case "0":
			c.seen.LatestContact(now, leader, term)
		default:
			if d, err := time.ParseDuration(lc); err == nil {
				c.seen.LatestContact(now.Add(-d), leader, term)
			}
		}
	}
	commit, err1 := strconv.ParseUint(r["commit_index"], 10, 64)
	applied, err2 := strconv.ParseUint(r["applied_index"], 10, 64)
	if err1 == nil && err2 == nil {
		c.seen.Replication(commit, applied)
	}
	c.mu.Unlock()
	if resp, err := c.get(ctx, "/v1/agent/metrics?format=prometheus"); err == nil {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if rerr == nil {
			if m, err := ParseConsulMetrics(string(b)); err == nil {
				if m.HeartbeatOK {
					s.RTTMean, s.RTTP99 = m.HeartbeatP50, m.HeartbeatP99
					s.RTTStdDev = time.Duration(float64(m.HeartbeatP90-m.HeartbeatP50) / 1.2816) // normal approximation
					s.Set(collector.FieldRTT)
				}
				if m.StoreLogsOK {
					s.DiskSyncP99 = m.StoreLogsP99
					s.Set(collector.FieldDiskSync)
				}
				if m.ProcessCPUOK {
					c.mu.Lock()
					if dt := now.Sub(c.cpuAt); !c.cpuAt.IsZero() && dt > 0 && m.ProcessCPU >= c.cpuTotal {
						c.cpuCores, c.cpuOK = float64(m.ProcessCPU-c.cpuTotal)/float64(dt), true
					}
					c.cpuAt, c.cpuTotal = now, m.ProcessCPU
					c.mu.Unlock()
				}
				if role == collector.RoleLeader {
					c.confirm(now, m)
					if m.HeartbeatOK {
						c.mu.Lock()
						c.tail = max(c.tail, m.HeartbeatP99)
						if la := RecommendLease(c.tail, 0); la.Multiplier != c.leaseMult {
							c.leaseMult, c.leaseText = la.Multiplier, la.ConsulText(c.startMult)
						}
						c.mu.Unlock()
					}
				}
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if pct, ok, err := c.cpu.IdlePct(); err == nil && ok {
		c.seen.CPUIdle(pct)
	}
	// The tracker's sample, with what Consul summarizes itself (RTT,
	// disk sync) kept from its metrics.
	host := s
	s = c.seen.Sample(now)
	s.Node = self.Config.NodeName
	if n, err := strconv.Atoi(r["num_peers"]); err == nil {
		s.ClusterSize = n + 1
		s.Set(collector.FieldClusterSize)
	}
	s.RTTMean, s.RTTStdDev, s.RTTP99, s.DiskSyncP99 = host.RTTMean, host.RTTStdDev, host.RTTP99, host.DiskSyncP99
	s.Present = s.Present&^(collector.FieldRTT|collector.FieldDiskSync) | host.Present&(collector.FieldRTT|collector.FieldDiskSync)
	s.HeartbeatTimeout = time.Duration(c.mult) * time.Second
	s.ElectionTimeout = s.HeartbeatTimeout
	s.LeaderLeaseTimeout = c.lease
	s.HeartbeatInterval = s.HeartbeatTimeout / 10
	s.Set(collector.FieldHostTimeouts)
	c.ho.leader = s.Role == collector.RoleLeader
	c.ho.disk, c.ho.diskOK = s.DiskSyncP99, s.Has(collector.FieldDiskSync)
	return s
}

// leader is the leader's address as the server knows it
// (/v1/status/leader), or "" when it knows none or cannot say.
func (c *Consul) leader(ctx context.Context) string {
	resp, err := c.get(ctx, "/v1/status/leader")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var addr string
	if json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&addr) != nil {
		return ""
	}
	return addr
}

// Multiplier is the raft_multiplier that puts timeout t in force: the
// smallest whose 1s×m heartbeat timeout is at least t, within Consul's
// 1–10 and never below the lease Consul started with.
func (c *Consul) Multiplier(t time.Duration) int {
	m := int(math.Ceil(float64(t) / float64(time.Second)))
	floor := int(math.Ceil(float64(c.lease) / float64(time.Second)))
	return min(10, max(1, floor, m))
}

// Advice says, in an operator's words, what to set for timeout t, and
// when this server leads while degraded on its own figures (disk sync p99
// over 100ms, or its process using more than 0.9 cores), that handing
// leadership to a healthy follower now would spare the cluster an
// election later.
func (c *Consul) Advice(s collector.Sample, t time.Duration) string {
	m := c.Multiplier(t)
	c.mu.Lock()
	cur := c.mult
	c.mu.Unlock()
	var out string
	if m == cur {
		out = fmt.Sprintf("keep performance.raft_multiplier = %d (heartbeat and election timeout %ds)", m, m)
	} else {
		out = fmt.Sprintf("set performance.raft_multiplier = %d (now %d): heartbeat and election timeout %ds, then `consul reload`", m, cur, m)
	}
	c.mu.Lock()
	for _, n := range c.notes {
		out += "; " + n
	}
	if c.leaseText != "" {
		out += "; " + c.leaseText
	}
	c.mu.Unlock()
	if s.Role == collector.RoleLeader {
		var why []string
		if s.Has(collector.FieldDiskSync) && s.DiskSyncP99 > 100*time.Millisecond {
			why = append(why, fmt.Sprintf("disk sync p99 %s", s.DiskSyncP99.Round(time.Millisecond)))
		}
		// Its own process's CPU, never the machine's: on a shared machine
		// the machine's idle says nothing about this server.
		c.mu.Lock()
		cores, ok := c.cpuCores, c.cpuOK
		c.mu.Unlock()
		if ok && cores > 0.9 {
			why = append(why, fmt.Sprintf("Consul process CPU %.2f cores", cores))
		}
		if len(why) > 0 {
			out += "; this leader is degraded (" + strings.Join(why, ", ") + "): `consul operator raft transfer-leader` to a healthy follower would avoid an election"
		}
	}
	return out
}

// Apply puts timeout t in force when live (a fragment and a reload, at
// most every MinReloadInterval, only when the multiplier changes);
// advisory hosts never call it.
func (c *Consul) Apply(t time.Duration) error {
	if !c.cfg.Live {
		return errors.New("consul host is advisory")
	}
	m := c.Multiplier(t)
	refused := c.leaseRefusal(t)
	c.mu.Lock()
	if m == c.mult {
		c.mu.Unlock()
		return refused
	}
	if since := c.cfg.Now().Sub(c.reloadedAt); !c.reloadedAt.IsZero() && since < c.cfg.MinReloadInterval {
		c.mu.Unlock()
		return fmt.Errorf("raft_multiplier %d held back: last reload %s ago, limit one per %s", m, since.Round(time.Second), c.cfg.MinReloadInterval)
	}
	c.mu.Unlock()
	frag := fmt.Sprintf("# Written by ns-agent: the raft timing it decided. Remove it and\n# `consul reload` to return to your own configuration.\nperformance {\n  raft_multiplier = %d\n}\n", m)
	tmp := c.cfg.Fragment + ".tmp"
	if err := os.WriteFile(tmp, []byte(frag), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Clean(c.cfg.Fragment)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout*5)
	defer cancel()
	pending := c.pendingEdits()
	if err := c.reload(ctx); err != nil {
		return err
	}
	now := c.cfg.Now()
	c.mu.Lock()
	c.mult, c.reloadedAt, c.wrote = m, now, true
	// The leader's heartbeats settle at the new rate within a heartbeat
	// timeout; count from then.
	c.readBack = readBack{mult: m, after: now.Add(time.Duration(m) * time.Second)}
	c.notes = nil
	if len(pending) > 0 {
		c.notes = append(c.notes, fmt.Sprintf("warning: the reload for raft_multiplier %d also applied other edits in %s: %s",
			m, filepath.Dir(c.cfg.Fragment), strings.Join(pending, ", ")))
	}
	c.confDir = snapshotDir(filepath.Dir(c.cfg.Fragment), c.cfg.Fragment)
	c.mu.Unlock()
	return refused
}

// ErrLeaseRefuses is returned (wrapped) when a decided timeout needs a
// raft_multiplier whose heartbeat timeout would fall below the leader
// lease Consul started with: Consul would refuse that reload.
var ErrLeaseRefuses = errors.New("the leader lease would refuse it")

// leaseRefusal says why the multiplier timeout t asks for cannot be put
// in force live, before any reload; nil when it can.
func (c *Consul) leaseRefusal(t time.Duration) error {
	want := min(10, max(1, int(math.Ceil(float64(t)/float64(time.Second)))))
	floor := c.Multiplier(0)
	if want >= floor {
		return nil
	}
	return fmt.Errorf("raft_multiplier %d not reloaded, %w: Consul started with raft_multiplier %d, whose leader lease (%s) stays until a restart, and hashicorp/raft refuses a heartbeat timeout (%ds) below the lease; %d is the least this server takes live (restart it with a lower raft_multiplier to go lower)",
		want, ErrLeaseRefuses, c.startMult, c.lease, want, floor)
}

// snapshotDir hashes every regular file in dir except the fragment.
func snapshotDir(dir, fragment string) map[string]string {
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() || p == filepath.Clean(fragment) || p == filepath.Clean(fragment)+".tmp" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		out[e.Name()] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	return out
}

// pendingEdits lists the files of the config dir that changed since the
// agent's start or last reload: a reload applies them too.
func (c *Consul) pendingEdits() []string {
	now := snapshotDir(filepath.Dir(c.cfg.Fragment), c.cfg.Fragment)
	c.mu.Lock()
	before := c.confDir
	c.mu.Unlock()
	var out []string
	for name, h := range now {
		switch old, ok := before[name]; {
		case !ok:
			out = append(out, name+" (new)")
		case old != h:
			out = append(out, name+" (edited)")
		}
	}
	for name := range before {
		if _, ok := now[name]; !ok {
			out = append(out, name+" (removed)")
		}
	}
	sort.Strings(out)
	return out
}

// confirm reads an applied multiplier back from the leader's heartbeat
// rate: hashicorp/raft heartbeats each follower every [T/10, T/5) of its
// heartbeat timeout T = multiplier × 1s, so about 1/(0.15 T) a second.
func (c *Consul) confirm(now time.Time, m ConsulMetrics) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rb := &c.readBack
	if rb.mult == 0 || rb.confirmed || rb.mismatched || now.Before(rb.after) || m.HeartbeatPeers == 0 {
		return
	}
	if !rb.started {
		rb.count, rb.peers, rb.started, rb.after = m.HeartbeatCount, m.HeartbeatPeers, true, now
		return
	}
	span := now.Sub(rb.after)
	if span < 3*time.Second || m.HeartbeatPeers != rb.peers || m.HeartbeatCount < rb.count {
		if m.HeartbeatPeers != rb.peers || m.HeartbeatCount < rb.count {
			rb.started = false
		}
		return
	}
	perPeer := (m.HeartbeatCount - rb.count) / span.Seconds() / float64(rb.peers)
	want := 1 / (0.15 * float64(rb.mult))
	implied := 0.0
	if perPeer > 0 {
		implied = 1 / (0.15 * perPeer)
	}
	msg := fmt.Sprintf("raft_multiplier %d read back from the leader's heartbeats: %.2f/s per follower over %s, expected %.2f (implies %.1f)",
		rb.mult, perPeer, span.Round(time.Second), want, implied)
	if perPeer > 0 && math.Abs(perPeer-want)/want <= 0.35 {
		rb.confirmed = true
		c.notes = append(c.notes, "confirmed: "+msg)
	} else {
		rb.mismatched = true
		c.notes = append(c.notes, "mismatch: "+msg)
	}
}

// ReadBack says whether the last applied multiplier was confirmed
// (true, true), found not in force (false, true), or not yet judged.
func (c *Consul) ReadBack() (confirmed, judged bool, note string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readBack.confirmed, c.readBack.confirmed || c.readBack.mismatched, strings.Join(c.notes, "; ")
}

func (c *Consul) reload(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.cfg.Address+"/v1/agent/reload", nil)
	if err != nil {
		return err
	}
	if c.cfg.Token != "" {
		req.Header.Set("X-Consul-Token", c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("consul reload: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("consul reload: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// Live reports whether decisions are applied (opt-in) or only advised.
func (c *Consul) Live() bool { return c.cfg.Live }

// Close removes the fragment this host wrote and reloads, returning Consul
// to the operator's own configuration.
func (c *Consul) Close() error {
	c.mu.Lock()
	wrote := c.wrote
	c.wrote = false
	c.mu.Unlock()
	if !wrote {
		return nil
	}
	if err := os.Remove(c.cfg.Fragment); err != nil && !os.IsNotExist(err) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout*5)
	defer cancel()
	return c.reload(ctx)
}
