package refcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/nsraft/nsraft/adapter/hashicorp"
)

// Timing is the Raft timing of a node. A zero field means hashicorp/raft's
// default (DefaultConfig: 1s, 1s, 500ms).
type Timing struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
}

// withDefaults fills zero fields from raft.DefaultConfig.
func (t Timing) withDefaults() Timing {
	d := raft.DefaultConfig()
	if t.HeartbeatTimeout == 0 {
		t.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if t.ElectionTimeout == 0 {
		t.ElectionTimeout = d.ElectionTimeout
	}
	if t.LeaderLeaseTimeout == 0 {
		t.LeaderLeaseTimeout = d.LeaderLeaseTimeout
		// Keep the default lease valid for short heartbeat timeouts.
		if t.LeaderLeaseTimeout > t.HeartbeatTimeout {
			t.LeaderLeaseTimeout = t.HeartbeatTimeout
		}
	}
	return t
}

// Peer is one voter of the cluster as a node knows it.
type Peer struct {
	ID       string
	RaftAddr string // address stored in the Raft configuration
	HTTPAddr string // where its HTTP API listens (for forwarding)
	DialAddr string // where this node dials to reach it; "" means RaftAddr
}

// NodeConfig configures one node process.
type NodeConfig struct {
	ID       string
	DataDir  string
	RaftAddr string // bind and advertise address of the Raft transport
	HTTPAddr string
	// RaftListener and HTTPListener, when set, are listening sockets the
	// node serves on instead of binding RaftAddr and HTTPAddr itself: a
	// launcher that bound them keeps the ports from the moment it chose
	// them, so no other process can take one before the node starts.
	// RaftAddr stays the address advertised in the Raft configuration and
	// must be the listener's. StartNode owns them: it closes them if it
	// fails.
	RaftListener, HTTPListener net.Listener
	// Peers are all voters including this node.
	Peers []Peer
	// Bootstrap makes a node without Raft state bootstrap the cluster with
	// Peers as the initial configuration. Every node may be given it: the
	// configurations are identical, and a node with state never bootstraps.
	Bootstrap         bool
	Timing            Timing
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	Logger            hclog.Logger
}

// ErrConfig is wrapped by every configuration problem a node reports.
var ErrConfig = errors.New("invalid node configuration")

// Validate reports the first configuration problem.
func (c *NodeConfig) Validate() error {
	if c.ID == "" {
		return fmt.Errorf("%w: id is empty", ErrConfig)
	}
	if c.DataDir == "" {
		return fmt.Errorf("%w: data dir is empty", ErrConfig)
	}
	for name, addr := range map[string]string{"raft address": c.RaftAddr, "http address": c.HTTPAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrConfig, name, addr, err)
		}
	}
	self := false
	seen := map[string]bool{}
	for _, p := range c.Peers {
		if p.ID == "" || p.RaftAddr == "" {
			return fmt.Errorf("%w: peer %q has no id or raft address", ErrConfig, p.ID)
		}
		if seen[p.ID] {
			return fmt.Errorf("%w: peer %q listed twice", ErrConfig, p.ID)
		}
		seen[p.ID] = true
		if p.ID == c.ID {
			self = true
		}
	}
	if len(c.Peers) > 0 && !self {
		return fmt.Errorf("%w: peers do not include this node %q", ErrConfig, c.ID)
	}
	t := c.Timing.withDefaults()
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.ID)
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = t.HeartbeatTimeout, t.ElectionTimeout, t.LeaderLeaseTimeout
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return nil
}

// Node is one running member of the reference cluster.
type Node struct {
	cfg       NodeConfig
	raft      *raft.Raft
	raftCfg   *raft.Config
	fsm       *kvFSM
	transport *raft.NetworkTransport
	wrapped   raft.Transport // transport as Raft sees it: measured
	rtts      *hashicorp.RTTs
	store     *raftboltdb.BoltStore
	http      *http.Server
	httpLn    net.Listener
	log       hclog.Logger
	peersByID map[string]Peer
	forwarder *http.Client // to the leader's HTTP API
}

// dialProvider routes the dial of each peer to its override address, so
// every directed link can pass through its own proxy.
type dialProvider map[raft.ServerID]raft.ServerAddress

func (d dialProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if a, ok := d[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("no address known for server %q", id)
}

// StartNode opens the node's stores, starts Raft and the HTTP API. It fails
// without touching existing files if the data directory cannot be opened
// (for example a corrupt bolt file) or an address is in use.
func StartNode(cfg NodeConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		closeListeners(cfg.RaftListener, cfg.HTTPListener)
		return nil, err
	}
	if err := cfg.checkListeners(); err != nil {
		closeListeners(cfg.RaftListener, cfg.HTTPListener)
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: cfg.ID, Output: os.Stderr, Level: hclog.Info})
	}
	cfg.Timing = cfg.Timing.withDefaults()
	n := &Node{cfg: cfg, fsm: newKVFSM(), log: cfg.Logger, peersByID: map[string]Peer{},
		forwarder: &http.Client{Timeout: 2 * applyTimeout}}
	for _, p := range cfg.Peers {
		n.peersByID[p.ID] = p
	}
	ok := false
	defer func() {
		if !ok {
			n.closeStores()
			closeListeners(cfg.RaftListener) // unless the transport took it
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		closeListeners(cfg.HTTPListener)
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// Bind the HTTP port first: it is the cheapest failure to report and
	// nothing has been opened yet.
	ln := cfg.HTTPListener
	if ln == nil {
		l, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("http listen %s: %w", cfg.HTTPAddr, err)
		}
		ln = l
	}
	n.httpLn = ln

	boltPath := filepath.Join(cfg.DataDir, "raft.db")
	store, err := openBolt(boltPath)
	if err != nil {
		return nil, err
	}
	n.store = store
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, cfg.Logger.Named("snapshot"))
	if err != nil {
		return nil, fmt.Errorf("snapshot store in %s: %w", cfg.DataDir, err)
	}

	provider := dialProvider{}
	for _, p := range cfg.Peers {
		addr := p.DialAddr
		if addr == "" {
			addr = p.RaftAddr
		}
		provider[raft.ServerID(p.ID)] = raft.ServerAddress(addr)
	}
	adv, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("raft address %s: %w", cfg.RaftAddr, err)
	}
	tcfg := &raft.NetworkTransportConfig{
		ServerAddressProvider: provider,
		Logger:                cfg.Logger.Named("transport"),
		MaxPool:               3,
		Timeout:               2 * time.Second,
		// No pipelined replication. hashicorp/raft v1.8.0's pipeline can
		// deadlock: with the default two RPCs in flight its channels are
		// unbuffered, and when a follower's answer ends the decoder (a
		// stale term or Success=false) the sender parks on a channel no
		// one reads. That follower then gets heartbeats but no entries,
		// and Shutdown waits forever for the sender. It was seen here
		// under slowed leader links (a hand-off test that never shut
		// down). One RPC in flight takes the synchronous path; at the
		// reference cluster's write rates nothing is lost.
		MaxRPCsInFlight: 1,
	}
	var trans *raft.NetworkTransport
	if cfg.RaftListener != nil {
		tcfg.Stream = tcpStream{cfg.RaftListener}
		trans = raft.NewNetworkTransportWithConfig(tcfg)
		cfg.RaftListener = nil // closed with the transport from here on
	} else if trans, err = raft.NewTCPTransportWithConfig(cfg.RaftAddr, adv, tcfg); err != nil {
		return nil, fmt.Errorf("raft listen %s: %w", cfg.RaftAddr, err)
	}
	n.transport = trans

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.Timing.HeartbeatTimeout
	rc.ElectionTimeout = cfg.Timing.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.Timing.LeaderLeaseTimeout
	rc.Logger = cfg.Logger.Named("raft")
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
		rc.TrailingLogs = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	n.raftCfg = rc

	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		return nil, fmt.Errorf("read raft state in %s: %w", cfg.DataDir, err)
	}
	if !has && cfg.Bootstrap {
		var servers []raft.Server
		for _, p := range cfg.Peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
		}
		sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
		if err := raft.BootstrapCluster(rc, store, store, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
	}
	n.rtts = &hashicorp.RTTs{}
	n.wrapped = hashicorp.WrapTransport(trans, n.rtts)
	r, err := raft.NewRaft(rc, n.fsm, store, store, snaps, n.wrapped)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	n.raft = r

	n.http = &http.Server{Handler: n.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "error", err)
		}
	}()
	ok = true
	n.log.Info("node started", "raft", cfg.RaftAddr, "http", ln.Addr().String(),
		"heartbeat_timeout", cfg.Timing.HeartbeatTimeout, "election_timeout", cfg.Timing.ElectionTimeout,
		"leader_lease_timeout", cfg.Timing.LeaderLeaseTimeout)
	return n, nil
}

// checkListeners reports a given listener that is not TCP or, for Raft,
// not on the advertised address.
func (c *NodeConfig) checkListeners() error {
	for name, ln := range map[string]net.Listener{"raft": c.RaftListener, "http": c.HTTPListener} {
		if ln == nil {
			continue
		}
		if _, ok := ln.Addr().(*net.TCPAddr); !ok {
			return fmt.Errorf("%w: %s listener on %s %s: want TCP", ErrConfig, name, ln.Addr().Network(), ln.Addr())
		}
	}
	if c.RaftListener != nil {
		adv, err := net.ResolveTCPAddr("tcp", c.RaftAddr)
		if err != nil {
			return fmt.Errorf("%w: raft address %q: %v", ErrConfig, c.RaftAddr, err)
		}
		if got := c.RaftListener.Addr().(*net.TCPAddr); !got.IP.Equal(adv.IP) || got.Port != adv.Port {
			return fmt.Errorf("%w: raft listener is on %s, but the advertised raft address is %s", ErrConfig, got, c.RaftAddr)
		}
	}
	return nil
}

func closeListeners(lns ...net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// tcpStream is hashicorp/raft's StreamLayer over a listener the node was
// given: it accepts on it and dials peers over TCP.
type tcpStream struct{ net.Listener }

func (s tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

// openBolt opens the bolt log/stable store with a timeout, so a second
// process on the same directory fails instead of blocking on the file lock.
func openBolt(path string) (*raftboltdb.BoltStore, error) {
	type result struct {
		s   *raftboltdb.BoltStore
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := raftboltdb.NewBoltStore(path)
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("open raft store %s (left untouched): %w", path, r.err)
		}
		return r.s, nil
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("open raft store %s: still locked after 5s; is another node using this data dir?", path)
	}
}

// Raft returns the node's Raft instance, for in-process hooks such as a
// timing adapter.
func (n *Node) Raft() *raft.Raft { return n.raft }

// RaftConfig returns the configuration the node started with.
func (n *Node) RaftConfig() raft.Config { return *n.raftCfg }

// Transport is the node's transport as Raft sees it (measured), and RTTs
// what it measures: both for the hashicorp adapter.
func (n *Node) Transport() (raft.Transport, *hashicorp.RTTs) { return n.wrapped, n.rtts }

// HTTPAddr returns the address the HTTP API listens on.
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// Shutdown stops the HTTP API and Raft and closes the stores.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	if n.http != nil {
		errs = append(errs, n.http.Shutdown(ctx))
	}
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	n.closeStores()
	return errors.Join(errs...)
}

func (n *Node) closeStores() {
	if n.transport != nil {
		_ = n.transport.Close()
	}
	if n.store != nil {
		_ = n.store.Close()
	}
	if n.httpLn != nil {
		_ = n.httpLn.Close()
	}
}
