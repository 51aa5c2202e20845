package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/policy"
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
	bad := false
	for _, file := range fs.Args() {
		if !validateFile(file, stdout) {
			bad = true
		}
	}
	if bad {
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// validateFile checks one file and writes its problems; false when it has
// any.
func validateFile(file string, w io.Writer) bool {
	// The same bounds as every other reader of these files: telling the
	// kind apart parses the file, and an unbounded parse of 100,000
	// nested parentheses overflows the stack (a FIFO would block).
	src, err := configs.ReadFile(file, configs.MaxFileBytes)
	if err != nil {
		fmt.Fprintln(w, err)
		return false
	}
	if diags := configs.CheckLimits(src, file); diags.HasErrors() {
		fmt.Fprint(w, configs.FormatDiagnostics(diags))
		return false
	}
	switch configs.DetectKind(src, file) {
	case configs.KindScenario:
		return checkScenario(file, w)
	case configs.KindAgent:
		cfg, diags := agent.ParseConfig(src, file)
		if diags.HasErrors() {
			fmt.Fprint(w, configs.FormatDiagnostics(diags))
			return false
		}
		if cfg.PolicyFile != "" {
			return validatePolicy(cfg.PolicyFile, w)
		}
		return true
	default:
		return validatePolicy(file, w)
	}
}

func validatePolicy(file string, w io.Writer) bool {
	_, diags := policy.ParseFile(file)
	if diags.HasErrors() {
		fmt.Fprint(w, configs.FormatDiagnostics(diags))
		return false
	}
	return true
}
