// Command ns-agent is the nsraft sidecar: it keeps a Raft node's election
// timing right for the network and machine it runs on. This package holds
// flags and wiring only; the logic lives in the packages it calls (agent,
// policy, model, sim, refcluster, refcluster/demo, report, configs).
//
// A sidecar build (-tags sidecar) carries only run, tail, validate,
// advise and version, and links none of the development machinery (sim,
// refcluster, toxiproxy, porcupine, gonum).
package main
