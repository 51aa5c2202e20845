package sim

import (
	"math"
	"slices"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// Governor bounds a proposal, as the policy layer does. The simulator
// declares only what it needs; policy.Governor satisfies it through a
// two-line adapter in the caller.
type Governor interface {
	Step(now time.Time, s collector.Sample, p model.Proposal) time.Duration
}

// Truth is what the simulator knows and a node does not, for training and
// evaluation: whether a live leader that can reach a majority is reachable
// from this node.
type Truth struct {
	LeaderAlive bool
}

// Options configure one run.
type Options struct {
	Seed uint64
	// Tick is the agent's sampling period. Default 100ms.
	Tick time.Duration
	// NewRecommender builds each node's recommender. Required unless
	// Oracle or FixedTimeout is set.
	NewRecommender func(node string) model.Recommender
	// NewGovernor, when set, bounds each node's proposals.
	NewGovernor func(node string) Governor
	// FixedTimeout runs every node at this base timeout (best-static's sweep).
	FixedTimeout time.Duration
	// Oracle runs the clairvoyant strategy: a follower times out one to two
	// heartbeat intervals after its leader is really gone, and never
	// otherwise. It is the lower bound no real strategy can beat.
	Oracle bool
	// Ceiling runs the oracle with two limits every real strategy has
	// (it implies Oracle): its leaders keep the run's lease and step down
	// as any leader would, and the follower it chooses times out no sooner
	// than one heartbeat interval after its last contact. It knows every
	// fault, never splits a vote and its elections take the least delay,
	// so over the seeds of a scenario where leaders fail (crashes,
	// partitions, pauses) no strategy whose timeouts are at least one
	// heartbeat interval does better (a single run may, by when its
	// leader's lease happens to expire; without failures the lease's
	// step-downs in long bursts are all there is, and they turn on where
	// a burst falls between a leader's heartbeats; where bursts come on
	// top of crashes that lottery can outweigh its lead over a few seeds,
	// though not over a suite): the share of the gap to the oracle it
	// leaves open is out of any timeout's reach (the lease's step-downs,
	// and the heartbeat's detection delay).
	Ceiling bool
	// InitialTimeout is every node's base timeout before the first
	// decision. Default 1s (hashicorp/raft's HeartbeatTimeout).
	InitialTimeout time.Duration
	// ClientRate is the client requests per second. Default: the
	// scenario's (Scenario.ClientRate).
	ClientRate float64
	// OnSample, when set, sees every sample with the simulator's truth.
	OnSample func(node string, s collector.Sample, truth Truth)
	// Timeline, when set, records each node's timeout and gap per tick and
	// every election, for plots.
	Timeline bool
	// Host, when set, overrides the scenario's host model (see HostKind).
	Host HostKind
}

// Metrics are the measured outcomes of one run (see DESIGN.md).
type Metrics struct {
	// UnavailableMS is the total time with no leader able to commit: from
	// the moment the leader crashes, is cut from a majority, pauses or
	// steps down, until a leader that reaches a majority has committed the
	// first entry of its term.
	UnavailableMS float64
	// Elections counts terms started by candidates (with pre-vote, only
	// pre-votes that succeeded start one).
	Elections int
	// UnnecessaryElections counts elections started while the last leader
	// was up (possibly paused, possibly stepped down on its own lease) and
	// could still reach a majority over the network: elections that a
	// better timeout would have avoided.
	UnnecessaryElections int
	// Detections are the times from a leader failure (crash, or a partition
	// cutting it from a majority) to the first follower timeout, in ms.
	Detections []float64
	// Commits are the latencies of client requests, arrival to commit, in
	// ms; a request that arrives with no leader waits for one.
	Commits []float64
}

// TimelinePoint is one node's state at one tick.
type TimelinePoint struct {
	At      time.Duration
	Node    int
	Timeout time.Duration
	Gap     time.Duration // the longest heartbeat gap since the last point; negative: not measured
}

// Result is a run's metrics and, when asked for, its timeline.
type Result struct {
	Scenario  string
	Metrics   Metrics
	Timeline  []TimelinePoint
	Elections []time.Duration // when each election started
	Faults    []time.Duration // leader crashes and partitions
}

type role uint8

const (
	follower role = iota
	preCandidate
	candidate
	leader
)

type node struct {
	id       int
	name     string
	up       bool
	paused   bool
	deferred []event
	slowdown float64
	// busy is the CPU share the machine spends on other work, drawn per
	// node and run: a real host's idle time says as much about its
	// neighbours as about Raft, and a model that saw only 100% idle
	// reads any busy machine as a stalling one.
	busy float64

	role     role
	term     uint64
	votedFor int
	leader   int
	grants   int

	T            time.Duration
	timerBase    time.Duration
	timerU       float64
	timerGen     uint64
	lastContact  time.Duration
	leaderCommit uint64

	lastIndex uint64
	// leader state
	hbGen     uint64
	match     []uint64
	lastAck   []time.Duration
	lastSent  []time.Duration
	noopIndex uint64
	ready     bool // the no-op of its term is committed

	// observation: what the node has seen, as a host's adapter would
	// feed it, and the retries of the tick not yet fed.
	obs        *collector.Tracker
	retries    int
	probeNext  int
	oracleGone bool
	resumeAt   time.Duration // while paused: when the pause ends
	nextPause  time.Duration // when its next pause starts (pausing nodes)

	rec model.Recommender
	gov Governor

	// host models (host.go)
	hostContact time.Duration // hashicorp/raft's LastContact: an append or a granted vote
	rejects     int           // pre-vote refusals this round (etcd)
	hbSeq       []uint64      // hashicorp/raft: per follower, the heartbeat loop's current step
	hbBusy      []bool        // … a heartbeat RPC awaits its answer
	hbNotify    []bool        // … a shorter timeout asked for the next heartbeat now
	hbFails     []uint64      // … failed RPCs in a row
	elapsed     int           // etcd: electionElapsed
	randomized  int           // … randomizedElectionTimeout
	hbElapsed   int           // … heartbeatElapsed
	checkAt     time.Duration // … the leader's last check-quorum
	tickGen     uint64        // … the tick loop's generation
}

type pending struct {
	arrival time.Duration
	index   uint64
	term    uint64
}

type simulation struct {
	s      *Scenario
	o      Options
	r      rngs
	q      queue
	seq    uint64
	now    time.Duration
	nodes  []*node
	net    *network
	fates  *fates
	quorum int
	// voters are the node IDs in ascending order, shared by every sample.
	voters []string
	epoch  time.Time

	waiting  []time.Duration // client requests waiting for a leader
	inflight []pending       // appended, not yet committed

	available   bool
	booted      bool          // a first leader has committed: bootstrap is over
	bootAt      time.Duration // when it did
	unavailFrom time.Duration
	detecting   bool
	failAt      time.Duration

	lastLeader *node
	lease      time.Duration

	host    HostKind
	hcLease time.Duration // hashicorp/raft's LeaderLeaseTimeout for the run
	etcdE   int           // etcd's election timeout in ticks

	m       Metrics
	res     Result
	scratch []uint64
}

const forever = time.Duration(math.MaxInt64 / 4)

// Run simulates one scenario.
func Run(s *Scenario, o Options) Result {
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.InitialTimeout <= 0 {
		o.InitialTimeout = time.Second
	}
	if o.ClientRate <= 0 {
		o.ClientRate = s.ClientRate
	}
	if o.ClientRate <= 0 {
		o.ClientRate = DefaultClientRate
	}
	if o.Ceiling {
		o.Oracle = true
	}
	sm := &simulation{s: s, o: o, r: newRNGs(o.Seed), net: newNetwork(s, o.Seed), fates: newFates(o.Seed, s.Nodes, s.Heartbeat),
		quorum: s.Nodes/2 + 1, epoch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	sm.res.Scenario = s.Name
	sm.lease = s.Lease()
	sm.host = hostFor(s, o)
	ids := s.NodeIDs()
	sm.voters = slices.Sorted(slices.Values(ids))
	for i := 0; i < s.Nodes; i++ {
		n := &node{id: i, name: ids[i], up: true, votedFor: -1, leader: -1, slowdown: s.Node(ids[i]).Slowdown,
			T: o.InitialTimeout, obs: newObserver(s),
			match: make([]uint64, s.Nodes), lastAck: make([]time.Duration, s.Nodes), lastSent: make([]time.Duration, s.Nodes),
			probeNext: (i + 1) % s.Nodes}
		n.busy = 70 * sm.r.load.Float64()
		if o.FixedTimeout > 0 {
			n.T = o.FixedTimeout
		}
		if o.NewRecommender != nil && o.FixedTimeout == 0 && !o.Oracle {
			n.rec = o.NewRecommender(ids[i])
		}
		if o.NewGovernor != nil {
			n.gov = o.NewGovernor(ids[i])
		}
		if sm.host == HostHashicorp {
			n.hbSeq, n.hbBusy, n.hbNotify, n.hbFails = make([]uint64, s.Nodes), make([]bool, s.Nodes), make([]bool, s.Nodes), make([]uint64, s.Nodes)
		}
		n.obs.Peers(slices.Delete(slices.Clone(ids), i, i+1))
		n.obs.Restart(sm.epoch)
		n.obs.Status(sm.epoch, collector.RoleFollower, 0, "")
		sm.nodes = append(sm.nodes, n)
	}
	sm.unavailFrom = 0
	if sm.host != HostGeneric {
		sm.hostStart()
	} else {
		for _, n := range sm.nodes {
			sm.resetTimer(n)
		}
	}
	sm.push(event{at: o.Tick, kind: evTick})
	sm.push(event{at: expDur(sm.r.client, time.Duration(float64(time.Second)/o.ClientRate)), kind: evClient})
	if c := s.Crash; c != nil {
		at := c.At
		if c.MeanInterval > 0 {
			at = expDur(sm.r.fault, c.MeanInterval)
		}
		sm.push(event{at: at, kind: evCrash})
	}
	if b := s.Network.Burst; b != nil {
		sm.push(event{at: expDur(sm.r.fault, b.MeanInterval), kind: evBurstStart})
	}
	for _, id := range ids {
		if ns := s.Node(id); ns.PauseEvery > 0 {
			i := idx(id)
			sm.nodes[i].nextPause = time.Duration(sm.r.fault.Float64() * float64(ns.PauseEvery))
			sm.push(event{at: sm.nodes[i].nextPause, kind: evPause, node: i})
		}
	}
	for i, p := range s.Partitions {
		sm.push(event{at: p.At, kind: evPartition, gen: uint64(i)})
		sm.push(event{at: p.At + p.Duration, kind: evHeal, gen: uint64(i)})
	}
	sm.push(event{at: s.Duration, kind: evEnd})
	if o.Oracle {
		sm.oracleUpdate()
	}

	for sm.q.len() > 0 {
		e := sm.q.pop()
		sm.now = e.at
		if e.kind == evEnd {
			break
		}
		sm.handle(e)
		sm.trackAvailability()
	}
	switch {
	case !sm.booted:
		// A cluster that never elected a leader able to commit was
		// unavailable all along: its bootstrap never ended.
		sm.m.UnavailableMS = ms(sm.now)
	case !sm.available:
		sm.m.UnavailableMS += ms(sm.now - sm.unavailFrom)
	}
	sm.res.Metrics = sm.m
	return sm.res
}

func idx(id string) int {
	n := 0
	for _, c := range id[1:] {
		n = n*10 + int(c-'0')
	}
	return n - 1
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (sm *simulation) push(e event) {
	sm.seq++
	e.seq = sm.seq
	sm.q.push(e)
}

// eventNode is the node an event acts on, or -1 for global events.
func eventNode(e event) int {
	switch e.kind {
	case evDeliver:
		return e.msg.to
	case evTimer, evHeartbeat, evLease, evRPCTimeout, evHostTick:
		return e.node
	}
	return -1
}

func (sm *simulation) handle(e event) {
	if ni := eventNode(e); ni >= 0 {
		n := sm.nodes[ni]
		if !n.up {
			return
		}
		if n.paused {
			if e.kind == evDeliver && e.msg.arrivedAt == 0 {
				e.msg.arrivedAt = e.at
			}
			n.deferred = append(n.deferred, e)
			return
		}
	}
	switch e.kind {
	case evDeliver:
		sm.deliver(e.msg)
	case evTimer:
		if sm.host == HostHashicorp {
			sm.hcTimer(sm.nodes[e.node], e.gen)
		} else {
			sm.timer(sm.nodes[e.node], e.gen)
		}
	case evHeartbeat:
		if sm.host == HostHashicorp {
			sm.hcHeartbeat(sm.nodes[e.node], e.peer, e.gen, e.beat)
		} else {
			sm.heartbeat(sm.nodes[e.node], e.gen)
		}
	case evLease:
		sm.hcLeaseCheck(sm.nodes[e.node], e.gen)
	case evRPCTimeout:
		sm.hcRPCFailed(sm.nodes[e.node], e.peer, e.gen, e.beat)
	case evHostTick:
		sm.etcdTick(sm.nodes[e.node], e.gen)
	case evTick:
		sm.tick()
		sm.push(event{at: sm.now + sm.o.Tick, kind: evTick})
	case evClient:
		sm.clientRequest()
		sm.push(event{at: sm.now + expDur(sm.r.client, time.Duration(float64(time.Second)/sm.o.ClientRate)), kind: evClient})
	case evCrash:
		sm.crash()
		if c := sm.s.Crash; c.MeanInterval > 0 {
			sm.push(event{at: sm.now + c.Downtime + expDur(sm.r.fault, c.MeanInterval), kind: evCrash})
		}
	case evRestart:
		sm.restart(sm.nodes[e.node])
	case evPause:
		n := sm.nodes[e.node]
		ns := sm.s.Node(n.name)
		if n.up && !n.paused {
			n.paused = true
			n.resumeAt = sm.now + ns.Pause
			sm.push(event{at: n.resumeAt, kind: evResume, node: e.node})
			if sm.o.Oracle {
				sm.oracleUpdate()
			}
		}
		sm.nodes[e.node].nextPause = sm.now + ns.PauseEvery
		sm.push(event{at: sm.nodes[e.node].nextPause, kind: evPause, node: e.node})
	case evResume:
		n := sm.nodes[e.node]
		if !n.paused {
			return
		}
		n.paused = false
		for _, d := range n.deferred {
			d.at = sm.now
			sm.push(d)
		}
		n.deferred = n.deferred[:0]
		if sm.o.Oracle {
			sm.oracleUpdate()
		}
	case evBurstStart:
		sm.net.inBurst = true
		sm.push(event{at: sm.now + expDur(sm.r.fault, sm.s.Network.Burst.MeanLength), kind: evBurstEnd})
	case evBurstEnd:
		sm.net.inBurst = false
		sm.push(event{at: sm.now + expDur(sm.r.fault, sm.s.Network.Burst.MeanInterval), kind: evBurstStart})
	case evPartition:
		sm.partition(int(e.gen), true)
	case evHeal:
		sm.partition(int(e.gen), false)
	}
}

// send puts a message on the network.
func (sm *simulation) send(m message) {
	m.sentAt = sm.now
	var d time.Duration
	var ok bool
	if sm.o.Oracle && sm.recoveryTraffic(m) {
		// The oracle's recovery (votes and the new leader's first
		// round) is never lost and takes the least delay any placement
		// of the nodes allows: no real strategy's election is faster.
		d, ok = sm.net.minDelay(m.from, m.to)
	} else {
		d, ok = sm.net.delay(sm.fates.of(m.from, m.to, m.kind, sm.now), m.from, m.to, sm.now)
		if !ok && sm.host == HostHashicorp && !sm.net.cut[m.from][m.to] {
			d, ok = sm.tcpDelay(m)
		}
	}
	if !ok {
		return
	}
	sm.push(event{at: sm.now + d, kind: evDeliver, msg: m})
}

func (sm *simulation) broadcast(n *node, m message) {
	for _, p := range sm.nodes {
		if p.id != n.id {
			m.from, m.to = n.id, p.id
			sm.send(m)
		}
	}
}

// deadline is when a node's election timer fires: T after the last reset,
// stretched by the random factor drawn at that reset (timers fire in
// [T, 2T)).
func (n *node) deadline() time.Duration {
	return n.timerBase + time.Duration(float64(n.T)*(1+n.timerU))
}

func (sm *simulation) resetTimer(n *node) {
	n.timerBase = sm.now
	n.timerU = sm.fates.of(n.id, n.id, drawTimer, sm.now).Float64()
	n.timerGen++
	sm.push(event{at: n.deadline(), kind: evTimer, node: n.id, gen: n.timerGen})
}

func (sm *simulation) timer(n *node, gen uint64) {
	if gen != n.timerGen || n.role == leader {
		return
	}
	if dl := n.deadline(); dl > sm.now {
		sm.push(event{at: dl, kind: evTimer, node: n.id, gen: gen})
		return
	}
	if sm.detecting {
		sm.m.Detections = append(sm.m.Detections, ms(sm.now-sm.failAt))
		sm.detecting = false
	}
	if sm.s.PreVote {
		n.role = preCandidate
		n.grants = 1
		sm.resetTimer(n)
		sm.broadcast(n, message{kind: msgPreVote, term: n.term + 1, index: n.lastIndex})
		return
	}
	sm.startElection(n)
}

func (sm *simulation) startElection(n *node) {
	n.term++
	n.role = candidate
	n.votedFor = n.id
	n.leader = -1
	n.grants = 1
	sm.m.Elections++
	if sm.o.Timeline {
		sm.res.Elections = append(sm.res.Elections, sm.now)
	}
	// Necessary only if the last leader crashed or was cut from a
	// majority; a leader that stepped down because its own lease was too
	// short for the network still counts as live.
	if l := sm.lastLeader; l != nil && l.up && sm.reachesMajority(l) {
		sm.m.UnnecessaryElections++
	}
	n.obs.Campaign(sm.wall(), n.term)
	if sm.host == HostGeneric {
		sm.resetTimer(n)
	} else {
		sm.hostCandidate(n)
	}
	sm.broadcast(n, message{kind: msgVote, term: n.term, index: n.lastIndex})
}

func (sm *simulation) stepDown(n *node, term uint64) {
	was, wasLeader, ledTerm := n.role, n.role == leader, n.term
	if term > n.term {
		n.term = term
		n.votedFor = -1
	}
	n.role = follower
	n.leader = -1
	if sm.host != HostGeneric {
		sm.hostStepDown(n, was, n.term != ledTerm)
	}
	if wasLeader {
		n.hbGen++
		n.ready = false
		sm.leaderGone(ledTerm)
		if sm.host == HostGeneric {
			sm.resetTimer(n)
		}
		if sm.o.Oracle {
			sm.oracleUpdate()
		}
	}
}

// rtt is the round trip a reply m closes, from its request's sending to
// its arrival: a reply that reached this node while it was paused is
// timed when it arrived, as the sidecar's prober (not paused with the
// Raft process) and the kernel's receive timestamp see it, not when the
// node resumed and handled it.
func (sm *simulation) rtt(m message) time.Duration {
	if m.arrivedAt != 0 {
		return m.arrivedAt - m.echoSent
	}
	return sm.now - m.echoSent
}

// held is how long a paused receiver held m before handling it. A reply
// carries it, as an NTP-style echo carries the responder's hold time, so
// the sender's round trip measures the network and not the peer's pause:
// an RTT floor fed by pause-inflated probes would hold every timeout up.
func (sm *simulation) held(m message) time.Duration {
	if m.arrivedAt == 0 {
		return 0
	}
	return sm.now - m.arrivedAt
}

// newObserver is a node's tracker: what it has seen, as a host's adapter
// would report it.
func newObserver(s *Scenario) *collector.Tracker {
	return collector.NewTracker(collector.TrackerConfig{PeerHorizon: max(2*time.Second, 4*s.Heartbeat),
		ElectionWindow: s.ElectionWindow, CampaignEvents: true, Counts: collector.FieldRPCRetries})
}

// seen records that n heard from peer p now.
func (sm *simulation) seen(n *node, p int) { n.obs.Heard(sm.wall(), sm.nodes[p].name) }

// wall is the simulated time as the nodes' clocks read it.
func (sm *simulation) wall() time.Time { return sm.epoch.Add(sm.now) }

func (sm *simulation) deliver(m message) {
	n := sm.nodes[m.to]
	sm.seen(n, m.from)
	switch m.kind {
	case msgProbe:
		sm.send(message{kind: msgProbeResp, from: n.id, to: m.from, echoSent: m.sentAt, held: sm.held(m)})
	case msgProbeResp:
		n.obs.RTT(sm.wall(), sm.rtt(m), m.held)
	case msgAppend:
		if m.term < n.term {
			sm.send(message{kind: msgAppendResp, from: n.id, to: m.from, term: n.term, echoSent: m.sentAt, hb: m.hb, seq: m.seq})
			return
		}
		if sm.o.Oracle && n.oracleGone && m.term == n.term {
			// The oracle knows this leader is gone: what it sent before
			// it went is disregarded (it can commit nothing more), so it
			// neither restarts a timer, ends a campaign nor makes one log
			// longer than another.
			return
		}
		if m.term > n.term || n.role != follower {
			sm.stepDown(n, m.term)
		}
		if n.leader != m.from {
			n.leader = m.from
			sm.noteLeader(n)
		}
		n.obs.Contact(sm.wall(), sm.nodes[m.from].name, m.term)
		n.lastContact = sm.now
		n.lastIndex = m.index
		n.leaderCommit = m.commit
		sm.contact(n)
		if sm.o.Oracle && n.oracleGone {
			// Its log changed while no leader serves: the oracle's choice
			// of candidate may change with it.
			sm.oracleUpdate()
		}
		sm.send(message{kind: msgAppendResp, from: n.id, to: m.from, term: n.term, index: n.lastIndex, echoSent: m.sentAt, held: sm.held(m), hb: m.hb, seq: m.seq})
	case msgAppendResp:
		if m.term > n.term {
			sm.stepDown(n, m.term)
			return
		}
		if n.role != leader || m.term != n.term {
			return
		}
		n.lastAck[m.from] = sm.now
		if m.hb {
			sm.hcAnswered(n, m.from, m.seq)
		}
		n.obs.RTT(sm.wall(), sm.rtt(m), m.held)
		if m.index > n.match[m.from] {
			n.match[m.from] = m.index
			sm.advanceCommit(n)
		}
	case msgPreVote:
		if answer, grant := sm.preVoteAnswer(n, m); answer {
			sm.send(message{kind: msgPreVoteResp, from: n.id, to: m.from, term: m.term, granted: grant})
		}
	case msgPreVoteResp:
		if n.role != preCandidate || m.term != n.term+1 {
			return
		}
		if !m.granted {
			sm.preVoteRefused(n)
			return
		}
		if n.grants++; n.grants >= sm.quorum {
			sm.startElection(n)
		}
	case msgVote:
		if m.term < n.term {
			sm.send(message{kind: msgVoteResp, from: n.id, to: m.from, term: n.term})
			return
		}
		// Leader stickiness (hashicorp/raft): a node that has a leader it
		// heard from recently ignores other candidates, without adopting
		// their term.
		if refused, answer := sm.voteRefused(n, m); refused {
			if answer {
				sm.send(message{kind: msgVoteResp, from: n.id, to: m.from, term: n.term})
			}
			return
		}
		if m.term > n.term {
			sm.stepDown(n, m.term)
		}
		grant := sm.mayVote(n, m) && m.index >= n.lastIndex
		if grant {
			n.votedFor = m.from
			sm.voteGranted(n)
		}
		sm.send(message{kind: msgVoteResp, from: n.id, to: m.from, term: n.term, granted: grant})
	case msgVoteResp:
		if m.term > n.term {
			sm.stepDown(n, m.term)
			return
		}
		if n.role != candidate || m.term != n.term || !m.granted {
			return
		}
		if n.grants++; n.grants >= sm.quorum {
			sm.becomeLeader(n)
		}
	}
}

// recentLeader reports whether n heard from a leader within its own timeout
// (pre-vote refusal and leader stickiness). The oracle's voters know
// whether their leader is really gone.
func (sm *simulation) recentLeader(n *node) bool {
	if sm.o.Oracle {
		return n.leader >= 0 && !n.oracleGone
	}
	return n.leader >= 0 && sm.now-n.lastContact < n.T
}

func (sm *simulation) noteLeader(n *node) { n.obs.Elected(sm.wall(), n.term) }

func (sm *simulation) becomeLeader(n *node) {
	sm.lastLeader = n
	n.role = leader
	n.leader = n.id
	sm.noteLeader(n)
	for i := range n.match {
		n.match[i] = 0
		n.lastAck[i] = sm.now
		n.lastSent[i] = sm.now
	}
	n.lastIndex++ // the no-op entry of the new term
	n.noopIndex = n.lastIndex
	n.ready = false
	n.match[n.id] = n.lastIndex
	// Clients send what waited for a leader, and what an earlier leader
	// took but never committed, to the new one.
	sm.requeue(func(p pending) bool { return p.term != n.term })
	n.hbGen++
	if sm.host == HostGeneric {
		sm.heartbeat(n, n.hbGen)
	} else {
		sm.hostLead(n)
	}
	if sm.o.Oracle {
		sm.oracleUpdate()
	}
}

func (sm *simulation) heartbeat(n *node, gen uint64) {
	if n.role != leader || gen != n.hbGen {
		return
	}
	// Check quorum: a leader that has not heard from a majority within its
	// timeout steps down (hashicorp/raft's lease check, etcd's CheckQuorum).
	// The lease is a property of the host, not of the recommender: it is
	// fixed for a run (hashicorp/raft's LeaderLeaseTimeout cannot be
	// reloaded), so a strategy's short timeout cannot make its leaders
	// step down. The oracle's leader never steps down on its own; the
	// ceiling's does, as every real strategy's.
	lease := sm.lease
	if sm.o.Oracle && !sm.o.Ceiling {
		lease = forever
	}
	acked := 1
	for i := range sm.nodes {
		if i != n.id && sm.now-n.lastAck[i] <= lease {
			acked++
		}
		if i != n.id && n.lastAck[i] < n.lastSent[i] {
			n.retries++
		}
	}
	if acked < sm.quorum {
		sm.stepDown(n, n.term)
		return
	}
	for i := range sm.nodes {
		if i != n.id {
			n.lastSent[i] = sm.now
		}
	}
	sm.broadcast(n, message{kind: msgAppend, term: n.term, index: n.lastIndex, commit: n.match[n.id]})
	sm.push(event{at: sm.now + sm.s.Heartbeat, kind: evHeartbeat, node: n.id, gen: gen})
}

func (sm *simulation) advanceCommit(n *node) {
	idxs := append(sm.scratch[:0], n.match...)
	sm.scratch = idxs
	idxs[n.id] = n.lastIndex
	slices.Sort(idxs)
	commit := idxs[len(idxs)-sm.quorum]
	if commit >= n.noopIndex && !n.ready {
		n.ready = true
		if sm.o.Oracle {
			sm.oracleUpdate()
		}
		if !sm.booted {
			// Mark the end of the bootstrap now, before the requests
			// that waited for it are counted below.
			sm.trackAvailability()
		}
	}
	kept := sm.inflight[:0]
	for _, p := range sm.inflight {
		if p.term == n.term && p.index <= commit {
			if p.arrival >= sm.bootAt {
				// Requests that waited for the first leader measure the
				// bootstrap, not the steady stream.
				sm.m.Commits = append(sm.m.Commits, ms(sm.now-p.arrival))
			}
			continue
		}
		kept = append(kept, p)
	}
	sm.inflight = kept
}

// requeue takes the in-flight requests that stale reports true for back
// from their leader, and hands them with every waiting request to the
// current leader, if there is one, in arrival order; otherwise they wait
// for the next. A client retries a request whose leader is gone, and a
// request that arrives with no leader waits for one.
func (sm *simulation) requeue(stale func(pending) bool) {
	kept := sm.inflight[:0]
	for _, p := range sm.inflight {
		if stale(p) {
			sm.waiting = append(sm.waiting, p.arrival)
			continue
		}
		kept = append(kept, p)
	}
	sm.inflight = kept
	l := sm.currentLeader()
	if l == nil || len(sm.waiting) == 0 {
		return
	}
	slices.Sort(sm.waiting)
	for _, a := range sm.waiting {
		sm.take(l, a)
	}
	sm.waiting = sm.waiting[:0]
}

// take appends a client request that arrived at arrival to leader l's log.
func (sm *simulation) take(l *node, arrival time.Duration) {
	l.lastIndex++
	l.match[l.id] = l.lastIndex
	sm.inflight = append(sm.inflight, pending{arrival: arrival, index: l.lastIndex, term: l.term})
}

// leaderGone requeues the requests leader term took but did not commit.
func (sm *simulation) leaderGone(term uint64) {
	sm.requeue(func(p pending) bool { return p.term == term })
}

// currentLeader is the up node claiming leadership in the highest term.
func (sm *simulation) currentLeader() *node {
	var best *node
	for _, n := range sm.nodes {
		if n.up && n.role == leader && (best == nil || n.term > best.term) {
			best = n
		}
	}
	return best
}

func (sm *simulation) reachesMajority(l *node) bool {
	c := 0
	for _, p := range sm.nodes {
		if p.up && sm.net.reachable(l.id, p.id) {
			c++
		}
	}
	return c >= sm.quorum
}

func (sm *simulation) trackAvailability() {
	l := sm.currentLeader()
	ok := l != nil && !l.paused && l.ready && sm.reachesMajority(l)
	if ok == sm.available {
		return
	}
	switch {
	case ok && !sm.booted:
		// Bootstrap is no failure: unavailability counts from the first
		// loss of a leader that had committed (DESIGN.md), like the live
		// benchmark, whose client starts once the cluster is up.
		sm.booted, sm.bootAt = true, sm.now
	case ok:
		sm.m.UnavailableMS += ms(sm.now - sm.unavailFrom)
	default:
		sm.unavailFrom = sm.now
	}
	sm.available = ok
}

func (sm *simulation) clientRequest() {
	l := sm.currentLeader()
	if l == nil {
		sm.waiting = append(sm.waiting, sm.now)
		return
	}
	sm.take(l, sm.now)
	if l.paused {
		return // replicated with the next heartbeat after the pause
	}
	for i := range sm.nodes {
		if i != l.id {
			l.lastSent[i] = sm.now
		}
	}
	sm.broadcast(l, message{kind: msgAppend, term: l.term, index: l.lastIndex, commit: l.match[l.id]})
}

func (sm *simulation) fail() {
	sm.detecting = true
	sm.failAt = sm.now
	if sm.o.Timeline {
		sm.res.Faults = append(sm.res.Faults, sm.now)
	}
}

func (sm *simulation) crash() {
	l := sm.currentLeader()
	if l == nil {
		return
	}
	l.up = false
	l.paused = false
	l.deferred = l.deferred[:0]
	l.role = follower
	l.leader = -1
	l.hbGen++
	l.ready = false
	sm.leaderGone(l.term)
	sm.fail()
	sm.push(event{at: sm.now + sm.s.Crash.Downtime, kind: evRestart, node: l.id})
	if sm.o.Oracle {
		sm.oracleUpdate()
	}
}

func (sm *simulation) restart(n *node) {
	n.up = true
	n.role = follower
	n.leader = -1
	n.lastContact = sm.now
	n.obs.Restart(sm.wall())
	if sm.host == HostGeneric {
		sm.resetTimer(n)
	} else {
		sm.hostFollower(n)
		if sm.host == HostEtcd {
			sm.etcdStartTicks(n)
		}
	}
	if sm.o.Oracle {
		sm.oracleUpdate()
	}
}

func (sm *simulation) partition(i int, start bool) {
	iso := map[int]bool{}
	for _, id := range sm.s.Partitions[i].Isolate {
		iso[idx(id)] = true
	}
	l := sm.currentLeader()
	before := l != nil && sm.reachesMajority(l)
	for a := range sm.nodes {
		for b := range sm.nodes {
			if iso[a] != iso[b] {
				sm.net.cut[a][b] = start
			}
		}
	}
	if start && before && !sm.reachesMajority(l) {
		sm.fail()
	}
	if sm.o.Oracle {
		sm.oracleUpdate()
	}
}

// leaderAliveFor reports the truth for node n: a leader that is up and
// reaches a majority is reachable from n.
func (sm *simulation) leaderAliveFor(n *node) bool {
	l := sm.currentLeader()
	return l != nil && sm.reachesMajority(l) && sm.net.reachable(l.id, n.id)
}

// tick samples every running node, asks its recommender and applies the
// (bounded) proposal.
func (sm *simulation) tick() {
	for _, n := range sm.nodes {
		if !n.up || n.paused {
			continue
		}
		s := sm.sample(n)
		if sm.o.OnSample != nil {
			sm.o.OnSample(n.name, s, Truth{LeaderAlive: sm.leaderAliveFor(n)})
		}
		if sm.o.Timeline {
			sm.res.Timeline = append(sm.res.Timeline, TimelinePoint{At: sm.now, Node: n.id, Timeout: n.T, Gap: s.HeartbeatGap})
		}
		// Probe one peer per tick for round-trip times, as the live
		// collector's RTT prober does.
		p := n.probeNext
		n.probeNext = (n.probeNext + 1) % len(sm.nodes)
		if p == n.id {
			p = n.probeNext
			n.probeNext = (n.probeNext + 1) % len(sm.nodes)
		}
		sm.send(message{kind: msgProbe, from: n.id, to: p})
		if n.rec == nil {
			continue
		}
		n.rec.Observe(s)
		prop := n.rec.Propose()
		t := prop.Timeout
		if n.gov != nil {
			t = n.gov.Step(s.At, s, prop)
		}
		if t < time.Millisecond {
			t = time.Millisecond
		}
		sm.apply(n, t)
	}
}

// apply changes a node's base timeout; like hashicorp/raft's ReloadConfig,
// a shorter value takes effect on the running timer at once.
func (sm *simulation) apply(n *node, t time.Duration) {
	if sm.host != HostGeneric {
		sm.hostApply(n, t)
		return
	}
	old := n.T
	n.T = t
	if t < old && n.role != leader {
		n.timerGen++
		dl := n.deadline()
		if dl < sm.now {
			dl = sm.now
		}
		sm.push(event{at: dl, kind: evTimer, node: n.id, gen: n.timerGen})
	}
}

func (sm *simulation) sample(n *node) collector.Sample {
	now := sm.wall()
	role := collector.RoleFollower
	switch n.role {
	case leader:
		role = collector.RoleLeader
	case candidate, preCandidate:
		role = collector.RoleCandidate
	}
	var lead string
	if n.leader >= 0 {
		lead = sm.nodes[n.leader].name
	}
	n.obs.Status(now, role, n.term, lead)
	n.obs.Timeout(n.T)
	if n.role == leader {
		n.obs.Replication(n.lastIndex, n.lastIndex)
	} else {
		n.obs.Replication(n.leaderCommit, n.lastIndex)
	}
	n.obs.Retry(now, n.retries)
	n.retries = 0
	// Idle time: what the machine's other work leaves (a per-node share
	// and ±10 points of noise per tick), shared again by a slowed node.
	noisyPct, noisySlow := sm.net.busy(n.id, sm.now)
	idle := 100 - n.busy - noisyPct + 20*(sm.r.load.Float64()-0.5)
	n.obs.CPUIdle(min(100, max(0, idle)) / (n.slowdown * noisySlow))
	s := n.obs.Sample(now)
	s.Node, s.ClusterSize, s.PreVote = n.name, len(sm.nodes), sm.s.PreVote
	s.HeartbeatTimeout, s.ElectionTimeout, s.HeartbeatInterval, s.LeaderLeaseTimeout = sm.hostTimeouts(n)
	// Voters ignore a candidate for their own timeout after hearing from
	// the leader under the generic rules (recentLeader) and etcd's
	// (etcdInLease); hashicorp/raft's for as long as they know a leader.
	s.Voters, s.VoteLease = sm.voters, sm.host != HostHashicorp
	s.Set(collector.FieldClusterSize | collector.FieldPreVote | collector.FieldHostTimeouts | collector.FieldVoters)
	return s
}
