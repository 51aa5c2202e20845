// Command ns-agent is the nsraft sidecar: it keeps a Raft node's election
// timing right for the network and machine it runs on. This package holds
// flags and wiring only: each command parses its flags, calls one function
// of the package that owns the work (agent, refcluster/agentnode,
// refcluster/demo, refcluster, report, sim) and maps the error it returns
// to an exit code with internal/exitcode.
//
// A sidecar build (-tags sidecar) carries only run, tail, validate,
// advise and version, and links none of the development machinery (sim,
// refcluster, toxiproxy, porcupine, gonum).
package main
