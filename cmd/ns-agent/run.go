package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/policy"
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
	if diags.HasErrors() {
		fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
		return 1
	}
	if *node != "" {
		cfg.SetNode(*node)
	}
	if cfg.Node == "" {
		fmt.Fprintf(stderr, "ns-agent run: %s sets no node; set node = \"…\" there, -node, or NS_AGENT_NODE\n", *file)
		return 1
	}
	sidecarMemory()
	d, err := agent.Start(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent run: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "agent %s ready: grpc %s, http %s\n", cfg.Node, d.GRPCAddr(), orNone(d.HTTPAddr()))
	switch cfg.HostKind {
	case policy.HostHashicorp, policy.HostEtcdRaft:
		// These hosts link to the agent: until one does, nothing is decided.
		fmt.Fprintf(stdout, "waiting for node %s to connect on %s (adapter/hashicorp's Attach, or etcd.Connect for a go.etcd.io/raft tick driver); no decisions until it does\n",
			cfg.Node, d.GRPCAddr())
	default:
		fmt.Fprintf(stdout, "polling the %s server at %s every %s\n", cfg.HostKind, orNone(cfg.HostAddress), cfg.Tick)
	}
	notify := func(state string) {
		if _, err := sdNotify(state); err != nil {
			fmt.Fprintf(stderr, "ns-agent run: telling systemd %s: %v\n", state, err)
		}
	}
	notify("READY=1")
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	for s := range sig {
		if s == syscall.SIGHUP {
			notify("RELOADING=1")
			if err := d.Reload(); err != nil {
				fmt.Fprintf(stderr, "ns-agent run: reload: %v (keeping the old configuration)\n", err)
			}
			notify("READY=1")
			continue
		}
		break
	}
	notify("STOPPING=1")
	d.Close()
	return 0
}

// Memory defaults for a sidecar that runs for months beside its node,
// each overridden by the Go runtime's own environment variable. The live
// heap is about 5 MB (mostly the dashboard's replay buffer and protobuf
// descriptors); Go's default GOGC=100 lets the heap reach twice that
// before collecting, and the runtime keeps freed pages mapped for a while.
// GOGC=50 (a heap goal of 1.5x live) costs a collection every few seconds
// at a 100 ms tick, and the 24 MiB soft limit makes the runtime collect
// and return pages to the OS well before the systemd unit's MemoryMax=64M,
// whatever a flood of clients leaves behind.
const (
	sidecarGCPercent   = 50
	sidecarMemoryLimit = 24 << 20
)

// sidecarMemory applies the sidecar's memory defaults where GOGC and
// GOMEMLIMIT are unset.
func sidecarMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(sidecarGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(sidecarMemoryLimit)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
