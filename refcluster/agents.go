package refcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// AgentsConfig configures one `ns-agent run` process per node.
type AgentsConfig struct {
	// Binary is the ns-agent executable.
	Binary string
	// Dir holds each agent's configuration, socket and decision log.
	Dir string
	// IDs are the nodes the agents sit beside.
	IDs []string
	// Recommender is the strategy every agent runs (default lstm).
	Recommender string
	// Policy is a policy file for every agent ("" the embedded default).
	Policy string
	// Tick and LeaseTTL are the agents' (default 100ms and 1s).
	Tick, LeaseTTL time.Duration
	// HTTP gives agents a /metrics listener on a free loopback port.
	HTTP bool
}

// Agents is a set of running agent processes, one per node.
type Agents struct {
	cfg   AgentsConfig
	mu    sync.Mutex
	procs map[string]*nodeProc
	http  map[string]string // guarded by mu: a restart may move it
	rec   map[string]string // each agent's recommender, for rewriting its configuration
}

// StartAgents writes each agent's configuration and starts the agents.
// A node links to its agent with `-agent-addr Socket(id)`; the order of
// starting does not matter because the link reconnects.
func StartAgents(ctx context.Context, cfg AgentsConfig) (*Agents, error) {
	if cfg.Recommender == "" {
		cfg.Recommender = "lstm"
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = time.Second
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	a := &Agents{cfg: cfg, procs: map[string]*nodeProc{}, http: map[string]string{}, rec: map[string]string{}}
	var ports []string
	if cfg.HTTP {
		var err error
		if ports, err = freePorts(len(cfg.IDs)); err != nil {
			return nil, err
		}
	}
	for i, id := range cfg.IDs {
		if cfg.HTTP {
			a.http[id] = ports[i]
		}
		if err := a.writeConfig(id, cfg.Recommender); err != nil {
			return nil, err
		}
	}
	for _, id := range cfg.IDs {
		if err := a.Restart(ctx, id); err != nil {
			a.Stop()
			return nil, err
		}
	}
	return a, nil
}

// writeConfig writes agent id's configuration with the given recommender.
func (a *Agents) writeConfig(id, recommender string) error {
	a.mu.Lock()
	a.rec[id] = recommender
	httpAddr := a.http[id]
	a.mu.Unlock()
	pol := ""
	if a.cfg.Policy != "" {
		pol = fmt.Sprintf("policy = %q\n", a.cfg.Policy)
	}
	src := fmt.Sprintf("node = %q\nrecommender = %q\ntick = %q\nlease_ttl = %q\n%slisten {\n  grpc = %q\n  http = %q\n}\nlog {\n  file = %q\n  stderr = false\n}\n",
		id, recommender, a.cfg.Tick.String(), a.cfg.LeaseTTL.String(), pol, a.Socket(id), httpAddr, a.LogFile(id))
	return os.WriteFile(a.ConfigFile(id), []byte(src), 0o644)
}

// SetRecommender switches agent id to another recommender: it rewrites
// the agent's configuration and sends SIGHUP, as an operator would.
func (a *Agents) SetRecommender(id, recommender string) error {
	if err := a.writeConfig(id, recommender); err != nil {
		return err
	}
	return a.Reload(id)
}

// Socket is the address node id links to.
func (a *Agents) Socket(id string) string {
	return "unix://" + filepath.Join(a.cfg.Dir, id+".agent.sock")
}

// ConfigFile is agent id's configuration file.
func (a *Agents) ConfigFile(id string) string { return filepath.Join(a.cfg.Dir, id+".agent.hcl") }

// LogFile is agent id's recommendation log (JSON lines).
func (a *Agents) LogFile(id string) string { return filepath.Join(a.cfg.Dir, id+".decisions.jsonl") }

// HTTPAddr is agent id's /metrics address ("" without HTTP).
func (a *Agents) HTTPAddr(id string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.http[id]
}

// PID is agent id's process ID (0 when it never started).
func (a *Agents) PID(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.procs[id]; p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// errHTTPPortTaken is an agent that could not bind its /metrics port.
var errHTTPPortTaken = errors.New("its /metrics port was taken")

// Restart starts agent id (again) and waits until its socket answers. The
// /metrics port was free when it was chosen, but another process may bind
// it before the agent does (or while the agent is down): then the agent
// gets another free port, up to three times, and HTTPAddr says which.
func (a *Agents) Restart(ctx context.Context, id string) error {
	for attempt := 1; ; attempt++ {
		err := a.restart(ctx, id)
		if !errors.Is(err, errHTTPPortTaken) || attempt == 3 {
			return err
		}
		ports, perr := freePorts(1)
		if perr != nil {
			return fmt.Errorf("%w; no other port: %v", err, perr)
		}
		a.mu.Lock()
		a.http[id] = ports[0]
		rec := a.rec[id]
		a.mu.Unlock()
		if werr := a.writeConfig(id, rec); werr != nil {
			return werr
		}
	}
}

func (a *Agents) restart(ctx context.Context, id string) error {
	a.mu.Lock()
	if a.procs[id].alive() {
		a.mu.Unlock()
		return fmt.Errorf("agent %s: still running", id)
	}
	a.mu.Unlock()
	p, err := startProc("agent "+id, a.cfg.Binary, []string{"run", "-config", a.ConfigFile(id)}, nil, nil, filepath.Join(a.cfg.Dir, id+".agent.out"))
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.procs[id] = p
	a.mu.Unlock()
	sock := strings.TrimPrefix(a.Socket(id), "unix://")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", sock, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(filepath.Join(a.cfg.Dir, id+".agent.out"))
			if a.cfg.HTTP && strings.Contains(string(b), "listen.http") && strings.Contains(string(b), "address already in use") {
				return fmt.Errorf("agent %s exited during start, %w: %s", id, errHTTPPortTaken, b)
			}
			return fmt.Errorf("agent %s exited during start (%v): %s", id, p.err, b)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent %s: socket not ready after 20s", id)
		}
	}
}

func (a *Agents) proc(id string) *nodeProc {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.procs[id]
}

func (a *Agents) signal(id string, s syscall.Signal) error {
	if p := a.proc(id); p != nil {
		return p.signal(s)
	}
	return fmt.Errorf("agent %s: %w", id, ErrNodeDown)
}

// Kill SIGKILLs agent id and waits for it to be gone.
func (a *Agents) Kill(id string) error {
	if p := a.proc(id); p != nil {
		return p.kill()
	}
	return fmt.Errorf("agent %s: %w", id, ErrNodeDown)
}

// Pause SIGSTOPs agent id: a hung agent.
func (a *Agents) Pause(id string) error { return a.signal(id, syscall.SIGSTOP) }

// Resume SIGCONTs agent id.
func (a *Agents) Resume(id string) error { return a.signal(id, syscall.SIGCONT) }

// Reload SIGHUPs agent id.
func (a *Agents) Reload(id string) error { return a.signal(id, syscall.SIGHUP) }

// Stop terminates every agent (SIGCONT first), waiting up to 5s.
func (a *Agents) Stop() error {
	var procs []*nodeProc
	for _, id := range a.cfg.IDs {
		procs = append(procs, a.proc(id))
	}
	return stopAll(procs, 5*time.Second)
}
