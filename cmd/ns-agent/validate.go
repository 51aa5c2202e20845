package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/nsraft/nsraft/agent"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent validate FILE…")
		fmt.Fprintln(stderr, "\nChecks each file as what it is: an agent configuration (it sets node, listen,")
		fmt.Fprintln(stderr, "log, recommender…), a scenario (scenario blocks) or a policy (anything else).")
		fmt.Fprintln(stderr, "Policies: syntax, unknown blocks and fields, unknown variables and type errors in")
		fmt.Fprintln(stderr, "rule expressions, min > max, values below the host's hard limits. An agent")
		fmt.Fprintln(stderr, "configuration's policy file is checked too. Prints ok, or one")
		fmt.Fprintln(stderr, "`file:line,col: message` per problem (all problems of all files) and exits 1.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent validate configs/agent.hcl configs/policies/wan.hcl configs/scenarios/geo/three-regions.hcl")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if !agent.ValidateFiles(fs.Args(), stdout, checkScenario) {
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
