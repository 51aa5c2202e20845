//go:build !sidecar

package main

import (
	"fmt"
	"io"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/sim"
)

// toolCommands are the development tools: the reference cluster, the
// simulator and the benchmarks. A sidecar build (-tags sidecar) leaves
// them and their dependencies (toxiproxy, porcupine, gonum/plot) out.
func toolCommands() []command {
	return []command{
		{"train", "train LSTM weights from simulated traces", runTrainHelp},
		{"sim", "one deterministic simulated run of a scenario with one strategy", runSimOrList},
		{"bench", "run every timeout strategy on simulated scenarios, side by side", runBench},
		{"demo", "run a local 5-node hashicorp/raft cluster under injected faults with a workload", runDemo},
		{"etcd-cluster", "start a local etcd cluster (real etcd servers) with toxiproxy on peer links", runEtcdCluster},
		{"node", "run one node of the reference hashicorp/raft key-value cluster", runNode},
	}
}

func leftOut(string, io.Writer) (int, bool) { return 0, false }

func buildNote() string { return "" }

// runSimOrList answers `sim` without flags with its usage and the names
// of the built-in scenarios, rather than only "-scenario is required".
func runSimOrList(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return runSim(args, stdout, stderr)
	}
	runSim([]string{"-h"}, stdout, stderr)
	fmt.Fprintln(stderr, "\nBuilt-in scenarios (-scenario NAME), by suite:")
	sim.WriteSuites(stderr, configs.Scenarios)
	return 2
}

// checkScenario parses a scenario file; ok is false when its problems
// were written to w.
func checkScenario(file string, w io.Writer) bool {
	_, diags := sim.ParseFile(file)
	if diags.HasErrors() {
		fmt.Fprint(w, configs.FormatDiagnostics(diags))
		return false
	}
	return true
}

// runTrainHelp adds an example to train's usage.
func runTrainHelp(args []string, stdout, stderr io.Writer) int {
	code := runTrain(args, stdout, stderr)
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent train -suite train -out weights.nsw")
	}
	return code
}
