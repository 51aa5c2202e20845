// Package etcd connects the agent to etcd: servers (v3.5+), which cannot
// change their timing while running, get explained recommendations of the
// --heartbeat-interval and --election-timeout to set, and — opted in — a
// leader hand-off away from a degrading leader; applications built on
// go.etcd.io/raft get a tick driver that adjusts each node's tick period
// live (see TickDriver).
//
// It owns the server host (client API, /metrics parsing, peer probes,
// advice, hand-off) and the tick driver. etcd imports collector; it must
// not import the agent or policy (the agent imports it).
package etcd
