package hashicorp

import (
	"fmt"
	"math"
	"time"
)

// LeaseAdvice is the restart-time LeaderLeaseTimeout (hashicorp/raft) or
// raft_multiplier (Consul) for the round trips a cluster has shown.
type LeaseAdvice struct {
	// Lease is the LeaderLeaseTimeout to start hashicorp/raft nodes with.
	Lease time.Duration
	// Multiplier is Consul's start performance.raft_multiplier: its lease
	// is 500ms × m and its heartbeat timeout 1s × m.
	Multiplier int
	// Tail is the round-trip tail it covers.
	Tail time.Duration
}

// RecommendLease picks the restart-time lease from the worst round-trip
// tail seen over a long horizon (heartbeat RPC p99 on the leader, or the
// probes' p99), and the least timeout the operator wants the agent to be
// able to apply (the policy's election_min; hashicorp/raft needs
// LeaderLeaseTimeout ≤ HeartbeatTimeout).
//
// The trade-off: hashicorp/raft's leader steps down when no majority has
// answered within the lease, and the lease cannot be reloaded. A follower
// is heartbeaten every [T/10, T/5) of the leader's HeartbeatTimeout T, so a
// lease covers the heartbeat wait plus a round trip; whatever a burst adds
// beyond that makes the leader step down, and no timeout on the followers
// prevents it. A longer lease rides out bursts but is the floor under
// every timeout the agent can apply, so failures are detected no faster
// than it.
//
// For hashicorp/raft: the lease covers the heartbeat wait at the least
// timeout (minTimeout/5) plus 1.5 × the tail, rounded up to 50ms, at least
// 10ms; when that exceeds minTimeout, the least timeout must rise to it.
// For Consul, whose lease is 500ms × m and heartbeat wait up to 200ms × m,
// a lease leaves 300ms × m for the round trip: m is the least with
// 300ms × m ≥ 1.5 × the tail, 1 to 10.
func RecommendLease(tail, minTimeout time.Duration) LeaseAdvice {
	if tail < 0 || math.IsNaN(float64(tail)) {
		tail = 0
	}
	l := max(10*time.Millisecond, minTimeout/5+tail*3/2)
	l = (l + 50*time.Millisecond - 1) / (50 * time.Millisecond) * (50 * time.Millisecond)
	m := int(math.Ceil(float64(tail) * 1.5 / float64(300*time.Millisecond)))
	return LeaseAdvice{Lease: l, Multiplier: min(10, max(1, m)), Tail: tail}
}

// ConsulText says the restart-time multiplier for a server started at
// start, with the trade-off; "" when start is already the advice.
func (a LeaseAdvice) ConsulText(start int) string {
	if a.Multiplier == start {
		return ""
	}
	if a.Multiplier < start {
		return fmt.Sprintf("at the next restart, raft_multiplier %d (now %d) would lower the lease to %s, which still rides out the %s heartbeat round-trip tail seen, and lets the agent go down to %ds live",
			a.Multiplier, start, time.Duration(a.Multiplier)*500*time.Millisecond, a.Tail.Round(time.Millisecond), (a.Multiplier+1)/2)
	}
	return fmt.Sprintf("at the next restart, raft_multiplier %d (now %d): the %s heartbeat round-trip tail seen is more than the %s lease leaves for a round trip, so the leader steps down in such bursts; the price is a live floor of %ds",
		a.Multiplier, start, a.Tail.Round(time.Millisecond), time.Duration(start)*300*time.Millisecond, (a.Multiplier+1)/2)
}
