// Command ns-agent is the nsraft sidecar: it keeps a Raft node's election
// timing right for the network and machine it runs on. This package holds
// flags and wiring only; the logic lives in the packages it calls.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one ns-agent subcommand. run returns the process exit code:
// 0 success, 1 failure, 2 usage error (as HashiCorp tools do).
type command struct {
	name     string
	synopsis string
	run      func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands that work. A subcommand is added here only
// when it does what its synopsis says.
func commands() []command {
	cmds := []command{
		{"version", "print the version", runVersion},
		{"advise", "print the etcd flags an agent would advise, from a running cluster's metrics", runAdvise},
		{"train", "train LSTM weights from simulated traces", runTrain},
		{"sim", "one deterministic simulated run of a scenario with one strategy", runSim},
		{"bench", "run every timeout strategy on simulated scenarios, side by side", runBench},
		{"validate", "check policy files; print ok or file:line,col: message per problem", runValidate},
		{"demo", "run a local 5-node hashicorp/raft cluster under injected faults with a workload", runDemo},
		{"etcd-cluster", "start a local etcd cluster (real etcd servers) with toxiproxy on peer links", runEtcdCluster},
		{"run", "run the sidecar beside one Raft node (-config agent.hcl)", runAgent},
		{"tail", "follow the decisions of running agents", runTail},
		{"node", "run one node of the reference hashicorp/raft key-value cluster", runNode},
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "ns-agent: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: ns-agent <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ns-agent keeps a Raft node's election timeout right for its network.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ns-agent <command> -h' for a command's flags and an example.")
}
