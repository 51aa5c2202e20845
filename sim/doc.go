// Package sim is the deterministic discrete-event simulator of Raft leader
// election and heartbeating, and the scenario files that describe the
// environments it (and refcluster's fault injection) reproduces.
//
// sim drives the same model.Recommender and policy code the live agent
// runs; it must not import the agent, adapters or refcluster.
package sim
