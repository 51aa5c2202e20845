package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/policy"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent validate FILE…")
		fmt.Fprintln(stderr, "\nChecks policy files: syntax, unknown blocks and fields, unknown variables and type")
		fmt.Fprintln(stderr, "errors in rule expressions, min > max, values below the host's hard limits. Prints")
		fmt.Fprintln(stderr, "ok, or one `file:line,col: message` per problem (all problems of all files) and exits 1.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent validate configs/policies/wan.hcl my-policy.hcl")
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
		_, diags := policy.ParseFile(file)
		if diags.HasErrors() {
			bad = true
			fmt.Fprint(stdout, configs.FormatDiagnostics(diags))
		}
	}
	if bad {
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
