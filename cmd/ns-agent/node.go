//go:build !sidecar

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
	"github.com/nsraft/nsraft/refcluster"
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
	var (
		cfgFile   = fs.String("config", "", "node configuration `file` (HCL); flags given explicitly override it")
		id        = fs.String("id", "", "node `id` (n1…n9)")
		dataDir   = fs.String("data", "", "data `dir` (bolt log/stable store and snapshots)")
		raftAddr  = fs.String("raft", "", "Raft transport bind `address`")
		httpAddr  = fs.String("http", "", "HTTP API `address`")
		bootstrap = fs.Bool("bootstrap", false, "bootstrap the cluster from -peer if this node has no Raft state")
		hbTimeout = fs.Duration("heartbeat-timeout", 0, "Raft HeartbeatTimeout (default hashicorp/raft's 1s)")
		elTimeout = fs.Duration("election-timeout", 0, "Raft ElectionTimeout (default 1s)")
		lease     = fs.Duration("leader-lease-timeout", 0, "Raft LeaderLeaseTimeout (default 500ms, capped at the heartbeat timeout)")
		snapThr   = fs.Uint64("snapshot-threshold", 0, "log entries between snapshots (default hashicorp/raft's 8192)")
		snapEvery = fs.Duration("snapshot-interval", 0, "how often to check the snapshot threshold (default hashicorp/raft's 120s)")
		logLevel  = fs.String("log-level", "info", "log `level`: trace, debug, info, warn, error")
		logJSON   = fs.Bool("log-json", false, "log as JSON lines")
		agentRec  = fs.String("agent", "", "run the timing agent in-process with this `recommender` (lstm, linucb, …); empty: none")
		polFile   = fs.String("policy", "", "policy `file` for -agent (default: the embedded policy)")
		agentTick = fs.Duration("agent-tick", 100*time.Millisecond, "the agent's sampling period")
		agentAddr = fs.String("agent-addr", "", "link the node to a running `ns-agent run` at this address (unix:///path or host:port)")
		handoff   = fs.Bool("handoff", false, "as leader, probe the followers, judge this node on its own round trips and hand leadership off when the agent (host.handoff = true) says so")
		elWindow  = fs.Duration("election-window", hashicorp.DefaultElectionWindow, "how long an election counts as recent in the agent's samples")
	)
	peers, peerHTTP, dials := repeated{}, repeated{}, repeated{}
	fs.Var(peers, "peer", "a voter as `id=raft-address` (repeatable; include this node)")
	fs.Var(peerHTTP, "peer-http", "a voter's HTTP API as `id=address` (repeatable), for forwarding to the leader")
	fs.Var(dials, "dial", "dial `id=address` instead of the peer's Raft address (repeatable), to route a link through a proxy")
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
	var cfg refcluster.NodeConfig
	if *cfgFile != "" {
		c, diags := refcluster.LoadNodeConfig(*cfgFile)
		if diags.HasErrors() {
			fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
			return 1
		}
		cfg = c
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["id"] || *cfgFile == "" {
		cfg.ID = *id
	}
	if set["data"] || *cfgFile == "" {
		cfg.DataDir = *dataDir
	}
	if set["raft"] || *cfgFile == "" {
		cfg.RaftAddr = *raftAddr
	}
	if set["http"] || *cfgFile == "" {
		cfg.HTTPAddr = *httpAddr
	}
	if set["bootstrap"] {
		cfg.Bootstrap = *bootstrap
	}
	if set["heartbeat-timeout"] {
		cfg.Timing.HeartbeatTimeout = *hbTimeout
	}
	if set["election-timeout"] {
		cfg.Timing.ElectionTimeout = *elTimeout
	}
	if set["leader-lease-timeout"] {
		cfg.Timing.LeaderLeaseTimeout = *lease
	}
	if set["snapshot-threshold"] {
		cfg.SnapshotThreshold = *snapThr
	}
	if set["snapshot-interval"] {
		cfg.SnapshotInterval = *snapEvery
	}
	if len(peers) > 0 {
		cfg.Peers = nil
		for pid, addr := range peers {
			cfg.Peers = append(cfg.Peers, refcluster.Peer{ID: pid, RaftAddr: addr, HTTPAddr: peerHTTP[pid], DialAddr: dials[pid]})
		}
	}
	for pid := range peerHTTP {
		if _, ok := peers[pid]; !ok && len(peers) > 0 {
			fmt.Fprintf(stderr, "ns-agent node: -peer-http %s has no matching -peer\n", pid)
			return 2
		}
	}
	for pid := range dials {
		if _, ok := peers[pid]; !ok && len(peers) > 0 {
			fmt.Fprintf(stderr, "ns-agent node: -dial %s has no matching -peer\n", pid)
			return 2
		}
	}
	level := hclog.LevelFromString(*logLevel)
	if level == hclog.NoLevel {
		fmt.Fprintf(stderr, "ns-agent node: unknown -log-level %q\n", *logLevel)
		return 2
	}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: cfg.ID, Output: stderr, Level: level, JSONFormat: *logJSON})

	// Check the agent's inputs before the node starts, so a bad policy
	// file never leaves a node running without the agent it asked for.
	var rec model.Recommender
	pol := policy.Default()
	if *agentRec != "" && *agentAddr != "" {
		fmt.Fprintln(stderr, "ns-agent node: -agent and -agent-addr exclude each other: run the agent in-process or link to one")
		return 2
	}
	if *agentRec != "" {
		r, err := model.New(*agentRec, model.Options{Seed: model.NodeSeed(1, cfg.ID)})
		if err != nil {
			fmt.Fprintf(stderr, "ns-agent node: -agent: %v\n", err)
			return 2
		}
		rec = r
		if *polFile != "" {
			p, diags := policy.ParseFile(*polFile)
			if diags.HasErrors() {
				fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
				return 1
			}
			pol = p
		}
	}

	node, err := refcluster.StartNode(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent node: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "node %s ready: raft %s, http %s\n", cfg.ID, cfg.RaftAddr, node.HTTPAddr())

	agentCtx, stopAgent := context.WithCancel(context.Background())
	var (
		adapter *hashicorp.Adapter
		link    *hashicorp.Link
	)
	if rec != nil || *agentAddr != "" {
		rc := node.RaftConfig()
		trans, rtts := node.Transport()
		adapter = hashicorp.New(node.Raft(), hashicorp.Config{NodeID: cfg.ID, LeaderLeaseTimeout: rc.LeaderLeaseTimeout,
			PreVote: !rc.PreVoteDisabled, LeaseTTL: max(time.Second, 10**agentTick), Transport: trans, RTTs: rtts,
			ElectionWindow: *elWindow, Handoff: hashicorp.HandoffConfig{Enabled: *handoff}})
		adapter.Start()
	}
	if rec != nil {
		logger := hclog.New(&hclog.LoggerOptions{Name: cfg.ID + ".agent", Output: stderr, Level: hclog.Info, JSONFormat: true})
		a := agent.New(agent.Config{Node: cfg.ID, Tick: *agentTick, Recommender: rec, Policy: pol, Log: logger})
		go a.Run(agentCtx, adapter)
	}
	if *agentAddr != "" {
		link = hashicorp.Connect(adapter, hashicorp.LinkConfig{Target: *agentAddr, Seed: model.NodeSeed(2, cfg.ID),
			Log: hclog.New(&hclog.LoggerOptions{Name: cfg.ID + ".link", Output: stderr, Level: hclog.Info, JSONFormat: *logJSON})})
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	stopAgent()
	if link != nil {
		link.Close()
	}
	if adapter != nil {
		adapter.Close() // restores the node's own timing
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Shutdown(ctx); err != nil {
		fmt.Fprintf(stderr, "ns-agent node: shutdown: %v\n", err)
		return 1
	}
	return 0
}
