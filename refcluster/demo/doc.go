// Package demo is `ns-agent demo`: a reference cluster (package
// refcluster) with an `ns-agent run` process beside each node, the
// scenario's faults injected through the toxiproxy mesh while a client
// writes, the live dashboard with its fault and strategy controls, and a
// closing summary checked for linearizability.
//
// It sits under refcluster because it only drives the reference cluster;
// unlike refcluster it imports the agent (for the dashboard). Nothing
// imports it but cmd/ns-agent.
package demo
