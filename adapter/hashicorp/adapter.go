package hashicorp

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nsraft/nsraft/collector"
)

// Config configures an Adapter.
type Config struct {
	// NodeID is the node's Raft server ID.
	NodeID string
	// LeaseTTL is how long a decision stays in force without a fresh one
	// (default 3s).
	LeaseTTL time.Duration
	// LeaderLeaseTimeout is the node's (non-reloadable) lease, a floor for
	// HeartbeatTimeout that ReloadConfig enforces.
	LeaderLeaseTimeout time.Duration
	// PreVote says whether the node runs pre-vote (hashicorp/raft v1.8
	// does unless disabled).
	PreVote bool
	// Poll is how often the heartbeat gap is polled (default 10ms).
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ProcStat is where CPU accounting is read (default /proc/stat); where
	// it cannot be read, samples mark CPU idle as missing.
	ProcStat string
	// Transport is the node's transport as returned by WrapTransport, and
	// RTTs what it measures into. With them, samples carry RPC round-trip
	// times and failures, and a follower probes its leader every
	// ProbeEvery (default 100ms). Without them, RTT is marked missing.
	Transport  raft.Transport
	RTTs       *RTTs
	ProbeEvery time.Duration
	// Handoff lets this node, as leader, judge itself for a hand-off and
	// hand leadership over when its agent says so (off by default).
	Handoff HandoffConfig
	// ElectionWindow is how far back elections count in a sample
	// (default 30s). A benchmark that compresses the time between faults
	// compresses this window with it.
	ElectionWindow time.Duration
}

// DefaultElectionWindow is how far back elections count in a sample unless
// Config.ElectionWindow says otherwise.
const DefaultElectionWindow = collector.ElectionWindow

// Adapter samples and steers one hashicorp/raft node.
type Adapter struct {
	r    *raft.Raft
	cfg  Config
	orig raft.ReloadableConfig

	obsCh chan raft.Observation
	obs   *raft.Observer
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	mu sync.Mutex
	// seen is what the node has observed: the observer, the poller and
	// Sample feed it events and read its samples.
	seen        *collector.Tracker
	lastContact time.Time // the host's LastContact as last fed to obs
	decidedAt   time.Time
	applied     bool
	restores    int
	cpu         collector.CPU
	lastProbe   time.Time
	probing     bool
	voters      int       // voters in the configuration, refreshed by the poller
	votersAt    time.Time // when voters was last read
	ho          handoff
}

// New returns an adapter for r; Start begins observing.
func New(r *raft.Raft, cfg Config) *Adapter {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 3 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ProbeEvery <= 0 {
		cfg.ProbeEvery = 100 * time.Millisecond
	}
	if cfg.ElectionWindow <= 0 {
		cfg.ElectionWindow = DefaultElectionWindow
	}
	cfg.Handoff.defaults()
	counts := collector.FieldRPCRetries
	if cfg.RTTs != nil {
		counts |= collector.FieldRPCFailures
	}
	return &Adapter{r: r, cfg: cfg, orig: r.ReloadableConfig(), obsCh: make(chan raft.Observation, 64),
		stop: make(chan struct{}), done: make(chan struct{}), cpu: collector.CPU{Path: cfg.ProcStat},
		seen: collector.NewTracker(collector.TrackerConfig{ElectionWindow: cfg.ElectionWindow, PeerReports: true, Counts: counts})}
}

// Start registers the observer and starts the poller.
func (a *Adapter) Start() {
	a.obs = raft.NewObserver(a.obsCh, false, nil) // non-blocking: Raft never waits for us
	a.r.RegisterObserver(a.obs)
	go a.loop()
}

// Close stops the adapter and restores the node's own configuration. It
// may be called more than once.
func (a *Adapter) Close() error {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
		a.r.DeregisterObserver(a.obs)
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.applied {
		a.applied = false
		return a.r.ReloadConfig(a.orig)
	}
	return nil
}

func (a *Adapter) loop() {
	defer close(a.done)
	t := time.NewTicker(a.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case o := <-a.obsCh:
			a.observe(o)
		case <-t.C:
			a.poll()
		}
	}
}

func (a *Adapter) observe(o raft.Observation) {
	term := a.r.CurrentTerm()
	now := a.cfg.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	switch d := o.Data.(type) {
	case raft.FailedHeartbeatObservation:
		a.seen.Retry(now, 1)
		a.seen.PeerDown(string(d.PeerID))
	case raft.ResumedHeartbeatObservation:
		a.seen.PeerUp(string(d.PeerID))
	case raft.LeaderObservation:
		if d.LeaderID != "" {
			a.seen.Elected(now, term)
		}
	case raft.RaftState:
		// A candidacy the 10ms poll could miss (a round won or lost in
		// between); a candidate still in its old term is in pre-vote and
		// counts only once its term moves.
		if d == raft.Candidate || d == raft.Leader {
			a.seen.Status(now, collector.ParseRole(d.String()), term, "")
		}
	}
}

// status feeds the node's role, term, leader and last leader contact to
// the tracker; called with a.mu held.
func (a *Adapter) status(now time.Time) (term uint64, lid raft.ServerID) {
	lc := a.r.LastContact()
	term = a.r.CurrentTerm()
	_, lid = a.r.LeaderWithID()
	role := collector.ParseRole(a.r.State().String())
	a.seen.Status(now, role, term, string(lid))
	if role != collector.RoleLeader && !lc.IsZero() && lc.After(a.lastContact) {
		a.seen.Contact(lc, string(lid), term)
		a.lastContact = lc
	}
	return term, lid
}

// configRefresh is how often the poller re-reads the voter count.
// GetConfiguration is a round trip through Raft's main loop, too slow for
// every sample.
const configRefresh = time.Second

// poll tracks the heartbeat gap, term changes and the lease.
func (a *Adapter) poll() {
	now := a.cfg.Now()
	a.mu.Lock()
	stale := now.Sub(a.votersAt) >= configRefresh
	a.mu.Unlock()
	if stale {
		if f := a.r.GetConfiguration(); f.Error() == nil {
			voters := 0
			servers := f.Configuration().Servers
			for _, srv := range servers {
				if srv.Suffrage == raft.Voter {
					voters++
				}
			}
			a.mu.Lock()
			a.voters, a.votersAt, a.ho.servers = voters, now, servers
			a.mu.Unlock()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, lid := a.status(now)
	p, canProbe := a.cfg.Transport.(prober)
	canProbe = canProbe && a.cfg.RTTs != nil
	if canProbe && !a.probing && lid != "" && string(lid) != a.cfg.NodeID && now.Sub(a.lastProbe) >= a.cfg.ProbeEvery {
		if addr, _ := a.r.LeaderWithID(); addr != "" {
			a.probing, a.lastProbe = true, now
			go func() {
				_, rtt, err := p.probeAt(raft.ServerID(a.cfg.NodeID), lid, addr)
				a.mu.Lock()
				a.probing = false
				if err == nil && a.cfg.Handoff.Enabled {
					a.ho.recordBest(a.cfg.Now(), rtt, a.cfg.Handoff.BaselineWindow)
				}
				a.mu.Unlock()
			}()
		}
	}
	if canProbe && a.cfg.Handoff.Enabled && string(lid) == a.cfg.NodeID {
		a.probeFollowers(now, p)
	}
	if a.applied && now.Sub(a.decidedAt) > a.leaseTTL() {
		if err := a.r.ReloadConfig(a.orig); err == nil {
			a.applied = false
			a.restores++
		}
	}
}

// Sample takes one sample of the node and starts a new gap window.
func (a *Adapter) Sample() collector.Sample {
	now := a.cfg.Now()
	rc := a.r.ReloadableConfig()
	commit, applied := a.r.CommitIndex(), a.r.AppliedIndex()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status(now)
	a.seen.Timeout(rc.HeartbeatTimeout)
	a.seen.Replication(commit, applied)
	if pct, ok, err := a.cpu.IdlePct(); err == nil && ok {
		a.seen.CPUIdle(pct)
	}
	if a.cfg.RTTs != nil {
		a.cfg.RTTs.feed(a.seen)
	}
	s := a.seen.Sample(now)
	s.Node, s.PreVote = a.cfg.NodeID, a.cfg.PreVote
	s.HeartbeatTimeout, s.ElectionTimeout = rc.HeartbeatTimeout, rc.ElectionTimeout
	s.LeaderLeaseTimeout = a.cfg.LeaderLeaseTimeout
	// The leader heartbeats every HeartbeatTimeout/10 of its own config.
	s.HeartbeatInterval = rc.HeartbeatTimeout / 10
	s.Set(collector.FieldPreVote | collector.FieldHostTimeouts)
	if a.voters > 0 {
		s.ClusterSize = a.voters
		s.Set(collector.FieldClusterSize)
	}
	return s
}

// ErrBelowLease is returned for a timeout hashicorp/raft would reject
// because it is below the node's LeaderLeaseTimeout.
var ErrBelowLease = errors.New("timeout below the leader lease timeout")

// Apply puts a decided base timeout into force with ReloadConfig:
// HeartbeatTimeout (the follower's failure detector, and the leader's
// heartbeat at a tenth of it) and ElectionTimeout (the candidate's round).
// It renews the lease.
func (a *Adapter) Apply(timeout time.Duration) error {
	if timeout < a.cfg.LeaderLeaseTimeout {
		return fmt.Errorf("%w: %s < %s", ErrBelowLease, timeout, a.cfg.LeaderLeaseTimeout)
	}
	rc := a.r.ReloadableConfig()
	rc.HeartbeatTimeout, rc.ElectionTimeout = timeout, timeout
	if err := a.r.ReloadConfig(rc); err != nil {
		return fmt.Errorf("reload config: %w", err)
	}
	a.mu.Lock()
	a.decidedAt, a.applied = a.cfg.Now(), true
	a.mu.Unlock()
	return nil
}

// SetLeaseTTL changes the lease (the agent announces its own on connect).
func (a *Adapter) SetLeaseTTL(d time.Duration) {
	if d <= 0 {
		return
	}
	a.mu.Lock()
	a.cfg.LeaseTTL = d
	a.mu.Unlock()
}

// leaseTTL is called with a.mu held.
func (a *Adapter) leaseTTL() time.Duration { return a.cfg.LeaseTTL }

// Original returns the node's own timing, restored when the lease runs out.
func (a *Adapter) Original() raft.ReloadableConfig { return a.orig }

// Live reports that decisions are applied to the host, not just advised.
func (a *Adapter) Live() bool { return true }

// Restores counts how often the lease ran out and the node's own
// configuration was restored.
func (a *Adapter) Restores() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.restores
}
