package rawcluster

import (
	"context"
	"io"
	"log"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/nsraft/nsraft/adapter/etcd"
)

// Config configures a cluster.
type Config struct {
	// Nodes is the cluster size (IDs 1…Nodes).
	Nodes int
	// Base is the tick period; ElectionTick and HeartbeatTick the raft
	// configuration (defaults 10ms, 15 and 1: a 150ms election timeout).
	Base                        time.Duration
	ElectionTick, HeartbeatTick int
	// Drivers gives every node an etcd.TickDriver; without, nodes tick
	// at Base.
	Drivers bool
}

// Node is one member.
type Node struct {
	ID      uint64
	Driver  *etcd.TickDriver // nil without Drivers
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	inbox   chan pb.Message

	mu     sync.Mutex
	status raft.BasicStatus
}

// Status is the node's state after its last Ready.
func (n *Node) Status() raft.BasicStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status
}

// Cluster is a running set of nodes.
type Cluster struct {
	cfg   Config
	Nodes []*Node

	mu       sync.Mutex
	delay    map[uint64]time.Duration // extra delay of everything a node sends
	maxTerm  uint64
	terms    int // term increments seen cluster-wide
	leaderAt map[uint64]time.Time
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

// New builds and starts a cluster.
func New(cfg Config) *Cluster {
	if cfg.Base <= 0 {
		cfg.Base = 10 * time.Millisecond
	}
	if cfg.ElectionTick <= 0 {
		cfg.ElectionTick = 15
	}
	if cfg.HeartbeatTick <= 0 {
		cfg.HeartbeatTick = 1
	}
	c := &Cluster{cfg: cfg, delay: map[uint64]time.Duration{}}
	var peers []raft.Peer
	var voters []uint64
	for i := 1; i <= cfg.Nodes; i++ {
		peers = append(peers, raft.Peer{ID: uint64(i)})
		voters = append(voters, uint64(i))
	}
	quiet := &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	for i := 1; i <= cfg.Nodes; i++ {
		st := raft.NewMemoryStorage()
		rn, err := raft.NewRawNode(&raft.Config{ID: uint64(i), ElectionTick: cfg.ElectionTick, HeartbeatTick: cfg.HeartbeatTick,
			Storage: st, MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, PreVote: true, CheckQuorum: true, Logger: quiet})
		if err != nil {
			panic(err) // a static, valid configuration
		}
		if err := rn.Bootstrap(peers); err != nil {
			panic(err)
		}
		n := &Node{ID: uint64(i), rn: rn, storage: st, inbox: make(chan pb.Message, 4096)}
		if cfg.Drivers {
			n.Driver = etcd.NewTickDriver(etcd.TickConfig{NodeID: n.ID, ClusterSize: cfg.Nodes, ElectionTick: cfg.ElectionTick,
				HeartbeatTick: cfg.HeartbeatTick, Base: cfg.Base, PreVote: true, CheckQuorum: true, Voters: voters})
		}
		c.Nodes = append(c.Nodes, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, n := range c.Nodes {
		c.wg.Add(1)
		go c.run(ctx, n)
	}
	return c
}

// Stop stops every node.
func (c *Cluster) Stop() {
	c.cancel()
	c.wg.Wait()
}

// SetDelay delays everything node id sends by d (0: none).
func (c *Cluster) SetDelay(id uint64, d time.Duration) {
	c.mu.Lock()
	c.delay[id] = d
	c.mu.Unlock()
}

// Elections is how many times the cluster's highest term has grown.
func (c *Cluster) Elections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terms
}

// Leader is the node that leads in the highest term, or 0.
func (c *Cluster) Leader() uint64 {
	var best raft.BasicStatus
	for _, n := range c.Nodes {
		if st := n.Status(); st.RaftState == raft.StateLeader && st.Term >= best.Term {
			best = st
		}
	}
	return best.ID
}

// Propose submits data through the leader (dropped without one).
func (c *Cluster) Propose(data []byte) {
	if l := c.Leader(); l != 0 {
		m := pb.Message{Type: pb.MsgProp, From: l, To: l, Entries: []pb.Entry{{Data: data}}}
		select {
		case c.Nodes[l-1].inbox <- m:
		default:
		}
	}
}

func (c *Cluster) send(m pb.Message) {
	c.mu.Lock()
	d := c.delay[m.From]
	c.mu.Unlock()
	to := c.Nodes[m.To-1]
	deliver := func() {
		select {
		case to.inbox <- m:
		default: // a full inbox drops, as a congested network would
		}
	}
	if d <= 0 {
		deliver()
		return
	}
	time.AfterFunc(d, deliver)
}

func (c *Cluster) run(ctx context.Context, n *Node) {
	defer c.wg.Done()
	next := func() time.Duration {
		if n.Driver != nil {
			return n.Driver.Next()
		}
		return c.cfg.Base
	}
	t := time.NewTimer(next())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.rn.Tick()
			t.Reset(next())
		case m := <-n.inbox:
			if n.Driver != nil {
				n.Driver.Heard(m)
			}
			n.rn.Step(m)
		}
		for n.rn.HasReady() {
			rd := n.rn.Ready()
			if !raft.IsEmptyHardState(rd.HardState) {
				n.storage.SetHardState(rd.HardState)
			}
			n.storage.Append(rd.Entries)
			for _, m := range rd.Messages {
				c.send(m)
			}
			n.rn.Advance(rd)
		}
		st := n.rn.BasicStatus()
		n.mu.Lock()
		n.status = st
		n.mu.Unlock()
		if n.Driver != nil {
			n.Driver.Observe(st)
		}
		c.mu.Lock()
		if st.Term > c.maxTerm {
			if c.maxTerm != 0 {
				c.terms += int(st.Term - c.maxTerm)
			}
			c.maxTerm = st.Term
		}
		c.mu.Unlock()
	}
}
