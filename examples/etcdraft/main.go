// Command etcdraft is a small go.etcd.io/raft embedder: one raft node per
// process, its messages carried between processes over TCP, its state
// kept in a file so a killed node restarts where it was. Its tick loop is
// an etcd.TickDriver; with -agent-addr the driver links to the
// `ns-agent run` beside it (host.kind = "etcd-raft") over the agent's gRPC
// protocol, and the agent's decisions set the node's tick period. Without
// -agent-addr every tick is -tick long: the same node on a fixed tick.
//
// Three nodes on loopback, each beside its agent:
//
//	ns-agent run -config n1.agent.hcl &   # host { kind = "etcd-raft" }, listen { grpc = "unix:///tmp/n1.sock" }
//	etcdraft -id 1 -listen 127.0.0.1:7001 -http 127.0.0.1:8001 \
//	  -peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 \
//	  -data /tmp/n1 -agent-addr unix:///tmp/n1.sock
//
// GET /status on the -http address answers with the node's state as JSON
// (id, term, lead, state, tick period, elections seen, when it last
// campaigned), for scripts and tests.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/nsraft/nsraft/adapter/etcd"
	"github.com/nsraft/nsraft/adapter/link"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "etcdraft:", err)
		os.Exit(1)
	}
}

// Status is what GET /status answers.
type Status struct {
	ID    uint64 `json:"id"`
	Term  uint64 `json:"term"`
	Lead  uint64 `json:"lead"`
	State string `json:"state"`
	// TickNs is the tick period in force; ElectionTimeoutNs is
	// ElectionTick of them.
	TickNs            int64 `json:"tick_ns"`
	ElectionTimeoutNs int64 `json:"election_timeout_ns"`
	// CampaignedUnixNano is when this node last timed out waiting for a
	// leader and campaigned (pre-vote or vote); 0 if never.
	CampaignedUnixNano int64 `json:"campaigned_unix_nano"`
	Campaigns          int   `json:"campaigns"`
	Linked             bool  `json:"linked"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("etcdraft", flag.ContinueOnError)
	id := fs.Uint64("id", 0, "this node's raft ID (1…N)")
	listen := fs.String("listen", "", "host:port this node receives raft messages on")
	httpAddr := fs.String("http", "127.0.0.1:0", "host:port of GET /status")
	listenFD := fs.Int("listen-fd", 0, "receive raft messages on this inherited listening socket (a launcher that holds the port passes it) instead of binding -listen")
	httpFD := fs.Int("http-fd", 0, "serve GET /status on this inherited listening socket instead of binding -http")
	peers := fs.String("peers", "", "every node as ID=host:port, comma-separated (this node's own entry is ignored)")
	data := fs.String("data", "", "directory of the node's state (created; a node with state restarts from it)")
	agentAddr := fs.String("agent-addr", "", "the agent to link the tick driver to (unix:///path or host:port); empty: fixed tick")
	tick := fs.Duration("tick", 10*time.Millisecond, "tick period without an agent, and the shortest with one")
	electionTick := fs.Int("election-tick", 15, "raft ElectionTick")
	heartbeatTick := fs.Int("heartbeat-tick", 1, "raft HeartbeatTick")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addrs, err := parsePeers(*peers)
	if err != nil {
		return err
	}
	if _, ok := addrs[*id]; !ok || *id == 0 {
		return fmt.Errorf("-id %d is not among -peers", *id)
	}
	if *listen == "" || *data == "" {
		return errors.New("-listen and -data are required")
	}
	n, err := newNode(*id, addrs, *data, *tick, *electionTick, *heartbeatTick)
	if err != nil {
		return err
	}
	ln, err := listenOn("-listen", *listen, *listenFD)
	if err != nil {
		return err
	}
	hl, err := listenOn("-http", *httpAddr, *httpFD)
	if err != nil {
		return err
	}
	var lk *link.Link
	if *agentAddr != "" {
		lk = etcd.Connect(n.driver, link.Config{Target: *agentAddr, Seed: *id})
		n.linked = lk
	}
	go n.serve(ln)
	go http.Serve(hl, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.status())
	}))
	fmt.Printf("node %d: raft %s, status http://%s/status\n", *id, ln.Addr(), hl.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n.loop(ctx)
	if lk != nil {
		lk.Close()
	}
	return nil
}

func parsePeers(s string) (map[uint64]string, error) {
	out := map[uint64]string{}
	for _, p := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		id, err := strconv.ParseUint(k, 10, 64)
		if !ok || err != nil || id == 0 || v == "" {
			return nil, fmt.Errorf("-peers: %q is not ID=host:port", p)
		}
		out[id] = v
	}
	return out, nil
}

type node struct {
	id      uint64
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	driver  *etcd.TickDriver
	linked  *link.Link
	file    string
	inbox   chan pb.Message
	out     map[uint64]*peer
	eTick   int

	mu         sync.Mutex
	st         raft.BasicStatus
	campaigned time.Time
	campaigns  int
}

func newNode(id uint64, addrs map[uint64]string, dir string, tick time.Duration, electionTick, heartbeatTick int) (*node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	n := &node{id: id, storage: raft.NewMemoryStorage(), file: filepath.Join(dir, "raft.state"),
		inbox: make(chan pb.Message, 4096), out: map[uint64]*peer{}, eTick: electionTick}
	fresh, err := n.load()
	if err != nil {
		return nil, err
	}
	quiet := &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	n.rn, err = raft.NewRawNode(&raft.Config{ID: id, ElectionTick: electionTick, HeartbeatTick: heartbeatTick,
		Storage: n.storage, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, PreVote: true, CheckQuorum: true, Logger: quiet})
	if err != nil {
		return nil, err
	}
	if fresh {
		var ps []raft.Peer
		for pid := range addrs {
			ps = append(ps, raft.Peer{ID: pid})
		}
		if err := n.rn.Bootstrap(ps); err != nil {
			return nil, err
		}
	}
	voters := slices.Sorted(maps.Keys(addrs))
	n.driver = etcd.NewTickDriver(etcd.TickConfig{NodeID: id, ClusterSize: len(addrs), ElectionTick: electionTick,
		HeartbeatTick: heartbeatTick, Base: tick, PreVote: true, CheckQuorum: true, Voters: voters})
	for pid, a := range addrs {
		if pid != id {
			n.out[pid] = newPeer(a)
		}
	}
	return n, nil
}

// load restores the hard state and log a previous run saved; fresh says
// there was none.
func (n *node) load() (fresh bool, err error) {
	b, err := os.ReadFile(n.file)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var hs pb.HardState
	var ents []pb.Entry
	for len(b) > 0 {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return false, fmt.Errorf("%s: torn record", n.file)
		}
		rec := b[k : k+int(l)]
		b = b[k+int(l):]
		if len(rec) == 0 {
			return false, fmt.Errorf("%s: empty record", n.file)
		}
		switch rec[0] {
		case 'h':
			if err := hs.Unmarshal(rec[1:]); err != nil {
				return false, fmt.Errorf("%s: %w", n.file, err)
			}
		case 'e':
			var e pb.Entry
			if err := e.Unmarshal(rec[1:]); err != nil {
				return false, fmt.Errorf("%s: %w", n.file, err)
			}
			ents = append(ents, e)
		default:
			return false, fmt.Errorf("%s: unknown record kind %q", n.file, rec[0])
		}
	}
	if err := n.storage.Append(ents); err != nil {
		return false, err
	}
	return false, n.storage.SetHardState(hs)
}

// save writes the hard state and the whole log (a few entries: this
// example commits only the leaders' empty entries) and syncs it before
// any message of the Ready leaves.
func (n *node) save() error {
	hs, _, err := n.storage.InitialState()
	if err != nil {
		return err
	}
	first, _ := n.storage.FirstIndex()
	last, _ := n.storage.LastIndex()
	ents, err := n.storage.Entries(first, last+1, 1<<30)
	if err != nil {
		return err
	}
	var buf []byte
	put := func(kind byte, m interface{ Marshal() ([]byte, error) }) {
		b, _ := m.Marshal()
		buf = binary.AppendUvarint(buf, uint64(len(b)+1))
		buf = append(append(buf, kind), b...)
	}
	put('h', &hs)
	for i := range ents {
		put('e', &ents[i])
	}
	tmp := n.file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, n.file)
}

func (n *node) loop(ctx context.Context) {
	t := time.NewTimer(n.driver.Next())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.rn.Tick()
			t.Reset(n.driver.Next())
		case m := <-n.inbox:
			n.driver.Heard(m)
			n.rn.Step(m)
		}
		for n.rn.HasReady() {
			rd := n.rn.Ready()
			dirty := !raft.IsEmptyHardState(rd.HardState) || len(rd.Entries) > 0
			if !raft.IsEmptyHardState(rd.HardState) {
				n.storage.SetHardState(rd.HardState)
			}
			n.storage.Append(rd.Entries)
			if dirty {
				if err := n.save(); err != nil {
					fmt.Fprintln(os.Stderr, "etcdraft: saving state:", err)
					os.Exit(1) // a node that cannot keep its vote must not go on
				}
			}
			for _, m := range rd.Messages {
				if p := n.out[m.To]; p != nil {
					p.send(m)
				}
			}
			// The configuration is the log's: a restarted node learns
			// its voters again from the committed configuration changes
			// (re-adding a known voter changes nothing).
			for _, e := range rd.CommittedEntries {
				if e.Type == pb.EntryConfChange {
					var cc pb.ConfChange
					if err := cc.Unmarshal(e.Data); err == nil {
						n.rn.ApplyConfChange(cc)
					}
				}
			}
			n.rn.Advance(rd)
		}
		st := n.rn.BasicStatus()
		n.driver.Observe(st)
		n.mu.Lock()
		if st.RaftState == raft.StatePreCandidate || st.RaftState == raft.StateCandidate {
			if prev := n.st.RaftState; prev != raft.StatePreCandidate && prev != raft.StateCandidate {
				n.campaigned = time.Now()
				n.campaigns++
			}
		}
		n.st = st
		n.mu.Unlock()
	}
}

func (n *node) status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.driver.Period()
	s := Status{ID: n.id, Term: n.st.Term, Lead: n.st.Lead, State: n.st.RaftState.String(), TickNs: int64(p),
		ElectionTimeoutNs: int64(p) * int64(n.eTick), Campaigns: n.campaigns}
	if !n.campaigned.IsZero() {
		s.CampaignedUnixNano = n.campaigned.UnixNano()
	}
	if n.linked != nil {
		s.Linked = n.linked.Stats().Connected
	}
	return s
}

// serve accepts the other nodes' streams: each is a sequence of
// length-prefixed raftpb.Messages.
func (n *node) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				l, err := binary.ReadUvarint(r)
				if err != nil || l > 64<<20 {
					return
				}
				b := make([]byte, l)
				if _, err := io.ReadFull(r, b); err != nil {
					return
				}
				var m pb.Message
				if err := m.Unmarshal(b); err != nil {
					return
				}
				select {
				case n.inbox <- m:
				default: // a full inbox drops, as a congested network would
				}
			}
		}()
	}
}

// peer is the stream to one other node: one TCP connection, redialled
// when it breaks, fed from a bounded queue that drops when full (raft
// retries what matters).
type peer struct {
	addr string
	q    chan pb.Message
}

func newPeer(addr string) *peer {
	p := &peer{addr: addr, q: make(chan pb.Message, 1024)}
	go p.run()
	return p
}

func (p *peer) send(m pb.Message) {
	select {
	case p.q <- m:
	default:
	}
}

func (p *peer) run() {
	var c net.Conn
	var w *bufio.Writer
	for m := range p.q {
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", p.addr, time.Second); err != nil {
				c = nil
				continue // the message is lost, as on a real network
			}
			w = bufio.NewWriter(c)
		}
		b, err := m.Marshal()
		if err != nil {
			continue
		}
		w.Write(binary.AppendUvarint(nil, uint64(len(b))))
		w.Write(b)
		// Batch what is already queued into one write.
		for more := len(p.q); more > 0 && err == nil; more-- {
			m2 := <-p.q
			if b2, err2 := m2.Marshal(); err2 == nil {
				w.Write(binary.AppendUvarint(nil, uint64(len(b2))))
				w.Write(b2)
			}
		}
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if err := w.Flush(); err != nil {
			c.Close()
			c = nil
		}
	}
}

// listenOn binds addr, or takes over the listening socket a launcher
// passed at descriptor fd (not 0). A launcher that binds a port, closes it
// and hands the number to a process races anything else on the machine
// that binds port 0 in between; one that keeps the socket open and passes
// it does not, and keeps the port while the process restarts.
func listenOn(flagName, addr string, fd int) (net.Listener, error) {
	if fd == 0 {
		return net.Listen("tcp", addr)
	}
	if fd < 3 {
		return nil, fmt.Errorf("%s-fd %d: want an inherited descriptor, 3 or above", flagName, fd)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("%s-fd %d", flagName, fd))
	if f == nil {
		return nil, fmt.Errorf("%s-fd %d: not a valid descriptor", flagName, fd)
	}
	defer f.Close() // the listener holds its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("%s-fd %d: not an inherited listening socket: %v", flagName, fd, err)
	}
	return ln, nil
}
