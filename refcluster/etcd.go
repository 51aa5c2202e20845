package refcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
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
	if err := os.MkdirAll(c.cfg.Dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.cfg.Binary, m.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start etcd %s: %w", m.Name, err)
	}
	p := &nodeProc{cmd: cmd, done: make(chan struct{}), logf: f}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
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
		m.mu.Lock()
		p := m.proc
		m.mu.Unlock()
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

func (m *EtcdMember) signal(s syscall.Signal) (*nodeProc, error) {
	m.mu.Lock()
	p := m.proc
	m.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("etcd %s: %w", m.Name, ErrNodeDown)
	}
	select {
	case <-p.done:
		return nil, fmt.Errorf("etcd %s: %w", m.Name, ErrNodeDown)
	default:
	}
	return p, p.cmd.Process.Signal(s)
}

// Kill SIGKILLs a member and waits for it to be gone.
func (c *EtcdCluster) Kill(name string) error {
	m := c.Member(name)
	if m == nil {
		return fmt.Errorf("no member %s", name)
	}
	p, err := m.signal(syscall.SIGKILL)
	if err != nil {
		return err
	}
	<-p.done
	return nil
}

// Pause SIGSTOPs a member; Resume SIGCONTs it.
func (c *EtcdCluster) Pause(name string) error {
	if m := c.Member(name); m != nil {
		_, err := m.signal(syscall.SIGSTOP)
		return err
	}
	return fmt.Errorf("no member %s", name)
}

// Resume SIGCONTs a paused member.
func (c *EtcdCluster) Resume(name string) error {
	if m := c.Member(name); m != nil {
		_, err := m.signal(syscall.SIGCONT)
		return err
	}
	return fmt.Errorf("no member %s", name)
}

// Restart starts a stopped member again on its data dir (rejoining the
// cluster) and waits until it is healthy.
func (c *EtcdCluster) Restart(ctx context.Context, name string) error {
	m := c.Member(name)
	if m == nil {
		return fmt.Errorf("no member %s", name)
	}
	if _, err := m.signal(0); err == nil {
		return fmt.Errorf("restart etcd %s: still running", name)
	}
	if err := c.spawn(m); err != nil {
		return err
	}
	return c.waitHealthy(ctx, m)
}

// Stop terminates every member, waiting up to 10s each.
func (c *EtcdCluster) Stop() error {
	var errs []error
	for _, m := range c.Members {
		m.mu.Lock()
		p := m.proc
		m.mu.Unlock()
		if p == nil {
			continue
		}
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("etcd %s did not stop on SIGTERM", m.Name))
		}
	}
	return errors.Join(errs...)
}
