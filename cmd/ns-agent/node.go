//go:build !sidecar

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/refcluster/agentnode"
)

// repeated is a repeatable "-flag id=value" flag.
type repeated map[string]string

func (r repeated) String() string { return fmt.Sprint(map[string]string(r)) }

func (r repeated) Set(s string) error {
	id, v, ok := strings.Cut(s, "=")
	if !ok || id == "" || v == "" {
		return fmt.Errorf("want id=address, got %q", s)
	}
	r[id] = v
	return nil
}

func runNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := agentnode.Options{Set: map[string]bool{}, Peers: repeated{}, PeerHTTP: repeated{}, Dials: repeated{}}
	fs.StringVar(&o.ConfigFile, "config", "", "node configuration `file` (HCL); flags given explicitly override it")
	fs.StringVar(&o.ID, "id", "", "node `id` (n1…n9)")
	fs.StringVar(&o.DataDir, "data", "", "data `dir` (bolt log/stable store and snapshots)")
	fs.StringVar(&o.RaftAddr, "raft", "", "Raft transport bind `address`")
	fs.StringVar(&o.HTTPAddr, "http", "", "HTTP API `address`")
	fs.IntVar(&o.RaftFD, "raft-fd", 0, "serve Raft on the inherited listening socket at this file `descriptor` (from a launcher that holds the port) instead of binding -raft, which stays the advertised address")
	fs.IntVar(&o.HTTPFD, "http-fd", 0, "serve the HTTP API on the inherited listening socket at this file `descriptor` instead of binding -http")
	fs.BoolVar(&o.Bootstrap, "bootstrap", false, "bootstrap the cluster from -peer if this node has no Raft state")
	fs.DurationVar(&o.Timing.HeartbeatTimeout, "heartbeat-timeout", 0, "Raft HeartbeatTimeout (default hashicorp/raft's 1s)")
	fs.DurationVar(&o.Timing.ElectionTimeout, "election-timeout", 0, "Raft ElectionTimeout (default 1s)")
	fs.DurationVar(&o.Timing.LeaderLeaseTimeout, "leader-lease-timeout", 0, "Raft LeaderLeaseTimeout (default 500ms, capped at the heartbeat timeout)")
	fs.Uint64Var(&o.SnapshotThreshold, "snapshot-threshold", 0, "log entries between snapshots (default hashicorp/raft's 8192)")
	fs.DurationVar(&o.SnapshotInterval, "snapshot-interval", 0, "how often to check the snapshot threshold (default hashicorp/raft's 120s)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log `level`: trace, debug, info, warn, error")
	fs.BoolVar(&o.LogJSON, "log-json", false, "log as JSON lines")
	fs.StringVar(&o.Recommender, "agent", "", "run the timing agent in-process with this `recommender` (lstm, linucb, …); empty: none")
	fs.StringVar(&o.PolicyFile, "policy", "", "policy `file` for -agent (default: the embedded policy)")
	fs.DurationVar(&o.AgentTick, "agent-tick", 100*time.Millisecond, "the agent's sampling period")
	fs.StringVar(&o.AgentAddr, "agent-addr", "", "link the node to a running `ns-agent run` at this address (unix:///path or host:port)")
	fs.BoolVar(&o.Handoff, "handoff", false, "as leader, probe the followers, judge this node on its own round trips and hand leadership off when the agent (host.handoff = true) says so")
	fs.DurationVar(&o.ElectionWindow, "election-window", hashicorp.DefaultElectionWindow, "how long an election counts as recent in the agent's samples")
	fs.Var(repeated(o.Peers), "peer", "a voter as `id=raft-address` (repeatable; include this node)")
	fs.Var(repeated(o.PeerHTTP), "peer-http", "a voter's HTTP API as `id=address` (repeatable), for forwarding to the leader")
	fs.Var(repeated(o.Dials), "dial", "dial `id=address` instead of the peer's Raft address (repeatable), to route a link through a proxy")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent node [flags]")
		fmt.Fprintln(stderr, "\nRuns one node of the reference key-value cluster (hashicorp/raft + raft-boltdb).")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent node -id n1 -data /tmp/n1 -raft 127.0.0.1:7001 -http 127.0.0.1:8001 -bootstrap \\")
		fmt.Fprintln(stderr, "    -peer n1=127.0.0.1:7001 -peer n2=127.0.0.1:7002 -peer n3=127.0.0.1:7003 \\")
		fmt.Fprintln(stderr, "    -peer-http n2=127.0.0.1:8002 -peer-http n3=127.0.0.1:8003")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ns-agent node: unexpected arguments %q\n", fs.Args())
		return 2
	}
	fs.Visit(func(f *flag.Flag) { o.Set[f.Name] = true })
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return exitcode.Report(stderr, "ns-agent node", agentnode.Run(ctx, o, stdout, stderr))
}
