package collector

import (
	"time"
)

// TrackerConfig configures a Tracker. The zero value is usable.
type TrackerConfig struct {
	// ElectionWindow is how far back elections count (default
	// ElectionWindow). A benchmark that compresses the time between
	// faults compresses this window with it.
	ElectionWindow time.Duration
	// RTTSize is how many round trips are kept (default DefaultRTTSize),
	// and RTTHorizon how recent those the statistics use must be
	// (default DefaultRTTHorizon; negative: every kept one).
	RTTSize    int
	RTTHorizon time.Duration
	// PeerHorizon, when positive, makes the tracker judge reachability
	// itself: a peer named by Peers that it has not heard from
	// (Heard) within PeerHorizon is unreachable, and every sample carries
	// UnreachableVoters.
	PeerHorizon time.Duration
	// PeerReports says the host reports failing and resumed peers itself
	// while it leads (PeerDown, PeerUp: hashicorp/raft's heartbeat
	// observations); a leader's samples then carry UnreachableVoters.
	PeerReports bool
	// CampaignEvents says the host reports every campaign of its node
	// with Campaign (the simulator does): Status then never infers one
	// from a role, since a node can hold a term it adopted between two
	// reports and be a (pre-)candidate in it.
	CampaignEvents bool
	// Counts has the per-tick counters the host always reports
	// (FieldRPCRetries, FieldRPCFailures): those are present in every
	// sample, zero when nothing happened, rather than missing. Others are
	// present in a sample only when fed during its tick.
	Counts Field
}

// Tracker is what one Raft node has observed, kept as a pure state
// machine: every input is an event that carries the time it happened, and
// Sample(now) is the only output. It never reads a clock, starts a
// goroutine or locks; a host adapter or the simulator feeds it what its
// node does and reads a Sample once per tick. One Tracker means one
// definition of each feature, whatever host or simulation feeds it. It
// is not safe for concurrent use: a host that observes from several
// goroutines serializes the events.
//
// The events and what each moves:
//
//   - Restart(t): the node (re)started. Its election timer runs from t,
//     so LastContact counts from t; no leader is known; the gaps and
//     per-tick counters of its previous life are forgotten.
//   - Campaign(t, term): the node started an election for term. An
//     election, for a node, is a term it stood in: its own campaigns,
//     which is what the simulator's models were trained on and what a
//     node's own risk says most about. A term it merely adopts (a
//     follower hearing a candidate or a new leader) is seen, not counted.
//   - Status(t, role, term, leader): what the node says of itself (a
//     poll of the host, or the simulator's state at a tick). Found
//     candidate or leader in a term above every term seen before, it
//     stood in that term: an election at t, for hosts whose campaigns are
//     only seen by polling (the first term ever reported is a baseline,
//     not an election). A leader known in a term marks that term's
//     election successful. A change of (leader, term) restarts the
//     stable-leader clock at t.
//   - Contact(t, leader, term): the node heard from the leader of term
//     (AppendEntries, heartbeat, snapshot). The interval since the
//     previous contact is a heartbeat gap only when both came from the
//     same leader in the same term; across a leader change it is an
//     election outage, not lateness. Contact also marks term's election
//     successful.
//   - LatestContact(at, leader, term): a host polled too seldom to see
//     every contact reports its latest one; it counts as the open
//     interval's start but closes no gap.
//   - Elected(t, term): a leader of term became known (a host's
//     leader-change notification, or the node itself winning): term's
//     election succeeded.
//   - Timeout(d): the node's failure-detection timeout in force (for
//     hashicorp/raft HeartbeatTimeout). An election that has had no
//     leader for 2·d since it began has failed: a split vote, lost
//     quorum or timed-out round.
//   - RTT(t, rtt, held): one round trip to a peer, of which the peer held
//     the request for held (a paused or stalled responder: the reply says
//     so, as an NTP echo carries the server's hold time). The window keeps
//     rtt−held: a floor fed pause-inflated probes would hold every timeout
//     up for what is the peer's pause, not the network. RPCFailed(t, n)
//     counts n RPCs that failed; Retry(t, n) n retried ones.
//   - Replication(commit, have): the leader's commit index as last known
//     here, and how far this node's log (or state machine) has got.
//   - CPUIdle(pct): the machine's idle share over the tick.
//   - Peers(ids), Heard(t, peer), PeerDown(peer), PeerUp(peer): who the
//     other voters are and what is known of reaching them.
//
// Sample(t) reads it all and starts a new tick: the longest gap, the
// retry and failure counts and the CPU reading start again from zero.
// The election window, the stable-leader clock and the RTT window carry
// over. A leader's LastContact and HeartbeatGap are zero: it is the
// contact.
type Tracker struct {
	cfg TrackerConfig

	haveStatus bool
	role       Role
	term       uint64
	leader     string

	// Leader contact: the last one, whose it was, and the longest gap
	// closed since the last sample.
	haveContact   bool
	contact       time.Time
	contactLeader string
	contactTerm   uint64
	gapMax        time.Duration

	maxTerm   uint64
	haveTerm  bool
	elections []electionRec
	timeout   time.Duration
	haveLed   bool
	ledTerm   uint64 // the last term a leader was seen in

	stableLeader string
	stableTerm   uint64
	stableSince  time.Time

	rtt      *rttWindow
	retries  int
	failures int
	counted  Field // the counters fed during this tick

	haveReplication bool
	replication     uint64

	haveCPU bool
	cpu     float64

	peers []string
	heard map[string]time.Time
	down  map[string]bool
}

type electionRec struct {
	at     time.Time
	term   uint64
	leader bool // a leader was seen in that term
}

// NewTracker returns a tracker that has observed nothing yet.
func NewTracker(cfg TrackerConfig) *Tracker {
	if cfg.ElectionWindow <= 0 {
		cfg.ElectionWindow = ElectionWindow
	}
	if cfg.RTTSize <= 0 {
		cfg.RTTSize = DefaultRTTSize
	}
	if cfg.RTTHorizon == 0 {
		cfg.RTTHorizon = DefaultRTTHorizon
	}
	return &Tracker{cfg: cfg, rtt: newRTTWindow(cfg.RTTSize, cfg.RTTHorizon),
		heard: map[string]time.Time{}, down: map[string]bool{}}
}

// Restart records that the node (re)started at now.
func (t *Tracker) Restart(now time.Time) {
	t.role, t.leader = RoleFollower, ""
	t.haveContact, t.contact, t.contactLeader, t.contactTerm = true, now, "", 0
	t.gapMax, t.retries, t.failures, t.counted, t.haveCPU = 0, 0, 0, 0, false
	clear(t.down)
}

// Status records what the node reports of itself at now.
func (t *Tracker) Status(now time.Time, role Role, term uint64, leader string) {
	t.haveStatus = true
	t.role, t.leader = role, leader
	stood := !t.cfg.CampaignEvents && (role == RoleCandidate || role == RoleLeader)
	t.seeTerm(now, term, stood, false)
	t.term = term
	if leader != "" || role == RoleLeader {
		t.leaderSeen(term)
	}
	if leader != t.stableLeader || term != t.stableTerm || t.stableSince.IsZero() {
		t.stableLeader, t.stableTerm, t.stableSince = leader, term, now
	}
}

// Campaign records that the node started an election for term at now.
func (t *Tracker) Campaign(now time.Time, term uint64) {
	t.seeTerm(now, term, true, true)
	t.role, t.term, t.leader = RoleCandidate, term, ""
}

// Contact records that the node heard from leader, in term, at now.
func (t *Tracker) Contact(now time.Time, leader string, term uint64) {
	if t.haveContact && leader == t.contactLeader && term == t.contactTerm {
		if gap := now.Sub(t.contact); gap > t.gapMax {
			t.gapMax = gap
		}
	}
	t.haveContact, t.contact, t.contactLeader, t.contactTerm = true, now, leader, term
	t.seeTerm(now, term, false, false)
	t.leaderSeen(term)
}

// Elected records that a leader of term became known at now (a host's
// leader-change notification, or the node winning): term's election
// succeeded. It leaves the stable-leader clock to Status.
func (t *Tracker) Elected(now time.Time, term uint64) {
	t.seeTerm(now, term, false, false)
	t.leaderSeen(term)
}

// LatestContact records that, as of a poll, the node's most recent
// contact from leader (of term) was at at. For hosts that report only
// their latest contact, polled too seldom to see each one: the open
// interval counts, but no closed gap is inferred from two reports, since
// contacts between them went unseen.
func (t *Tracker) LatestContact(at time.Time, leader string, term uint64) {
	t.haveContact, t.contact, t.contactLeader, t.contactTerm = true, at, "", 0
	t.seeTerm(at, term, false, false)
	if leader != "" {
		t.leaderSeen(term)
	}
}

// Timeout records the node's failure-detection timeout in force.
func (t *Tracker) Timeout(d time.Duration) { t.timeout = d }

// RTT records one round trip to a peer measured at now, of which the peer
// held the request for held.
func (t *Tracker) RTT(now time.Time, rtt, held time.Duration) {
	t.rtt.add(now, max(0, rtt-held))
}

// RPCFailed records n Raft RPCs (or probes) that failed.
func (t *Tracker) RPCFailed(_ time.Time, n int) {
	t.failures += max(n, 0)
	t.counted |= FieldRPCFailures
}

// Retry records n Raft RPCs retried.
func (t *Tracker) Retry(_ time.Time, n int) {
	t.retries += max(n, 0)
	t.counted |= FieldRPCRetries
}

// Replication records the leader's commit index as last known here and
// how far this node has got.
func (t *Tracker) Replication(commit, have uint64) {
	t.haveReplication = true
	t.replication = 0
	if commit > have {
		t.replication = commit - have
	}
}

// CPUIdle records the machine's CPU idle share over the tick, 0–100.
func (t *Tracker) CPUIdle(pct float64) { t.haveCPU, t.cpu = true, pct }

// Peers records the other voters of the configuration.
func (t *Tracker) Peers(ids []string) { t.peers = append(t.peers[:0], ids...) }

// Heard records that the node heard from peer at now.
func (t *Tracker) Heard(now time.Time, peer string) { t.heard[peer] = now }

// PeerDown records the host's report that it is failing to reach peer;
// PeerUp that it reaches it again.
func (t *Tracker) PeerDown(peer string) { t.down[peer] = true }

// PeerUp: see PeerDown.
func (t *Tracker) PeerUp(peer string) { delete(t.down, peer) }

// seeTerm notes term as seen at now. A term above every term seen before
// is an election when the node stood in it (stood); a term it merely
// adopts is not. The first term ever reported is a baseline unless the
// node is known to have campaigned for it (campaign).
func (t *Tracker) seeTerm(now time.Time, term uint64, stood, campaign bool) {
	if t.haveTerm && term <= t.maxTerm {
		return
	}
	if campaign || (stood && t.haveTerm) {
		t.elections = append(t.elections, electionRec{at: now, term: term})
	}
	t.haveTerm, t.maxTerm = true, term
}

// leaderSeen marks the election of term successful.
func (t *Tracker) leaderSeen(term uint64) {
	if t.haveLed && term == t.ledTerm {
		return // every contact of a steady leader lands here
	}
	t.haveLed, t.ledTerm = true, term
	for i := len(t.elections) - 1; i >= 0; i-- {
		if t.elections[i].term == term {
			t.elections[i].leader = true
			return
		}
	}
}

// Sample returns what the node has observed as of now and starts a new
// tick. Identity (Node) and the host's own settings (cluster size,
// pre-vote, timeouts, disk sync) are the caller's to add.
func (t *Tracker) Sample(now time.Time) Sample {
	s := Sample{At: now}
	if t.haveStatus {
		s.Role, s.Term, s.Leader = t.role, t.term, t.leader
		s.Set(FieldRole | FieldTerm | FieldLeader | FieldElections | FieldLeaderStableFor)
		if t.leader != "" {
			s.LeaderStableFor = now.Sub(t.stableSince)
		}
	}
	switch {
	case t.role == RoleLeader:
		s.Set(FieldLastContact | FieldHeartbeatGap)
	case t.haveContact:
		s.LastContact = now.Sub(t.contact)
		s.HeartbeatGap = max(t.gapMax, s.LastContact)
		s.Set(FieldLastContact | FieldHeartbeatGap)
	}
	t.gapMax = 0

	keep := t.elections[:0]
	for _, e := range t.elections {
		if now.Sub(e.at) <= t.cfg.ElectionWindow {
			keep = append(keep, e)
			s.ElectionsInWindow++
			if !e.leader && t.timeout > 0 && now.Sub(e.at) > 2*t.timeout {
				s.FailedElectionsInWindow++
			}
		}
	}
	t.elections = keep

	if t.haveReplication {
		s.ReplicationGap = t.replication
		s.Set(FieldReplicationGap)
	}
	s.RPCRetries, s.RPCFailures = t.retries, t.failures
	s.Set((t.cfg.Counts | t.counted) & (FieldRPCRetries | FieldRPCFailures))
	t.retries, t.failures, t.counted = 0, 0, 0
	if t.haveCPU {
		s.CPUIdlePct = t.cpu
		s.Set(FieldCPUIdle)
		t.haveCPU = false
	}
	var ok bool
	if s.RTTMean, s.RTTStdDev, s.RTTP99, ok = t.rtt.stats(now); ok {
		s.Set(FieldRTT)
	}

	switch {
	case t.cfg.PeerHorizon > 0:
		for _, p := range t.peers {
			if at, ok := t.heard[p]; !ok || now.Sub(at) > t.cfg.PeerHorizon {
				s.UnreachableVoters++
			}
		}
		s.Set(FieldUnreachableVoters)
	case t.cfg.PeerReports && t.role == RoleLeader:
		s.UnreachableVoters = len(t.down)
		s.Set(FieldUnreachableVoters)
	}
	return s
}
