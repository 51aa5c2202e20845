// Package refcluster is the reference cluster: a replicated key-value store
// on hashicorp/raft with raft-boltdb and the TCP NetworkTransport on
// loopback, run as one OS process per node so that crashes (SIGKILL), stalls
// (SIGSTOP/SIGCONT) and restarts are real.
//
// It owns the node (FSM, HTTP API, Raft wiring), the launcher that starts
// and signals node processes, the toxiproxy mesh that routes every directed
// Raft link through its own proxy, fault schedules built from scenario
// files, and the workload client whose histories are checked for
// linearizability with porcupine. It also runs real etcd servers behind
// the same proxies, with agents beside them, for the etcd live benchmark.
//
// refcluster imports sim (for the scenario type), model (to check strategy
// names), adapter/hashicorp (for the node's measured transport and its
// election window) and adapter/etcd (for etcd's timing flags); it must not
// import the agent or the policy. The demo,
// which needs the agent's dashboard, is its subpackage refcluster/demo.
package refcluster
