package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/internal/exitcode"
)

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "agent configuration `file` (HCL; see configs/agent.hcl)")
	node := fs.String("node", os.Getenv("NS_AGENT_NODE"), "the host node's `name`, overriding the file's node (default $NS_AGENT_NODE)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent run -config FILE [-node NAME]")
		fmt.Fprintln(stderr, "\nRun the sidecar beside one Raft node. SIGHUP reloads the policy and weights")
		fmt.Fprintln(stderr, "(an invalid file keeps the old ones); SIGTERM stops cleanly.")
		fmt.Fprintln(stderr, "Under systemd with Type=notify it reports ready, reloading and stopping.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent run -config configs/agent.hcl")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, diags := agent.LoadConfig(*file)
	if err := exitcode.Diagnostics(diags); err != nil {
		return exitcode.Report(stderr, "ns-agent run", err)
	}
	if *node != "" {
		cfg.SetNode(*node)
	}
	if cfg.Node == "" {
		fmt.Fprintf(stderr, "ns-agent run: %s sets no node; set node = \"…\" there, -node, or NS_AGENT_NODE\n", *file)
		return 1
	}
	agent.SidecarMemory()
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	return exitcode.Report(stderr, "ns-agent run", agent.Serve(cfg, stdout, stderr, sig))
}
