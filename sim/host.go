package sim

import (
	"fmt"
	"strings"
	"time"
)

// HostKind names whose timing rules a run plays: the Raft implementation
// beside which the recommenders' decisions take effect.
type HostKind string

const (
	// HostGeneric is the textbook model every published table uses: a
	// follower's timer is reset by each contact and fires in [T, 2T)
	// after it, the leader heartbeats every scenario heartbeat, and
	// steps down when it has heard from no majority within the scenario's
	// Lease (ten heartbeats).
	HostGeneric HostKind = "generic"
	// HostHashicorp plays hashicorp/raft v1.8 (raft.go, replication.go):
	//   - a follower's timer fires every randomTimeout(T), a fresh draw in
	//     [T, 2T) that contact does not reset; when it fires the follower
	//     campaigns only if it has had no contact for T, and forgets its
	//     leader when it does;
	//   - a candidate's round lasts randomTimeout(ElectionTimeout), and the
	//     agent sets ElectionTimeout to T as well;
	//   - pre-vote and vote are refused by any node that knows a leader
	//     other than the candidate (so until its own timer has fired);
	//   - the leader heartbeats each follower in its own loop: the next
	//     heartbeat only after the last was answered, after a wait drawn
	//     in [T/10, T/5) of its own T; a failed RPC (the transport's 2s
	//     timeout) backs off 10ms, doubling after the third failure;
	//   - the leader checks its lease LeaderLease after it took office,
	//     then every LeaderLease less the oldest contact (at least 10ms),
	//     and steps down when it has heard from no majority within it; the
	//     lease is fixed at start and ReloadConfig refuses any T below it;
	//   - a shorter T wakes the running timers at once: a follower checks
	//     its contact now, a candidate draws a new round, a leader sends
	//     every waiting heartbeat now;
	//   - messages travel on TCP: a lost segment is retransmitted after
	//     Linux's 200ms minimum RTO (doubling), so loss delays and never
	//     drops; only a cut link loses a message.
	HostHashicorp HostKind = "hashicorp"
	// HostEtcd plays go.etcd.io/raft v3.6 (raft.go) driven by a tick
	// driver, as adapter/etcd's TickDriver does: each node ticks every
	// T/ElectionTicks of its own T, at least every 5ms;
	//   - a follower campaigns after randomizedElectionTimeout ticks
	//     without a leader's message, a value in [E, 2E) ticks drawn when
	//     the node becomes follower, candidate or leader, not at each
	//     contact;
	//   - check-quorum: every E ticks the leader steps down unless it
	//     heard from a majority since the last check;
	//   - a node that heard from a leader within E ticks ignores pre-votes
	//     and votes for a higher term (no answer at all); a pre-candidate
	//     refused by a majority goes back to follower;
	//   - the leader sends heartbeats every tick (HeartbeatTick 1), without
	//     waiting for answers.
	HostEtcd HostKind = "etcd"
)

// HostKinds lists the host models, default first.
func HostKinds() []HostKind { return []HostKind{HostGeneric, HostHashicorp, HostEtcd} }

// ParseHostKind reads a host model name; "" is generic.
func ParseHostKind(s string) (HostKind, error) {
	if s == "" {
		return HostGeneric, nil
	}
	for _, k := range HostKinds() {
		if string(k) == s {
			return k, nil
		}
	}
	var names []string
	for _, k := range HostKinds() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown host %q: have %s", s, strings.Join(names, ", "))
}

// WithHost returns copies of scs that play host ("" leaves them as they
// are): how a whole suite runs under one host model.
func WithHost(scs []*Scenario, host HostKind) []*Scenario {
	if host == "" {
		return scs
	}
	out := make([]*Scenario, len(scs))
	for i, s := range scs {
		c := *s
		c.Host = host
		out[i] = &c
	}
	return out
}

// Host model constants, as hashicorp/raft, the reference cluster and etcd
// have them.
const (
	// DefaultLeaderLease is the LeaderLeaseTimeout of a scenario that
	// names none: short, so that an agent may lower HeartbeatTimeout down
	// to it (the reference cluster's nodes under agents start with the
	// lease the agent recommends for their network, refcluster.AgentTiming).
	DefaultLeaderLease = 100 * time.Millisecond
	// DefaultElectionTicks is etcd's default election timeout in ticks
	// (1000ms at its 100ms heartbeat interval).
	DefaultElectionTicks = 10

	hcMinTimeout    = 5 * time.Millisecond   // ValidateConfig's floor
	hcRPCTimeout    = 2 * time.Second        // the reference cluster's transport timeout
	hcFailureWait   = 10 * time.Millisecond  // replication.go's failureWait
	hcMaxFailure    = 12                     // … and maxFailureScale
	hcMinLeaseCheck = 10 * time.Millisecond  // raft.go's minCheckInterval
	tcpMinRTO       = 200 * time.Millisecond // Linux's TCP_RTO_MIN
	tcpMaxRetries   = 6
	etcdHeartbeatTk = 1 // etcd's HeartbeatTick
	// etcdMinTick is the tick driver's base period, the shortest it
	// ticks at (adapter/etcd.TickConfig.Base): with 10 election ticks, a
	// timeout of 50ms, the default policy's election_min.
	etcdMinTick = 5 * time.Millisecond
)

// hostFor is the host model of a run: the options', else the scenario's.
// The oracle plays the generic model under every host: its detection is
// clairvoyant and its recovery rounds lossless and of least delay, which
// no host's timing rule can beat.
func hostFor(s *Scenario, o Options) HostKind {
	switch {
	case o.Oracle:
		return HostGeneric
	case o.Host != "":
		return o.Host
	case s.Host != "":
		return s.Host
	}
	return HostGeneric
}

// hostStart arms every node's timers at the start of a run.
func (sm *simulation) hostStart() {
	switch sm.host {
	case HostHashicorp:
		// ValidateConfig refuses a lease above HeartbeatTimeout at start;
		// like refcluster's defaults, the lease shrinks to fit.
		sm.hcLease = sm.s.LeaderLease
		if sm.hcLease <= 0 {
			sm.hcLease = DefaultLeaderLease
		}
		sm.hcLease = max(hcMinTimeout, min(sm.hcLease, sm.nodes[0].T))
	case HostEtcd:
		sm.etcdE = sm.s.ElectionTicks
		if sm.etcdE <= 0 {
			sm.etcdE = DefaultElectionTicks
		}
	}
	for _, n := range sm.nodes {
		sm.hostFollower(n)
		if sm.host == HostEtcd {
			sm.etcdStartTicks(n)
		}
	}
}

// hostFollower is what a node does on becoming follower (at start, on
// restart, on stepping down): hashicorp/raft's runFollower arms a fresh
// timer; etcd's becomeFollower resets the elapsed ticks and draws a new
// randomized timeout.
func (sm *simulation) hostFollower(n *node) {
	switch sm.host {
	case HostHashicorp:
		n.hostContact = sm.now
		sm.hcArm(n)
	case HostEtcd:
		sm.etcdReset(n)
	}
}

// contact is a follower's reaction to an append of its current leader.
func (sm *simulation) contact(n *node) {
	switch sm.host {
	case HostHashicorp:
		n.hostContact = sm.now
	case HostEtcd:
		n.elapsed = 0
	default:
		sm.resetTimer(n)
	}
}

// voteGranted is a voter's reaction to granting a vote: hashicorp/raft
// counts it as contact, etcd restarts its election ticks.
func (sm *simulation) voteGranted(n *node) {
	switch sm.host {
	case HostHashicorp:
		n.hostContact = sm.now
	case HostEtcd:
		n.elapsed = 0
	default:
		sm.resetTimer(n)
	}
}

// hostStepDown handles the timers of a node that becomes follower from
// another role, or (etcd) adopts a higher term.
func (sm *simulation) hostStepDown(n *node, was role, termChanged bool) {
	switch {
	case sm.host == HostHashicorp && was != follower:
		sm.hostFollower(n)
	case sm.host == HostEtcd && (was != follower || termChanged):
		sm.hostFollower(n)
	}
}

// hostCandidate arms a new candidate's round (startElection).
func (sm *simulation) hostCandidate(n *node) {
	switch sm.host {
	case HostHashicorp:
		sm.hcArm(n)
	case HostEtcd:
		sm.etcdReset(n)
	}
}

// timedOut records the first follower timeout after a failure.
func (sm *simulation) timedOut() {
	if sm.detecting {
		sm.m.Detections = append(sm.m.Detections, ms(sm.now-sm.failAt))
		sm.detecting = false
	}
}

// campaign starts a pre-vote round, or an election without pre-vote.
func (sm *simulation) campaign(n *node) {
	sm.timedOut()
	if !sm.s.PreVote {
		sm.startElection(n)
		return
	}
	n.role = preCandidate
	n.leader = -1
	n.grants, n.rejects = 1, 0
	if sm.host == HostHashicorp {
		sm.hcArm(n) // runCandidate's election timer
	}
	sm.broadcast(n, message{kind: msgPreVote, term: n.term + 1, index: n.lastIndex})
}

// preVoteAnswer is whether n answers a pre-vote request, and how.
func (sm *simulation) preVoteAnswer(n *node, m message) (answer, grant bool) {
	switch sm.host {
	case HostHashicorp:
		// requestPreVote: refused while n knows a leader other than the
		// candidate (a leader knows itself), or for an older term.
		if n.leader >= 0 && n.leader != m.from {
			return true, false
		}
		return true, m.term >= n.term && m.index >= n.lastIndex
	case HostEtcd:
		if m.term > n.term && sm.etcdInLease(n) {
			return false, false
		}
		return true, m.term > n.term && m.index >= n.lastIndex
	}
	recent := n.role == leader || sm.recentLeader(n)
	return true, m.term > n.term && m.index >= n.lastIndex && !recent
}

// voteRefused reports whether n refuses a vote request before looking at
// its term (leader stickiness), and whether it answers that refusal.
func (sm *simulation) voteRefused(n *node, m message) (refused, answer bool) {
	switch sm.host {
	case HostHashicorp:
		return n.leader >= 0 && n.leader != m.from, true
	case HostEtcd:
		if m.term > n.term && sm.etcdInLease(n) {
			return true, false
		}
		return false, true
	}
	return n.role == leader || (n.leader != m.from && sm.recentLeader(n)), true
}

// mayVote is whether n, at the candidate's term, may give it its vote.
func (sm *simulation) mayVote(n *node, m message) bool {
	if sm.host == HostEtcd {
		// etcd: a repeat of its vote, or no vote and no leader this term.
		return n.votedFor == m.from || (n.votedFor == -1 && n.leader == -1)
	}
	return n.votedFor == -1 || n.votedFor == m.from
}

// preVoteRefused counts a refusal; etcd's pre-candidate refused by a
// majority goes back to follower.
func (sm *simulation) preVoteRefused(n *node) {
	if sm.host != HostEtcd {
		return
	}
	if n.rejects++; n.rejects >= sm.quorum {
		sm.stepDown(n, n.term)
	}
}

// hostLead starts a new leader's heartbeats and lease checks.
func (sm *simulation) hostLead(n *node) {
	// Both hosts replicate the term's first entry at once.
	sm.appendAll(n)
	switch sm.host {
	case HostHashicorp:
		for i := range sm.nodes {
			n.hbSeq[i], n.hbBusy[i], n.hbNotify[i], n.hbFails[i] = 0, false, false, 0
			if i != n.id {
				sm.hcWait(n, i, false)
			}
		}
		sm.push(event{at: sm.now + sm.hcLease, kind: evLease, node: n.id, gen: n.hbGen})
	case HostEtcd:
		sm.etcdReset(n)
		n.hbElapsed, n.checkAt = 0, sm.now
	}
}

// appendAll sends the leader's log to every follower.
func (sm *simulation) appendAll(n *node) {
	for i := range sm.nodes {
		if i != n.id {
			n.lastSent[i] = sm.now
		}
	}
	sm.broadcast(n, message{kind: msgAppend, term: n.term, index: n.lastIndex, commit: n.match[n.id]})
}

// hostApply puts a decided base timeout into force under a host model.
func (sm *simulation) hostApply(n *node, t time.Duration) {
	if sm.host == HostEtcd {
		// The tick driver's period; it takes effect from the next tick.
		n.T = t
		return
	}
	// hashicorp/raft's ReloadConfig: ValidateConfig refuses a value under
	// 5ms or under the lease, and the value in force stays.
	if t < hcMinTimeout || t < sm.hcLease {
		return
	}
	old := n.T
	n.T = t
	if t >= old {
		return
	}
	switch n.role {
	case follower:
		n.timerGen++
		sm.push(event{at: sm.now, kind: evTimer, node: n.id, gen: n.timerGen})
	case preCandidate, candidate:
		sm.hcArm(n)
	case leader:
		for i := range sm.nodes {
			if i == n.id {
				continue
			}
			if n.hbBusy[i] {
				n.hbNotify[i] = true
			} else {
				sm.hcWait(n, i, true)
			}
		}
	}
}

// hostTimeouts are the host's timeouts in force at n, as its adapter
// reports them in a sample: heartbeat timeout, election timeout,
// heartbeat interval and (hashicorp/raft) the leader lease.
func (sm *simulation) hostTimeouts(n *node) (hbTimeout, election, interval, lease time.Duration) {
	switch sm.host {
	case HostHashicorp:
		return n.T, n.T, n.T / 10, sm.hcLease
	case HostEtcd:
		return n.T, n.T, etcdHeartbeatTk * sm.etcdPeriod(n), 0
	}
	return n.T, n.T, sm.s.Heartbeat, 0
}

// --- hashicorp/raft ---

// hcArm starts n's timer: randomTimeout(T), a fresh draw in [T, 2T).
func (sm *simulation) hcArm(n *node) {
	n.timerGen++
	d := n.T + time.Duration(sm.fates.of(n.id, n.id, drawTimer, sm.now).Float64()*float64(n.T))
	sm.push(event{at: sm.now + d, kind: evTimer, node: n.id, gen: n.timerGen})
}

// hcTimer is runFollower's heartbeat timer and runCandidate's election
// timer firing.
func (sm *simulation) hcTimer(n *node, gen uint64) {
	if gen != n.timerGen || n.role == leader {
		return
	}
	if n.role == follower {
		sm.hcArm(n)
		if sm.now-n.hostContact < n.T {
			return
		}
	}
	sm.campaign(n)
}

// hcWait schedules the heartbeat to peer p after the loop's wait, drawn in
// [T/10, T/5) of the leader's own T; now when notified.
func (sm *simulation) hcWait(n *node, p int, now bool) {
	var d time.Duration
	if !now {
		d = sm.hcLoopWait(n, p)
	}
	n.hbSeq[p]++
	sm.push(event{at: sm.now + d, kind: evHeartbeat, node: n.id, peer: p, gen: n.hbGen, beat: n.hbSeq[p]})
}

// hcLoopWait is the heartbeat loop's wait before peer p's next heartbeat,
// drawn in [T/10, T/5) of the leader's own T.
func (sm *simulation) hcLoopWait(n *node, p int) time.Duration {
	return n.T/10 + time.Duration(sm.fates.of(n.id, p, drawHostWait, sm.now).Float64()*float64(n.T/10))
}

// hcHeartbeat sends peer p its heartbeat and waits for the answer (or the
// transport's timeout).
func (sm *simulation) hcHeartbeat(n *node, p int, gen, seq uint64) {
	if n.role != leader || gen != n.hbGen || seq != n.hbSeq[p] || n.hbBusy[p] {
		return
	}
	n.hbBusy[p], n.hbNotify[p] = true, false
	n.hbSeq[p]++
	n.lastSent[p] = sm.now
	sm.send(message{kind: msgAppend, from: n.id, to: p, term: n.term, index: n.lastIndex, commit: n.match[n.id], hb: true, seq: n.hbSeq[p]})
	sm.push(event{at: sm.now + hcRPCTimeout, kind: evRPCTimeout, node: n.id, peer: p, gen: gen, beat: n.hbSeq[p]})
}

// hcAnswered ends peer p's heartbeat RPC: the loop waits, then sends the
// next (at once if a shorter timeout notified it meanwhile).
func (sm *simulation) hcAnswered(n *node, p int, seq uint64) {
	if n.role != leader || !n.hbBusy[p] || seq != n.hbSeq[p] {
		return
	}
	n.hbBusy[p], n.hbFails[p] = false, 0
	sm.hcWait(n, p, n.hbNotify[p])
}

// hcRPCFailed is the transport's timeout on a heartbeat that got no
// answer: the loop backs off, then waits as usual.
func (sm *simulation) hcRPCFailed(n *node, p int, gen, seq uint64) {
	if n.role != leader || gen != n.hbGen || !n.hbBusy[p] || seq != n.hbSeq[p] {
		return
	}
	n.retries++
	back := hcBackoff(n.hbFails[p], n.T/2)
	n.hbFails[p]++
	n.hbBusy[p] = false
	n.hbSeq[p]++
	// The backoff, then the loop's usual wait (or none, if notified).
	d := back
	if !n.hbNotify[p] {
		d += sm.hcLoopWait(n, p)
	}
	sm.push(event{at: sm.now + d, kind: evHeartbeat, node: n.id, peer: p, gen: gen, beat: n.hbSeq[p]})
}

// hcBackoff is replication.go's cappedExponentialBackoff(failureWait,
// failures, maxFailureScale, cap).
func hcBackoff(failures uint64, cap time.Duration) time.Duration {
	base := hcFailureWait
	for power := min(failures, hcMaxFailure); power > 2; power-- {
		if base > cap {
			return cap
		}
		base *= 2
	}
	return min(base, cap)
}

// hcLeaseCheck is checkLeaderLease: step down without a majority heard
// within the lease, else check again when the oldest contact would expire.
func (sm *simulation) hcLeaseCheck(n *node, gen uint64) {
	if n.role != leader || gen != n.hbGen {
		return
	}
	contacted := 1
	var maxDiff time.Duration
	for i := range sm.nodes {
		if i == n.id {
			continue
		}
		if diff := sm.now - n.lastAck[i]; diff <= sm.hcLease {
			contacted++
			maxDiff = max(maxDiff, diff)
		}
	}
	if contacted < sm.quorum {
		sm.stepDown(n, n.term)
		return
	}
	sm.push(event{at: sm.now + max(sm.hcLease-maxDiff, hcMinLeaseCheck), kind: evLease, node: n.id, gen: gen})
}

// tcpDelay is the delay of a message TCP had to retransmit: each lost
// transmission costs an RTO (200ms, doubling) and the copy that gets
// through its own delay. Only a cut link loses it.
func (sm *simulation) tcpDelay(m message) (time.Duration, bool) {
	rto, waited := tcpMinRTO, time.Duration(0)
	for i := 0; i < tcpMaxRetries; i++ {
		waited += rto
		rto *= 2
		if sm.net.cut[m.from][m.to] {
			return 0, false
		}
		if d, ok := sm.net.delay(sm.fates.of(m.from, m.to, drawRetransmit, sm.now), m.from, m.to, sm.now+waited); ok {
			return waited + d, true
		}
	}
	return 0, false
}

// --- go.etcd.io/raft ---

// etcdPeriod is n's tick period: its T over ElectionTicks, and no
// shorter than the driver's base period.
func (sm *simulation) etcdPeriod(n *node) time.Duration {
	return max(etcdMinTick, n.T/time.Duration(sm.etcdE))
}

// etcdReset is raft.reset: no elapsed ticks, a new randomized timeout in
// [E, 2E).
func (sm *simulation) etcdReset(n *node) {
	n.elapsed = 0
	n.randomized = sm.etcdE + sm.fates.of(n.id, n.id, drawTimer, sm.now).IntN(sm.etcdE)
}

// etcdStartTicks starts n's tick loop (at start and on restart).
func (sm *simulation) etcdStartTicks(n *node) {
	n.tickGen++
	sm.push(event{at: sm.now + sm.etcdPeriod(n), kind: evHostTick, node: n.id, gen: n.tickGen})
}

// etcdInLease is etcd's refusal rule: with check-quorum on, a node that
// heard from a leader (or leads) within E ticks ignores higher terms.
func (sm *simulation) etcdInLease(n *node) bool {
	return n.leader >= 0 && n.elapsed < sm.etcdE
}

// etcdTick is one tick of n: tickElection, or tickHeartbeat on a leader.
func (sm *simulation) etcdTick(n *node, gen uint64) {
	if gen != n.tickGen {
		return
	}
	sm.push(event{at: sm.now + sm.etcdPeriod(n), kind: evHostTick, node: n.id, gen: gen})
	if n.role != leader {
		if n.elapsed++; n.elapsed >= n.randomized {
			n.elapsed = 0
			sm.campaign(n)
		}
		return
	}
	n.hbElapsed++
	if n.elapsed++; n.elapsed >= sm.etcdE {
		n.elapsed = 0
		active := 1
		for i := range sm.nodes {
			if i != n.id && n.lastAck[i] > n.checkAt {
				active++
			}
		}
		n.checkAt = sm.now
		if active < sm.quorum {
			sm.stepDown(n, n.term)
			return
		}
	}
	if n.hbElapsed >= etcdHeartbeatTk {
		n.hbElapsed = 0
		for i := range sm.nodes {
			if i != n.id && n.lastAck[i] < n.lastSent[i] {
				n.retries++
			}
		}
		sm.appendAll(n)
	}
}
