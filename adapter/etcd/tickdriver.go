package etcd

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/nsraft/nsraft/adapter/link"
	"github.com/nsraft/nsraft/collector"
)

// TickConfig configures a TickDriver for one go.etcd.io/raft node.
type TickConfig struct {
	// NodeID is the node's raft ID; ClusterSize the number of voters.
	NodeID      uint64
	ClusterSize int
	// ElectionTick and HeartbeatTick are the node's raft.Config values.
	ElectionTick, HeartbeatTick int
	// Base is the tick period the application would use without the
	// driver (e.g. 10ms), and the shortest the driver uses.
	Base time.Duration
	// LeaseTTL: without a fresh decision for this long, the node returns
	// to Base (default 2s).
	LeaseTTL time.Duration
	// PreVote and CheckQuorum are the node's raft.Config values. With both
	// on, a voter ignores a candidate until its own election timeout has
	// passed since it heard from the leader, which the policy's successor
	// stage needs.
	PreVote, CheckQuorum bool
	// Voters are the raft IDs of the configuration's voters, this node's
	// included; without them the successor stage stays off.
	Voters []uint64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// TickDriver adjusts a go.etcd.io/raft node's tick period live. In
// go.etcd.io/raft a follower campaigns after ElectionTick of its own ticks
// without hearing from the leader (randomized in [E, 2E) ticks), and the
// application owns the tick loop, so the period of a node's ticks is its
// election timeout's knob: a decided base timeout T becomes a period of
// T/ElectionTick. The leader ticks at its own decided period too: its
// CheckQuorum steps it down after ElectionTick ticks without a quorum's
// answers, so a leader left at a short period would abdicate during the
// very delay its followers were told to ride out; its heartbeats (every
// HeartbeatTick ticks) keep their ratio to the timeout, as etcd's
// guidance has them.
//
// The application calls Heard for every message it steps into the node and
// Observe after every Ready; it ticks the node whenever Next has elapsed.
// TickDriver is a host for the agent (Sample, Apply, Live).
type TickDriver struct {
	cfg    TickConfig
	voters []string // cfg.Voters as the samples name them, ascending

	mu        sync.Mutex
	period    time.Duration // the tick period in force
	decidedAt time.Time
	applied   bool
	restores  int
	seen      *collector.Tracker // what the node has observed
}

// NewTickDriver returns a driver ticking at cfg.Base.
func NewTickDriver(cfg TickConfig) *TickDriver {
	if cfg.Base <= 0 {
		cfg.Base = 10 * time.Millisecond
	}
	if cfg.ElectionTick <= 0 {
		cfg.ElectionTick = 10
	}
	if cfg.HeartbeatTick <= 0 {
		cfg.HeartbeatTick = 1
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &TickDriver{cfg: cfg, period: cfg.Base, seen: collector.NewTracker(collector.TrackerConfig{})}
	for _, id := range cfg.Voters {
		d.voters = append(d.voters, strconv.FormatUint(id, 10))
	}
	slices.Sort(d.voters)
	return d
}

// Next is how long until the node's next tick.
func (d *TickDriver) Next() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.applied && d.cfg.Now().Sub(d.decidedAt) > d.cfg.LeaseTTL {
		d.period, d.applied = d.cfg.Base, false // the lease ran out
		d.restores++
	}
	return d.period
}

// Heard records a message stepped into the node: a message from the
// leader of the current term is leader contact.
func (d *TickDriver) Heard(m pb.Message) {
	switch m.Type {
	case pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap:
	default:
		return
	}
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen.Contact(now, strconv.FormatUint(m.From, 10), m.Term)
}

// Observe records the node's state after a Ready.
func (d *TickDriver) Observe(st raft.BasicStatus) {
	now := d.cfg.Now()
	role := collector.RoleFollower
	switch st.RaftState {
	case raft.StateLeader:
		role = collector.RoleLeader
	case raft.StateCandidate, raft.StatePreCandidate:
		role = collector.RoleCandidate
	}
	var lead string
	if st.Lead != 0 {
		lead = strconv.FormatUint(st.Lead, 10)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen.Status(now, role, st.Term, lead)
	d.seen.Replication(st.Commit, st.Applied)
}

// Sample implements the agent's host: role, term, leader contact and gaps,
// elections, and the timing in force.
func (d *TickDriver) Sample() collector.Sample {
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	timeout := time.Duration(d.cfg.ElectionTick) * d.period
	d.seen.Timeout(timeout)
	s := d.seen.Sample(now)
	s.Node, s.PreVote = strconv.FormatUint(d.cfg.NodeID, 10), d.cfg.PreVote
	s.Set(collector.FieldPreVote)
	if d.cfg.ClusterSize > 0 {
		s.ClusterSize = d.cfg.ClusterSize
		s.Set(collector.FieldClusterSize)
	}
	s.HeartbeatTimeout, s.ElectionTimeout = timeout, timeout
	s.HeartbeatInterval = time.Duration(d.cfg.HeartbeatTick) * d.period
	s.Set(collector.FieldHostTimeouts)
	if len(d.voters) > 0 {
		s.Voters, s.VoteLease = d.voters, d.cfg.CheckQuorum
		s.Set(collector.FieldVoters)
	}
	return s
}

// Apply sets the tick period so that ElectionTick ticks last t, never
// shorter than Base, and renews the lease.
func (d *TickDriver) Apply(t time.Duration) error {
	p := max(t/time.Duration(d.cfg.ElectionTick), d.cfg.Base)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.period, d.decidedAt, d.applied = p, d.cfg.Now(), true
	return nil
}

// Live reports that decisions take effect on the node.
func (d *TickDriver) Live() bool { return true }

// Period is the tick period in force.
func (d *TickDriver) Period() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.period
}

// SetLeaseTTL takes the lease the agent announces when it links.
func (d *TickDriver) SetLeaseTTL(ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	d.mu.Lock()
	d.cfg.LeaseTTL = ttl
	d.mu.Unlock()
}

// Connect links the driver to the `ns-agent run` at cfg.Target (host.kind
// "etcd-raft") over the same gRPC protocol hashicorp/raft hosts use: it
// sends the node's samples and applies the agent's directives as tick
// periods. Until the agent answers, and whenever the link is down for a
// lease, the node ticks at Base. Close the returned link to detach.
func Connect(d *TickDriver, cfg link.Config) *link.Link {
	return link.Connect(d, strconv.FormatUint(d.cfg.NodeID, 10), "etcd-raft", cfg)
}

var _ link.Host = (*TickDriver)(nil)
