// Command example runs three go.etcd.io/raft RawNodes in one process,
// each ticked by an etcd.TickDriver that an in-process agent steers (the
// embedded LSTM through the default policy), and injects delay spikes on
// whatever node leads. Compare with -fixed, where every node ticks at
// 10ms:
//
//	go run ./adapter/etcd/example            # driven: elections stay rare
//	go run ./adapter/etcd/example -fixed     # fixed tick: an election per spike
//
// It is an embedder's wiring, not a library: it imports agent, model,
// policy and adapter/etcd/rawcluster, and nothing imports it.
package main
