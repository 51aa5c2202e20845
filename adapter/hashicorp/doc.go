// Package hashicorp connects a node of a Go service on hashicorp/raft to
// the agent: it samples the node (observer events, Stats, LastContact and a
// fast poll of the heartbeat gap) into collector.Samples, applies decided
// timeouts live with ReloadConfig, and holds a lease: when no decision
// arrives within the lease TTL it restores the node's own configuration, so
// an agent that dies or hangs can never leave a node on stale timing. Its
// Link streams the samples to an agent over the gRPC protocol. It also
// reads Consul servers (HTTP API and metrics) for advice and, opted in,
// live reload of raft_multiplier.
//
// It never blocks Raft: the observer drops events when the adapter is
// slow, and the poller only reads cheap accessors (CurrentTerm,
// LastContact, LeaderWithID), never Stats.
//
// hashicorp imports collector and api (with api/nsraftv1, for the Link);
// it must not import the agent or policy.
package hashicorp
