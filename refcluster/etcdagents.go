package refcluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/adapter/etcd"
)

// Running reports whether member name's process is up (it may be paused).
func (c *EtcdCluster) Running(name string) bool {
	m := c.Member(name)
	return m != nil && m.process().alive()
}

// Flags returns the timing flags the members were last started with.
func (c *EtcdCluster) Flags() etcd.Flags {
	return etcd.Flags{Heartbeat: c.cfg.HeartbeatInterval, Election: c.cfg.ElectionTimeout}
}

// RestartWith stops member name gracefully (SIGTERM: a leader hands its
// leadership over first, as etcd does on shutdown), starts it again on
// its data dir with other timing flags and waits until it is healthy:
// one step of a rolling restart.
func (c *EtcdCluster) RestartWith(ctx context.Context, name string, f etcd.Flags) error {
	m := c.Member(name)
	if m == nil {
		return fmt.Errorf("no member %s", name)
	}
	if p := m.process(); p.alive() {
		if err := stopAll([]*nodeProc{p}, 10*time.Second); err != nil {
			return fmt.Errorf("restart etcd %s: %w", name, err)
		}
	}
	for i := 0; i+1 < len(m.args); i++ {
		switch m.args[i] {
		case "--heartbeat-interval":
			m.args[i+1] = fmt.Sprint(f.Heartbeat.Milliseconds())
		case "--election-timeout":
			m.args[i+1] = fmt.Sprint(f.Election.Milliseconds())
		}
	}
	if err := c.spawn(m); err != nil {
		return err
	}
	return c.waitHealthy(ctx, m)
}

// RollingRestart restarts every member with f, one at a time, followers
// first and the leader last, each once the one before is healthy, as an
// operator following the advice would.
func (c *EtcdCluster) RollingRestart(ctx context.Context, leader string, f etcd.Flags) error {
	var order []string
	for _, m := range c.Members {
		if m.Name != leader {
			order = append(order, m.Name)
		}
	}
	if leader != "" {
		order = append(order, leader)
	}
	for _, n := range order {
		if err := c.RestartWith(ctx, n, f); err != nil {
			return err
		}
	}
	c.cfg.HeartbeatInterval, c.cfg.ElectionTimeout = f.Heartbeat, f.Election
	return nil
}

// EtcdAgentsConfig configures one `ns-agent run` beside each etcd member.
type EtcdAgentsConfig struct {
	Binary string // ns-agent
	Dir    string
	// Flags are the members' flags in force (the agent cannot read them).
	Flags   etcd.Flags
	Handoff bool
	// AdviceMinEvidence and AdviceEvery pace the advice (a learning phase
	// is minutes, not the default's hours).
	AdviceMinEvidence, AdviceEvery time.Duration
}

// EtcdAgents are the agent processes beside a cluster's members.
type EtcdAgents struct {
	cfg   EtcdAgentsConfig
	names []string
	procs []*nodeProc
}

// StartEtcdAgents writes each agent's configuration, starts it and waits
// until its socket answers.
func StartEtcdAgents(ctx context.Context, c *EtcdCluster, cfg EtcdAgentsConfig) (*EtcdAgents, error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	a := &EtcdAgents{cfg: cfg}
	for _, m := range c.Members {
		var adv string
		if cfg.AdviceMinEvidence > 0 {
			adv += fmt.Sprintf("  advice_min_evidence = %q\n", cfg.AdviceMinEvidence.String())
		}
		if cfg.AdviceEvery > 0 {
			adv += fmt.Sprintf("  advice_every = %q\n", cfg.AdviceEvery.String())
		}
		src := fmt.Sprintf("node = %q\nhost {\n  kind = \"etcd\"\n  address = %q\n  heartbeat_interval = %q\n  election_timeout = %q\n  handoff = %v\n%s}\nlisten { grpc = %q }\nlog {\n  file = %q\n  stderr = false\n}\n",
			m.Name, m.ClientURL, cfg.Flags.Heartbeat.String(), cfg.Flags.Election.String(), cfg.Handoff, adv, a.socket(m.Name), a.LogFile(m.Name))
		file := filepath.Join(cfg.Dir, m.Name+".agent.hcl")
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			return nil, err
		}
		out := filepath.Join(cfg.Dir, m.Name+".agent.out")
		p, err := startProc("agent "+m.Name, cfg.Binary, []string{"run", "-config", file}, nil, nil, out)
		if err != nil {
			a.Stop()
			return nil, err
		}
		a.names = append(a.names, m.Name)
		a.procs = append(a.procs, p)
		if err := waitSocket(ctx, p, strings.TrimPrefix(a.socket(m.Name), "unix://"), out); err != nil {
			a.Stop()
			return nil, err
		}
	}
	return a, nil
}

func waitSocket(ctx context.Context, p *nodeProc, sock, out string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", sock, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(out)
			return fmt.Errorf("%s exited during start (%v): %s", p.name, p.err, tail(b, 1500))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: socket not ready after 20s", p.name)
		}
	}
}

func (a *EtcdAgents) socket(name string) string {
	return "unix://" + filepath.Join(a.cfg.Dir, name+".sock")
}

// LogFile is the agent's decision log (JSON lines).
func (a *EtcdAgents) LogFile(name string) string {
	return filepath.Join(a.cfg.Dir, name+".decisions.jsonl")
}

// Stop terminates the agents.
func (a *EtcdAgents) Stop() error {
	for _, p := range a.procs {
		_ = p.signal(syscall.SIGCONT)
	}
	return stopAll(a.procs, 5*time.Second)
}

var flagsRE = regexp.MustCompile(`--heartbeat-interval=(\d+) --election-timeout=(\d+)`)

// AgentLog is what one agent's decision log says about advice and
// hand-offs.
type AgentLog struct {
	// Advice is the last advice the agent logged ("" if it never changed
	// from the flags in force); Flags the flags it names.
	Advice   string
	Flags    etcd.Flags
	Changes  int      // changes of the advised flags
	Handoffs []string // each "moved leadership" line's message
}

// ReadAgentLog reads an agent's decision log.
func ReadAgentLog(path string) (AgentLog, error) {
	var out AgentLog
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		var rec map[string]any
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		if rec["@message"] == "advice" {
			adv, _ := rec["advice"].(string)
			if m := flagsRE.FindStringSubmatch(adv); m != nil {
				hb, _ := strconv.Atoi(m[1])
				et, _ := strconv.Atoi(m[2])
				f := etcd.Flags{Heartbeat: time.Duration(hb) * time.Millisecond, Election: time.Duration(et) * time.Millisecond}
				// The first advice that keeps the flags in force is
				// no change; every later move of the flags is one.
				if out.Advice != "" && f != out.Flags || out.Advice == "" && strings.HasPrefix(adv, "restart") {
					out.Changes++
				}
				out.Advice, out.Flags = adv, f
			}
		}
		for _, v := range rec {
			if s, ok := v.(string); ok && strings.HasPrefix(s, "moved leadership to") {
				out.Handoffs = append(out.Handoffs, s)
			}
		}
	}
	return out, sc.Err()
}

// Logs reads every agent's decision log, by member.
func (a *EtcdAgents) Logs() map[string]AgentLog {
	out := map[string]AgentLog{}
	for _, n := range a.names {
		l, _ := ReadAgentLog(a.LogFile(n))
		out[n] = l
	}
	return out
}
