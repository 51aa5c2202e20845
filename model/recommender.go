package model

import (
	"time"

	"github.com/nsraft/nsraft/collector"
)

// Proposal is a recommender's suggestion for one node's timing.
type Proposal struct {
	// Timeout is the base election timeout T: followers randomize their
	// timer in [T, 2T). For hashicorp/raft it maps to HeartbeatTimeout.
	Timeout time.Duration
	// Heartbeat is the leader's heartbeat interval, or zero when the
	// recommender has no opinion (the host derives it, e.g. T/10).
	Heartbeat time.Duration
	// Confidence is how sure the recommender is, in [0, 1]. The policy may
	// refuse to act on low confidence.
	Confidence float64
	// Reason says in a few words where the value came from; it is shown in
	// the recommendation log beside the policy's explanation.
	Reason string
}

// Recommender proposes a node's election timing from the samples it has
// observed. Implementations are pure steps: Observe folds one sample into the
// state, Propose reads it. Neither touches a clock or does I/O, so the
// simulator and the live agent drive identical code.
//
// Online learners derive their reward from the sample stream itself (term
// changes, leaderless time, heartbeat gaps), which the live agent sees too.
type Recommender interface {
	// Name is the recommender's registry name ("static", "lstm", …).
	Name() string
	// Observe folds one sample of the node into the recommender's state.
	Observe(s collector.Sample)
	// Propose returns the recommendation for the node's next period.
	Propose() Proposal
}
