// Package rawcluster runs a small cluster of go.etcd.io/raft RawNodes in
// one process, over an in-memory network whose delay can be changed while
// it runs — the smallest real embedder of go.etcd.io/raft, used by the
// tick driver's example and tests. Each node may tick at a fixed period or
// under an etcd.TickDriver.
//
// rawcluster imports adapter/etcd (for the tick driver) and nothing else
// of this module.
package rawcluster
