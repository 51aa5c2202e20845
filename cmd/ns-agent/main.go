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
// when it does what its synopsis says. The development tools (demo,
// bench, sim, train, node, etcd-cluster) are left out of a sidecar build
// (-tags sidecar): see tools.go and tools_sidecar.go.
func commands() []command {
	cmds := []command{
		{"version", "print the version (also -version, --version)", runVersion},
		{"validate", "check agent configs, policies and scenarios: ok or file:line,col: message", runValidate},
		{"advise", "print the etcd flags an agent would advise, from a running cluster's metrics", runAdvise},
		{"run", "run the sidecar beside one Raft node (-config agent.hcl)", runAgent},
		{"tail", "follow the decisions of running agents", runTail},
	}
	cmds = append(cmds, toolCommands()...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-version" || args[0] == "--version" || args[0] == "-v") {
		return runVersion(args[1:], stdout, stderr)
	}
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			if rest := args[1:]; len(rest) == 1 && isHelp(rest[0]) {
				// Asked for: the usage and its example are the answer,
				// not a usage error.
				c.run(rest, stdout, stderr)
				return 0
			}
			return c.run(args[1:], stdout, stderr)
		}
	}
	if code, ok := leftOut(args[0], stderr); ok {
		return code
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
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.synopsis)
	}
	if note := buildNote(); note != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, note)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ns-agent <command> -h' for a command's flags and an example.")
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }
