package refcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EtcdConfig configures a local etcd cluster of real etcd server
// processes (built by scripts/etcd-build.sh).
type EtcdConfig struct {
	// Binary is the etcd executable.
	Binary string
	// Dir holds each member's data dir and log.
	Dir string
	// Members is the cluster size (3 to 9); names m1…mN.
	Members int
	// Mesh, when set, puts a toxiproxy proxy in front of every member's
	// peer listener (the member advertises the proxy), so faults can be
	// injected on each member's peer traffic.
	Mesh *Mesh
	// HeartbeatInterval and ElectionTimeout are etcd's flags (defaults
	// 100ms and 1s).
	HeartbeatInterval, ElectionTimeout time.Duration
}

// EtcdMember is one running member.
type EtcdMember struct {
	Name      string
	ClientURL string // http://127.0.0.1:port, also serving /metrics
	PeerURL   string // what the member listens on
	Advertise string // what peers dial (the proxy with a Mesh)
	args      []string
	logPath   string
	mu        sync.Mutex
	proc      *nodeProc
}

// EtcdCluster is a running local etcd cluster.
type EtcdCluster struct {
	cfg     EtcdConfig
	Members []*EtcdMember
}

// StartEtcd starts the members and waits until every one is healthy.
func StartEtcd(ctx context.Context, cfg EtcdConfig) (*EtcdCluster, error) {
	if cfg.Members < 1 || cfg.Members > 9 {
		return nil, fmt.Errorf("etcd cluster of %d members: want 1 to 9", cfg.Members)
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 100 * time.Millisecond
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = time.Second
	}
	ports, err := freePorts(2 * cfg.Members)
	if err != nil {
		return nil, err
	}
	c := &EtcdCluster{cfg: cfg}
	var initial []string
	for i := 0; i < cfg.Members; i++ {
		m := &EtcdMember{Name: fmt.Sprintf("m%d", i+1), ClientURL: "http://" + ports[2*i], PeerURL: "http://" + ports[2*i+1]}
		m.Advertise = m.PeerURL
		if cfg.Mesh != nil {
			addr, err := cfg.Mesh.Front(m.Name, ports[2*i+1])
			if err != nil {
				return nil, err
			}
			m.Advertise = "http://" + addr
		}
		initial = append(initial, m.Name+"="+m.Advertise)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		dir := filepath.Join(cfg.Dir, m.Name)
		m.logPath = filepath.Join(cfg.Dir, m.Name+".log")
		m.args = []string{"--name", m.Name, "--data-dir", dir,
			"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
			"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.Advertise,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "nsraft-" + filepath.Base(cfg.Dir),
			"--heartbeat-interval", fmt.Sprint(cfg.HeartbeatInterval.Milliseconds()),
			"--election-timeout", fmt.Sprint(cfg.ElectionTimeout.Milliseconds()),
			"--logger", "zap", "--log-level", "warn"}
		if err := c.spawn(m); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, m := range c.Members {
		if err := c.waitHealthy(ctx, m); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

func (c *EtcdCluster) spawn(m *EtcdMember) error {
	p, err := startProc("etcd "+m.Name, c.cfg.Binary, m.args, nil, nil, m.logPath)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	return nil
}

// waitHealthy polls the member's /health until it reports a leader.
func (c *EtcdCluster) waitHealthy(ctx context.Context, m *EtcdMember) error {
	deadline := time.Now().Add(30 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		if resp, err := hc.Get(m.ClientURL + "/health"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b), `"health":"true"`) {
				return nil
			}
		}
		p := m.process()
		select {
		case <-p.done:
			b, _ := os.ReadFile(m.logPath)
			return fmt.Errorf("etcd %s exited during start (%v): %s", m.Name, p.err, tail(b, 1500))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd %s not healthy after 30s", m.Name)
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Member returns the member named name.
func (c *EtcdCluster) Member(name string) *EtcdMember {
	for _, m := range c.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func (m *EtcdMember) process() *nodeProc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

func (c *EtcdCluster) signal(name string, s syscall.Signal) error {
	m := c.Member(name)
	if m == nil {
		return fmt.Errorf("no member %s", name)
	}
	if p := m.process(); p != nil {
		return p.signal(s)
	}
	return fmt.Errorf("etcd %s: %w", name, ErrNodeDown)
}

// Kill SIGKILLs a member and waits for it to be gone.
func (c *EtcdCluster) Kill(name string) error {
	m := c.Member(name)
	if m == nil {
		return fmt.Errorf("no member %s", name)
	}
	return m.process().kill()
}

// Pause SIGSTOPs a member.
func (c *EtcdCluster) Pause(name string) error { return c.signal(name, syscall.SIGSTOP) }

// Resume SIGCONTs a paused member.
func (c *EtcdCluster) Resume(name string) error { return c.signal(name, syscall.SIGCONT) }

// Restart starts a stopped member again on its data dir (rejoining the
// cluster) and waits until it is healthy.
func (c *EtcdCluster) Restart(ctx context.Context, name string) error {
	m := c.Member(name)
	if m == nil {
		return fmt.Errorf("no member %s", name)
	}
	if m.process().alive() {
		return fmt.Errorf("restart etcd %s: still running", name)
	}
	if err := c.spawn(m); err != nil {
		return err
	}
	return c.waitHealthy(ctx, m)
}

// Stop terminates every member, waiting up to 10s.
func (c *EtcdCluster) Stop() error {
	var procs []*nodeProc
	for _, m := range c.Members {
		procs = append(procs, m.process())
	}
	return stopAll(procs, 10*time.Second)
}
