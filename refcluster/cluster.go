package refcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ClusterConfig configures a local cluster of node processes.
type ClusterConfig struct {
	// Nodes is the number of voters, 3 to 9; their IDs are n1…nN.
	Nodes int
	// Binary is the ns-agent executable; each node runs `<Binary> node …`.
	Binary string
	// Dir holds one data directory and one log file per node.
	Dir    string
	Timing Timing
	// Dial, when set, returns the address node from must dial to reach
	// node to, whose Raft listener is raftAddr. The fault mesh supplies it;
	// nil dials directly.
	Dial func(from, to, raftAddr string) (string, error)
	// Log receives every node's output; nil writes <Dir>/<id>.log.
	Log io.Writer
	// ExtraArgs, when set, adds arguments to a node's command line.
	ExtraArgs func(id string) []string
}

// Cluster is a running set of node processes on loopback.
type Cluster struct {
	cfg   ClusterConfig
	ids   []string
	raft  map[string]string
	http  map[string]string
	mu    sync.Mutex
	procs map[string]*nodeProc
	hc    *http.Client
}

// Start binds a loopback Raft and HTTP listener for each node, spawns the
// node processes, each serving on the listeners it inherits, and waits
// until every node's HTTP API answers. A port is held from the moment it
// is chosen until its node exits, so no other process (another cluster,
// a proxy of the fault mesh) can take it in between.
func Start(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Nodes < 3 || cfg.Nodes > 9 {
		return nil, fmt.Errorf("cluster size %d: want 3 to 9 voters", cfg.Nodes)
	}
	if cfg.Binary == "" || cfg.Dir == "" {
		return nil, errors.New("cluster: Binary and Dir are required")
	}
	c := &Cluster{cfg: cfg, raft: map[string]string{}, http: map[string]string{}, procs: map[string]*nodeProc{},
		hc: &http.Client{Timeout: 2 * time.Second}}
	for i := 1; i <= cfg.Nodes; i++ {
		id := "n" + strconv.Itoa(i)
		c.ids = append(c.ids, id)
	}
	lns, err := listenLoopback(2 * cfg.Nodes)
	if err != nil {
		return nil, err
	}
	// This process's copies: each node has its own once it has started.
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i, id := range c.ids {
		c.raft[id] = lns[2*i].Addr().String()
		c.http[id] = lns[2*i+1].Addr().String()
	}
	for i, id := range c.ids {
		if err := c.spawn(id, lns[2*i], lns[2*i+1]); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	for _, id := range c.ids {
		if err := c.waitReady(ctx, id); err != nil {
			_ = c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// listenLoopback binds n listeners on loopback ports the system chooses.
func listenLoopback(n int) ([]*net.TCPListener, error) {
	var lns []*net.TCPListener
	for i := 0; i < n; i++ {
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("allocate loopback port: %w", err)
		}
		lns = append(lns, l)
	}
	return lns, nil
}

// freePorts returns n loopback addresses that were free a moment ago, for
// servers that cannot inherit a listener (etcd, an agent's HTTP): another
// process may take one before they bind it.
func freePorts(n int) ([]string, error) {
	lns, err := listenLoopback(n)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range lns {
		out = append(out, l.Addr().String())
		l.Close()
	}
	return out, nil
}

func (c *Cluster) args(id string) ([]string, error) {
	t := c.cfg.Timing
	args := []string{"node", "-id", id, "-data", filepath.Join(c.cfg.Dir, id),
		"-raft", c.raft[id], "-http", c.http[id], "-bootstrap"}
	if t.HeartbeatTimeout > 0 {
		args = append(args, "-heartbeat-timeout", t.HeartbeatTimeout.String())
	}
	if t.ElectionTimeout > 0 {
		args = append(args, "-election-timeout", t.ElectionTimeout.String())
	}
	if t.LeaderLeaseTimeout > 0 {
		args = append(args, "-leader-lease-timeout", t.LeaderLeaseTimeout.String())
	}
	for _, p := range c.ids {
		args = append(args, "-peer", p+"="+c.raft[p], "-peer-http", p+"="+c.http[p])
		if p != id && c.cfg.Dial != nil {
			d, err := c.cfg.Dial(id, p, c.raft[p])
			if err != nil {
				return nil, fmt.Errorf("route %s→%s: %w", id, p, err)
			}
			args = append(args, "-dial", p+"="+d)
		}
	}
	if c.cfg.ExtraArgs != nil {
		args = append(args, c.cfg.ExtraArgs(id)...)
	}
	return args, nil
}

// spawn starts node id. Given listeners, the node serves on them
// (inherited as descriptors 3 and 4); without, as on a restart, it binds
// its addresses itself.
func (c *Cluster) spawn(id string, raftLn, httpLn *net.TCPListener) error {
	args, err := c.args(id)
	if err != nil {
		return err
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if raftLn != nil && httpLn != nil {
		for _, l := range []*net.TCPListener{raftLn, httpLn} {
			f, err := l.File()
			if err != nil {
				return fmt.Errorf("node %s: pass listener %s: %w", id, l.Addr(), err)
			}
			files = append(files, f)
		}
		args = append(args, "-raft-fd", "3", "-http-fd", "4")
	}
	p, err := startProc(id, c.cfg.Binary, args, files, c.cfg.Log, filepath.Join(c.cfg.Dir, id+".log"))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs[id] = p
	c.mu.Unlock()
	return nil
}

func (c *Cluster) waitReady(ctx context.Context, id string) error {
	c.mu.Lock()
	p := c.procs[id]
	c.mu.Unlock()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		if _, err := c.Status(ctx, id); err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("node %s exited during start (%v): %s", id, p.err, c.logTail(id))
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("node %s: HTTP API not ready after 20s", id)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Describe says, for an operator, what each node is doing: whether its
// process runs (or how it exited), its status as it answers now (role,
// term, the leader it follows, its last contact with one, its log
// indexes) and the last lines of its log (when the cluster writes one file
// per node). It is what a failed wait prints.
func (c *Cluster) Describe(ctx context.Context, lines int) string {
	var b strings.Builder
	for _, id := range c.ids {
		fmt.Fprintf(&b, "%s: %s\n", id, c.describeNode(ctx, id))
	}
	if c.cfg.Log != nil || lines <= 0 {
		return b.String()
	}
	for _, id := range c.ids {
		path := filepath.Join(c.cfg.Dir, id+".log")
		tail, err := tailLines(path, lines)
		if err != nil {
			fmt.Fprintf(&b, "%s's log: %v\n", id, err)
			continue
		}
		fmt.Fprintf(&b, "last lines of %s:\n", path)
		for _, l := range tail {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}

func (c *Cluster) describeNode(ctx context.Context, id string) string {
	p := c.proc(id)
	switch {
	case p == nil:
		return "never started"
	case !p.alive():
		return fmt.Sprintf("process %d exited (%v)", p.cmd.Process.Pid, p.err)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := c.Status(sctx, id)
	if err != nil {
		return fmt.Sprintf("process %d running, status on %s does not answer: %v", p.cmd.Process.Pid, c.http[id], err)
	}
	leader, contact := st.LeaderID, "never"
	if leader == "" {
		leader = "none"
	}
	if st.LastContactMS >= 0 {
		contact = (time.Duration(st.LastContactMS) * time.Millisecond).String() + " ago"
	}
	if st.Role == "leader" {
		contact = "-"
	}
	return fmt.Sprintf("process %d running, %s in term %d, leader %s, last leader contact %s, commit %d, applied %d, last log %d, heartbeat timeout %dms",
		p.cmd.Process.Pid, st.Role, st.Term, leader, contact, st.CommitIndex, st.AppliedIndex, st.LastLogIndex, st.HeartbeatTimeoutMS)
}

// tailLines returns the last n lines of a file.
func tailLines(path string, n int) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return ls, nil
}

func (c *Cluster) logTail(id string) string {
	if c.cfg.Log != nil {
		return ""
	}
	b, _ := os.ReadFile(filepath.Join(c.cfg.Dir, id+".log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// IDs returns the node IDs, n1…nN.
func (c *Cluster) IDs() []string { return append([]string(nil), c.ids...) }

// HTTPAddr returns a node's HTTP API address.
func (c *Cluster) HTTPAddr(id string) string { return c.http[id] }

// RaftAddr returns a node's Raft listener address.
func (c *Cluster) RaftAddr(id string) string { return c.raft[id] }

// Status reads GET /status of one node.
func (c *Cluster) Status(ctx context.Context, id string) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.http[id]+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status of %s: HTTP %d", id, resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Running reports whether a node's process is alive (it may be paused).
func (c *Cluster) Running(id string) bool { return c.proc(id).alive() }

func (c *Cluster) proc(id string) *nodeProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[id]
}

// WaitLeader waits until every reachable node not in exclude names the same
// leader, itself not excluded, and that leader reports itself leader. It
// returns the leader and its term.
func (c *Cluster) WaitLeader(ctx context.Context, exclude ...string) (string, uint64, error) {
	skip := map[string]bool{}
	for _, e := range exclude {
		skip[e] = true
	}
	var last string
	for {
		leader, term, why := c.agreedLeader(ctx, skip)
		if leader != "" {
			return leader, term, nil
		}
		last = why
		select {
		case <-ctx.Done():
			return "", 0, fmt.Errorf("no agreed leader: %s: %w", last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) agreedLeader(ctx context.Context, skip map[string]bool) (string, uint64, string) {
	leader := ""
	var term uint64
	for _, id := range c.ids {
		if skip[id] || !c.Running(id) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		st, err := c.Status(sctx, id)
		cancel()
		if err != nil {
			continue // paused or unreachable nodes do not vote here
		}
		if st.LeaderID == "" || skip[st.LeaderID] {
			return "", 0, id + " knows no leader"
		}
		if leader != "" && st.LeaderID != leader {
			return "", 0, fmt.Sprintf("%s follows %s, others %s", id, st.LeaderID, leader)
		}
		leader = st.LeaderID
		if st.ID == leader {
			if st.Role != "leader" {
				return "", 0, leader + " is not leader yet"
			}
			term = st.Term
		}
	}
	if leader == "" || term == 0 {
		return "", 0, "leader has not confirmed"
	}
	return leader, term, ""
}

func (c *Cluster) signal(id string, s syscall.Signal) error {
	if p := c.proc(id); p != nil {
		return p.signal(s)
	}
	return fmt.Errorf("%s: %w", id, ErrNodeDown)
}

// Kill SIGKILLs a node and waits for the process to be gone.
func (c *Cluster) Kill(id string) error {
	if p := c.proc(id); p != nil {
		return p.kill()
	}
	return fmt.Errorf("%s: %w", id, ErrNodeDown)
}

// Pause SIGSTOPs a node, as a long GC pause or an fsync stall would.
func (c *Cluster) Pause(id string) error { return c.signal(id, syscall.SIGSTOP) }

// Resume SIGCONTs a paused node.
func (c *Cluster) Resume(id string) error { return c.signal(id, syscall.SIGCONT) }

// Restart starts a stopped node again on the same data dir and ports.
func (c *Cluster) Restart(ctx context.Context, id string) error {
	if c.Running(id) {
		return fmt.Errorf("restart %s: still running", id)
	}
	if err := c.spawn(id, nil, nil); err != nil {
		return err
	}
	return c.waitReady(ctx, id)
}

// Stop terminates every node (SIGCONT first, so paused nodes can exit),
// waits up to 10s, then kills what is left.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	var procs []*nodeProc
	for _, id := range c.ids {
		procs = append(procs, c.procs[id])
	}
	c.mu.Unlock()
	return stopAll(procs, 10*time.Second)
}
