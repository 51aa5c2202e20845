package hashicorp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nsraft/nsraft/adapter/link"
)

// ConsulHandoff lets a Consul server that leads judge itself for a
// hand-off on its own figures, and hand leadership to a healthy follower
// when its agent says so (POST /v1/operator/raft/transfer-leader?id=…,
// Consul 1.15 and later, ACL operator:write). The agent decides when, under
// the same rules as for etcd and hashicorp/raft nodes. Off unless Enabled.
//
// The leader is degrading when its own disk sync p99 (the
// consul_raft_boltdb_storeLogs summary on its own metrics) exceeds
// DiskSyncP99, or its own process (process_cpu_seconds_total) uses more
// than CPUCores; never on the machine's figures. The transferee is a voter
// that Consul's autopilot judges healthy (serf alive, in recent contact,
// caught up), at most MaxLag entries behind, in the most recent contact
// with the leader. Consul exposes no other server's disk or CPU to a
// server's agent, so "no worse" rests on autopilot's health.
type ConsulHandoff struct {
	Enabled     bool
	DiskSyncP99 time.Duration // default 100ms
	CPUCores    float64       // default 0.9
	MaxLag      uint64        // default 100
}

func (h *ConsulHandoff) defaults() {
	if h.DiskSyncP99 <= 0 {
		h.DiskSyncP99 = 100 * time.Millisecond
	}
	if h.CPUCores <= 0 {
		h.CPUCores = 0.9
	}
	if h.MaxLag == 0 {
		h.MaxLag = 100
	}
}

// consulHandoffState is under Consul.mu.
type consulHandoffState struct {
	leader   bool
	disk     time.Duration
	diskOK   bool
	moves    int
	lastErr  string
	inFlight bool
	lastTo   string
}

// HandoffEnabled says the host was configured for hand-off.
func (c *Consul) HandoffEnabled() bool { return c.cfg.Handoff.Enabled }

type autopilotHealth struct {
	Servers []struct {
		ID          string
		Name        string
		Leader      bool
		Voter       bool
		Healthy     bool
		LastIndex   uint64
		LastContact string
	}
}

// HandoffEvidence judges this server, as leader, on its own figures from
// the last sample, and names the follower it would hand to. It implements
// link.Transferrer.
func (c *Consul) HandoffEvidence() link.Evidence {
	h := c.cfg.Handoff
	c.mu.Lock()
	e := link.Evidence{Moves: c.ho.moves, Err: c.ho.lastErr}
	leader, disk, diskOK, cores, coresOK, inFlight, lastTo := c.ho.leader, c.ho.disk, c.ho.diskOK, c.cpuCores, c.cpuOK, c.ho.inFlight, c.ho.lastTo
	c.mu.Unlock()
	if !h.Enabled || !leader {
		return e
	}
	var why []string
	if diskOK && disk > h.DiskSyncP99 {
		why = append(why, fmt.Sprintf("disk sync p99 %s", disk.Round(time.Millisecond)))
	}
	if coresOK && cores > h.CPUCores {
		why = append(why, fmt.Sprintf("Consul process CPU %.2f cores", cores))
	}
	if len(why) == 0 {
		return e
	}
	e.Degraded, e.Why = true, strings.Join(why, "; ")
	if inFlight {
		e.Candidates = "a hand-off is under way"
		return e
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	resp, err := c.get(ctx, "/v1/operator/autopilot/health")
	if err != nil {
		e.Candidates = "no follower qualifies: autopilot health: " + err.Error()
		return e
	}
	var health autopilotHealth
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&health)
	resp.Body.Close()
	if err != nil {
		e.Candidates = "no follower qualifies: autopilot health: " + err.Error()
		return e
	}
	var last uint64
	for _, s := range health.Servers {
		if s.Leader {
			last = s.LastIndex
		}
	}
	type cand struct {
		id, name string
		lag      uint64
		contact  time.Duration
	}
	var cands []cand
	var skipped []string
	for _, s := range health.Servers {
		if s.Leader || !s.Voter {
			continue
		}
		var lag uint64
		if last > s.LastIndex {
			lag = last - s.LastIndex
		}
		contact, _ := time.ParseDuration(s.LastContact)
		switch {
		case !s.Healthy:
			skipped = append(skipped, s.Name+" unhealthy")
		case lag > h.MaxLag:
			skipped = append(skipped, fmt.Sprintf("%s %d entries behind", s.Name, lag))
		default:
			cands = append(cands, cand{s.ID, s.Name, lag, contact})
		}
	}
	if len(cands) == 0 {
		e.Candidates = "no follower qualifies"
		if len(skipped) > 0 {
			e.Candidates += " (" + strings.Join(skipped, ", ") + ")"
		}
		return e
	}
	slices.SortFunc(cands, func(x, y cand) int {
		if px, py := x.id == lastTo, y.id == lastTo; px != py {
			if px {
				return -1
			}
			return 1
		}
		if x.contact != y.contact {
			return int(x.contact - y.contact)
		}
		return int(x.lag) - int(y.lag)
	})
	to := cands[0]
	c.mu.Lock()
	c.ho.lastTo = to.id
	c.mu.Unlock()
	e.To = to.id
	e.Candidates = fmt.Sprintf("%s (%s) is healthy, %d entries behind, last contact %s", to.name, to.id, to.lag, to.contact)
	if len(skipped) > 0 {
		e.Candidates += " (passed over: " + strings.Join(skipped, ", ") + ")"
	}
	return e
}

// Transfer asks Consul to hand leadership to server id, on its own
// goroutine; the outcome shows in the next evidence.
func (c *Consul) Transfer(id string) {
	c.mu.Lock()
	if !c.cfg.Handoff.Enabled || !c.ho.leader || c.ho.inFlight {
		c.mu.Unlock()
		return
	}
	c.ho.inFlight = true
	c.mu.Unlock()
	go func() {
		err := c.transferLeader(id)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ho.inFlight = false
		if err != nil {
			c.ho.lastErr = err.Error()
			return
		}
		c.ho.moves++
		c.ho.lastErr = ""
	}()
}

func (c *Consul) transferLeader(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.Address+"/v1/operator/raft/transfer-leader?id="+url.QueryEscape(id), nil)
	if err != nil {
		return err
	}
	if c.cfg.Token != "" {
		req.Header.Set("X-Consul-Token", c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("transfer-leader to %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("transfer-leader to %s: %s: %s", id, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// Handoffs counts the hand-offs this server made.
func (c *Consul) Handoffs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ho.moves
}

var _ link.Transferrer = (*Consul)(nil)
