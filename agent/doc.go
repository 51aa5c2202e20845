// Package agent is the sidecar: every tick it takes one sample of its host
// node, lets the recommender propose, lets the policy decide, hands the
// decision to the host and writes one JSON line saying what was observed,
// proposed, decided and why. It also serves the gRPC protocol (hosts
// stream samples in; followers Watch decisions), Prometheus metrics,
// health endpoints and the dashboard, and it reads `run`'s configuration.
//
// agent imports collector, model, policy, configs and api (with
// api/nsraftv1). Hosts that link to the agent speak the gRPC protocol
// (adapter/hashicorp's Link, the etcd tick driver in-process); hosts the
// agent polls itself (Consul and etcd servers) satisfy its Host
// interface, and the daemon builds them from adapter/hashicorp and
// adapter/etcd, which the agent therefore imports too. No adapter imports
// the agent; the agent must not import sim, refcluster or report.
package agent
