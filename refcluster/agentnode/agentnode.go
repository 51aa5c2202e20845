// Package agentnode runs what `ns-agent node` runs: one node of the
// reference cluster (package refcluster) and, beside it, a timing agent
// in-process or a link to a running `ns-agent run`. It is apart from
// refcluster because it imports the agent, whose tests import refcluster.
package agentnode

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
	"github.com/nsraft/nsraft/refcluster"
)

// Options is one `ns-agent node` process: a node of the reference
// cluster, its settings from a file and the command line, and optionally
// a timing agent beside it, in-process or linked to a running `ns-agent
// run`.
type Options struct {
	// ConfigFile is the node's HCL configuration; "" takes every setting
	// from the fields below.
	ConfigFile string
	// Set names the settings given explicitly (by flag name: "id",
	// "data", "raft", "http", "bootstrap", "heartbeat-timeout",
	// "election-timeout", "leader-lease-timeout", "snapshot-threshold",
	// "snapshot-interval"); with a ConfigFile only those override it.
	Set map[string]bool

	ID, DataDir, RaftAddr, HTTPAddr string
	// RaftFD and HTTPFD, when not 0, are listening TCP sockets this
	// process inherited (file descriptors 3 and up) to serve Raft and the
	// HTTP API on instead of binding RaftAddr and HTTPAddr: a launcher
	// that holds the ports passes them so that no other process can take
	// them first. RaftAddr stays the advertised address.
	RaftFD, HTTPFD    int
	Bootstrap         bool
	Timing            refcluster.Timing
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// Peers, PeerHTTP and Dials map a voter's id to its Raft address, its
	// HTTP API and the address to dial instead of its Raft address; any
	// Peers replace the file's.
	Peers, PeerHTTP, Dials map[string]string

	LogLevel string // trace, debug, info, warn, error
	LogJSON  bool

	Recommender    string // the in-process agent's recommender; "": none
	PolicyFile     string // the in-process agent's policy; "": the embedded one
	AgentTick      time.Duration
	AgentAddr      string // a running agent to link to; excludes Recommender
	Handoff        bool
	ElectionWindow time.Duration
}

// nodeConfig merges the file and the explicit settings.
func (o Options) nodeConfig() (refcluster.NodeConfig, error) {
	var cfg refcluster.NodeConfig
	if o.ConfigFile != "" {
		c, diags := refcluster.LoadNodeConfig(o.ConfigFile)
		if err := exitcode.Diagnostics(diags); err != nil {
			return cfg, err
		}
		cfg = c
	}
	given := func(name string) bool { return o.ConfigFile == "" || o.Set[name] }
	if given("id") {
		cfg.ID = o.ID
	}
	if given("data") {
		cfg.DataDir = o.DataDir
	}
	if given("raft") {
		cfg.RaftAddr = o.RaftAddr
	}
	if given("http") {
		cfg.HTTPAddr = o.HTTPAddr
	}
	if given("bootstrap") {
		cfg.Bootstrap = o.Bootstrap
	}
	if given("heartbeat-timeout") {
		cfg.Timing.HeartbeatTimeout = o.Timing.HeartbeatTimeout
	}
	if given("election-timeout") {
		cfg.Timing.ElectionTimeout = o.Timing.ElectionTimeout
	}
	if given("leader-lease-timeout") {
		cfg.Timing.LeaderLeaseTimeout = o.Timing.LeaderLeaseTimeout
	}
	if given("snapshot-threshold") {
		cfg.SnapshotThreshold = o.SnapshotThreshold
	}
	if given("snapshot-interval") {
		cfg.SnapshotInterval = o.SnapshotInterval
	}
	if len(o.Peers) > 0 {
		cfg.Peers = nil
		for pid, addr := range o.Peers {
			cfg.Peers = append(cfg.Peers, refcluster.Peer{ID: pid, RaftAddr: addr, HTTPAddr: o.PeerHTTP[pid], DialAddr: o.Dials[pid]})
		}
	}
	for pid := range o.PeerHTTP {
		if _, ok := o.Peers[pid]; !ok && len(o.Peers) > 0 {
			return cfg, exitcode.Usagef("-peer-http %s has no matching -peer", pid)
		}
	}
	for pid := range o.Dials {
		if _, ok := o.Peers[pid]; !ok && len(o.Peers) > 0 {
			return cfg, exitcode.Usagef("-dial %s has no matching -peer", pid)
		}
	}
	return cfg, nil
}

// Run starts the node (and its agent or link), says so on
// stdout, logs to stderr, and runs until ctx ends; then it stops the
// agent, gives the node back its own timing and shuts it down. Bad
// settings are usage errors (exitcode.Usagef) or a file's diagnostics;
// the agent's inputs are checked before the node starts, so a bad policy
// file never leaves a node running without the agent it asked for.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	cfg, err := o.nodeConfig()
	if err != nil {
		return err
	}
	level := hclog.LevelFromString(o.LogLevel)
	if level == hclog.NoLevel {
		return exitcode.Usagef("unknown -log-level %q", o.LogLevel)
	}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: cfg.ID, Output: stderr, Level: level, JSONFormat: o.LogJSON})

	var rec model.Recommender
	pol := policy.Default()
	if o.Recommender != "" && o.AgentAddr != "" {
		return exitcode.Usagef("-agent and -agent-addr exclude each other: run the agent in-process or link to one")
	}
	if o.Recommender != "" {
		r, err := model.New(o.Recommender, model.Options{Seed: model.NodeSeed(1, cfg.ID)})
		if err != nil {
			return exitcode.Usagef("-agent: %w", err)
		}
		rec = r
		if o.PolicyFile != "" {
			p, diags := policy.ParseFile(o.PolicyFile)
			if err := exitcode.Diagnostics(diags); err != nil {
				return err
			}
			pol = p
		}
	}

	if cfg.RaftListener, err = inherited("-raft-fd", o.RaftFD); err != nil {
		return err
	}
	if cfg.HTTPListener, err = inherited("-http-fd", o.HTTPFD); err != nil {
		if cfg.RaftListener != nil {
			cfg.RaftListener.Close()
		}
		return err
	}
	node, err := refcluster.StartNode(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "node %s ready: raft %s, http %s\n", cfg.ID, cfg.RaftAddr, node.HTTPAddr())

	agentCtx, stopAgent := context.WithCancel(context.Background())
	var (
		adapter *hashicorp.Adapter
		link    *hashicorp.Link
	)
	if rec != nil || o.AgentAddr != "" {
		rc := node.RaftConfig()
		trans, rtts := node.Transport()
		adapter = hashicorp.New(node.Raft(), hashicorp.Config{NodeID: cfg.ID, LeaderLeaseTimeout: rc.LeaderLeaseTimeout,
			PreVote: !rc.PreVoteDisabled, LeaseTTL: max(time.Second, 10*o.AgentTick), Transport: trans, RTTs: rtts,
			ElectionWindow: o.ElectionWindow, Handoff: hashicorp.HandoffConfig{Enabled: o.Handoff}})
		adapter.Start()
	}
	if rec != nil {
		logger := hclog.New(&hclog.LoggerOptions{Name: cfg.ID + ".agent", Output: stderr, Level: hclog.Info, JSONFormat: true})
		a := agent.New(agent.Config{Node: cfg.ID, Tick: o.AgentTick, Recommender: rec, Policy: pol, Log: logger})
		go a.Run(agentCtx, adapter)
	}
	if o.AgentAddr != "" {
		link = hashicorp.Connect(adapter, hashicorp.LinkConfig{Target: o.AgentAddr, Seed: model.NodeSeed(2, cfg.ID),
			Log: hclog.New(&hclog.LoggerOptions{Name: cfg.ID + ".link", Output: stderr, Level: hclog.Info, JSONFormat: o.LogJSON})})
	}

	<-ctx.Done()
	stopAgent()
	if link != nil {
		link.Close()
	}
	if adapter != nil {
		adapter.Close() // restores the node's own timing
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// inherited returns the listening socket at file descriptor fd, or nil for
// fd 0. A descriptor that is not an open listening socket is a usage
// error naming the flag.
func inherited(flag string, fd int) (net.Listener, error) {
	if fd == 0 {
		return nil, nil
	}
	if fd < 3 {
		return nil, exitcode.Usagef("%s %d: want an inherited descriptor, 3 or above", flag, fd)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd))
	if f == nil {
		return nil, exitcode.Usagef("%s %d: not a valid descriptor", flag, fd)
	}
	defer f.Close() // FileListener holds its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, exitcode.Usagef("%s %d: not an inherited listening socket: %v", flag, fd, err)
	}
	return ln, nil
}
