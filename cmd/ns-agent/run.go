package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/configs"
)

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "agent configuration `file` (HCL; see configs/agent.hcl)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent run -config FILE")
		fmt.Fprintln(stderr, "\nRun the sidecar beside one Raft node. SIGHUP reloads the policy and weights")
		fmt.Fprintln(stderr, "(an invalid file keeps the old ones); SIGTERM stops cleanly.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent run -config configs/agent.hcl")
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
	if diags.HasErrors() {
		fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
		return 1
	}
	d, err := agent.Start(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent run: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "agent %s ready: grpc %s, http %s\n", cfg.Node, d.GRPCAddr(), orNone(d.HTTPAddr()))
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	for s := range sig {
		if s == syscall.SIGHUP {
			if err := d.Reload(); err != nil {
				fmt.Fprintf(stderr, "ns-agent run: reload: %v (keeping the old configuration)\n", err)
			}
			continue
		}
		break
	}
	d.Close()
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
