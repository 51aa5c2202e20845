//go:build sidecar

package main

import (
	"fmt"
	"io"
)

// A sidecar build carries only what runs beside a production node: run,
// tail, validate and version.
func toolCommands() []command { return nil }

// leftOut explains a development tool's absence instead of "unknown
// command".
func leftOut(name string, w io.Writer) (int, bool) {
	for _, t := range []string{"bench", "demo", "etcd-cluster", "node", "sim", "train"} {
		if t == name {
			fmt.Fprintf(w, "ns-agent: %q is not in this sidecar build (built with -tags sidecar).\n"+
				"Build the full tool for it: go build ./cmd/ns-agent\n", name)
			return 2, true
		}
	}
	return 0, false
}

func buildNote() string {
	return "This is the sidecar build: bench, demo, etcd-cluster, node, sim and train are in\nthe full build (go build ./cmd/ns-agent)."
}

func checkScenario(file string, w io.Writer) bool {
	fmt.Fprintf(w, "%s: looks like a scenario file; scenarios are checked by the full build (go build ./cmd/ns-agent)\n", file)
	return false
}
