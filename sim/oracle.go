package sim

import (
	"time"
)

// The oracle is the clairvoyant strategy, the lower bound every results
// table measures against. It knows every crash, pause and partition the
// moment it happens and when each ends, and it uses that as no real
// strategy can:
//
//   - a follower never times out while its leader is up, running and
//     reaches a majority, so there is no unnecessary election;
//   - when the leader is lost, exactly one node — the one that can win and
//     commit soonest — times out at that very instant (detection 0), so no
//     vote is ever split;
//   - a leader that is only paused or cut off, and is back sooner than an
//     election could complete, is simply waited for;
//   - its votes and the new leader's first round are never lost and take
//     the least delay any placement of the cluster's nodes allows
//     (network.minDelay), so who led when a fault struck does not matter
//     to it;
//   - its leaders never step down on their own lease.
//
// Every one of these makes a term of its unavailability no longer than any
// real strategy's for the same fault, which is what the lower-bound test
// checks over every shipped suite and seed.

// oracleRetry is how long an oracle candidate waits before trying again;
// it only matters when a fault strikes mid-election.
func (sm *simulation) oracleRetry() time.Duration { return max(sm.s.Heartbeat, 4*sm.lease) }

// recoveryTraffic reports whether m is part of electing a leader or of the
// new leader's first round: pre-votes, votes, and appends of a leader whose
// term's first entry is not yet committed, with their responses.
func (sm *simulation) recoveryTraffic(m message) bool {
	switch m.kind {
	case msgPreVote, msgPreVoteResp, msgVote, msgVoteResp:
		return true
	case msgAppend:
		l := sm.nodes[m.from]
		return l.role == leader && !l.ready
	case msgAppendResp:
		l := sm.nodes[m.to]
		return l.role == leader && !l.ready
	}
	return false
}

// oracleCandidate is the node that can win an election and commit its
// first entry soonest, and how long that takes. Only nodes whose log is the
// longest of all can count on every vote (what a lost leader still had in
// flight is disregarded: see deliver), and only with quorum−1 running peers
// they can reach. Among them a node already campaigning keeps the round;
// otherwise any will do, since the oracle's recovery traffic takes the same
// delay on every link (network.recoveryDelay): three round trips, for the
// pre-vote, the vote and the first append. -1 when no node can win.
func (sm *simulation) oracleCandidate() (best int, cost time.Duration) {
	var longest uint64
	for _, n := range sm.nodes {
		if n.up && !n.paused {
			longest = max(longest, n.lastIndex)
		}
	}
	if sm.quorum > 1 {
		cost = 6 * sm.net.recoveryDelay()
	}
	best = -1
	bestTrouble := 0.0
	for _, c := range sm.nodes {
		if !c.up || c.paused || c.role == leader || c.lastIndex < longest {
			continue
		}
		voters := 0
		for _, p := range sm.nodes {
			if p.id != c.id && p.up && !p.paused && sm.net.reachable(c.id, p.id) {
				voters++
			}
		}
		if voters < sm.quorum-1 {
			continue
		}
		if c.role == preCandidate || c.role == candidate {
			// Already campaigning and able to win: it keeps the
			// round, since a second candidate would split the vote.
			return c.id, cost
		}
		if t := sm.trouble(c); best < 0 || t < bestTrouble {
			best, bestTrouble = c.id, t
		}
	}
	if best < 0 {
		return -1, forever
	}
	return best, cost
}

// trouble weighs what the scenario still has in store for node c as a
// leader: partitions yet to start that will cut it from a majority, the
// seconds it will spend paused over the next troubleHorizon, and its
// slowness, noisy neighbours and disk stalls. The oracle knows them all
// and elects the node with the least, so that where its leader stands
// never costs it a failover another strategy's leader would have been
// spared.
func (sm *simulation) trouble(c *node) float64 {
	t := 0.0
	for _, p := range sm.s.Partitions {
		if p.At+p.Duration <= sm.now {
			continue
		}
		isolated := false
		for _, id := range p.Isolate {
			if idx(id) == c.id {
				isolated = true
			}
		}
		// Cut from a majority: in a minority that is isolated, or left
		// outside a majority that is.
		if isolated == (2*len(p.Isolate) < sm.s.Nodes) {
			t += 10
		}
	}
	ns := sm.s.Node(c.name)
	if ns.PauseEvery > 0 {
		// When a pausing leader's peer is down, its pauses cannot be
		// waited out by electing another: what counts is how much of the
		// coming horizon it will spend paused, not that it ever pauses.
		t += 0.001 // between two nodes that will not pause soon, the one that never does
		end := sm.now + troubleHorizon
		for at := c.nextPause; at < end; at += ns.PauseEvery {
			t += (min(at+ns.Pause, end) - max(at, sm.now)).Seconds()
		}
	}
	if ns.Slowdown > 1 || ns.NoisyEvery > 0 || ns.DiskStallEvery > 0 {
		t++
	}
	return t
}

// troubleHorizon is how far ahead trouble looks at a node's pauses: a
// crashed peer's downtime in the shipped scenarios.
const troubleHorizon = 10 * time.Second

// outageEnd is when a leader that is up but paused or cut off from a
// majority will be back, or forever when it will not come back by itself.
func (sm *simulation) outageEnd(l *node) time.Duration {
	end := sm.now
	if l.paused {
		end = l.resumeAt
	}
	if !sm.reachesMajority(l) {
		// Back at the latest once every active partition has healed.
		heal := time.Duration(-1)
		for _, p := range sm.s.Partitions {
			if p.At <= sm.now && sm.now < p.At+p.Duration {
				heal = max(heal, p.At+p.Duration)
			}
		}
		if heal < 0 {
			return forever
		}
		end = max(end, heal)
	}
	return end
}

// oracleUpdate gives every follower the clairvoyant timeout after any
// event that may change who can lead.
func (sm *simulation) oracleUpdate() {
	l := sm.currentLeader()
	alive := l != nil && !l.paused && sm.reachesMajority(l)
	designated := -1
	if !alive {
		c, cost := sm.oracleCandidate()
		designated = c
		if l != nil && l.up && c >= 0 && sm.outageEnd(l)-sm.now <= cost {
			designated = -1 // the leader is back sooner than a new one could be
		}
	}
	for _, n := range sm.nodes {
		if !n.up || n.role == leader {
			continue
		}
		n.oracleGone = !alive
		switch {
		case n.id == designated && n.role == follower:
			// Time out now; retry (a fault mid-election) much later.
			// The ceiling's follower waits out one heartbeat interval
			// from its last contact, as no timeout can fire sooner
			// without firing between the heartbeats of a live leader.
			n.T = sm.oracleRetry()
			at := sm.now
			if sm.o.Ceiling {
				at = max(at, n.lastContact+sm.s.Heartbeat)
			}
			n.timerBase, n.timerU = at-n.T, 0
			n.timerGen++
			sm.push(event{at: at, kind: evTimer, node: n.id, gen: n.timerGen})
		case n.id == designated:
			// Already campaigning.
		default:
			// Not the one to lead: it stops any campaign it had (one
			// whose log turned out shorter cannot win) and waits.
			if n.role != follower {
				n.role = follower
			}
			if n.T != forever/4 {
				n.T = forever / 4
				n.timerGen++ // its pending timer is void
			}
		}
	}
}
