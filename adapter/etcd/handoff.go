package etcd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// HandoffConfig configures leader hand-off: when this member leads and is
// degrading, leadership moves (etcd's MoveLeader) to the healthiest member
// before the cluster has to elect one after a timeout. Off by default.
type HandoffConfig struct {
	Enabled bool
	// Cooldown is the least time between two hand-offs (default 60s).
	Cooldown time.Duration
	// MaxLag is how many entries behind the leader a transferee may be
	// (default 100): a member that is behind would stall the cluster while
	// it catches up.
	MaxLag uint64
	// The leader is degrading when any of these holds: the round trip
	// into it (a probe of its own advertised peer URL, the path its
	// peers use) exceeds SlowPathFactor (default 4) × its round trip to
	// its peers and at least SlowPathMin (default 50ms); its WAL fsync p99
	// exceeds FsyncP99 (default 100ms); its CPU is less than MinCPUIdlePct
	// (default 5) idle.
	SlowPathFactor float64
	SlowPathMin    time.Duration
	FsyncP99       time.Duration
	MinCPUIdlePct  float64
}

type handoffState struct {
	last  time.Time
	moves int
}

func (c *HandoffConfig) defaults() {
	if c.Cooldown <= 0 {
		c.Cooldown = time.Minute
	}
	if c.MaxLag == 0 {
		c.MaxLag = 100
	}
	if c.SlowPathFactor <= 0 {
		c.SlowPathFactor = 4
	}
	if c.SlowPathMin <= 0 {
		c.SlowPathMin = 50 * time.Millisecond
	}
	if c.FsyncP99 <= 0 {
		c.FsyncP99 = 100 * time.Millisecond
	}
	if c.MinCPUIdlePct <= 0 {
		c.MinCPUIdlePct = 5
	}
}

// degraded says why this member, as leader, is degrading ("" if not).
func (s *Server) degraded(smp collector.Sample) string {
	h := s.cfg.Handoff
	var why []string
	if in, ok := s.selfRTT.p99(); ok && smp.Has(collector.FieldRTT) {
		if lim := max(time.Duration(h.SlowPathFactor*float64(smp.RTTP99)), h.SlowPathMin); in > lim {
			why = append(why, fmt.Sprintf("round trip into this member %s, to its peers %s", in.Round(time.Millisecond), smp.RTTP99.Round(time.Millisecond)))
		}
	}
	if smp.Has(collector.FieldDiskSync) && smp.DiskSyncP99 > h.FsyncP99 {
		why = append(why, fmt.Sprintf("WAL fsync p99 %s", smp.DiskSyncP99.Round(time.Millisecond)))
	}
	if smp.Has(collector.FieldCPUIdle) && smp.CPUIdlePct < h.MinCPUIdlePct {
		why = append(why, fmt.Sprintf("CPU %.0f%% idle", smp.CPUIdlePct))
	}
	return strings.Join(why, "; ")
}

// Handoff runs after each decision. When hand-off is enabled, this member
// leads, the policy does not judge the cluster unstable, the cooldown has
// passed and the member is degrading, it moves leadership to the voter
// that is least behind (at most MaxLag entries) and closest, and says so.
// It returns "" when it did nothing.
func (s *Server) Handoff(smp collector.Sample, unstable bool) (string, error) {
	h := s.cfg.Handoff
	if !h.Enabled || smp.Role != collector.RoleLeader {
		return "", nil
	}
	why := s.degraded(smp)
	if why == "" {
		return "", nil
	}
	now := s.cfg.Now()
	s.mu.Lock()
	last := s.handoff.last
	s.mu.Unlock()
	switch {
	case unstable:
		return "", fmt.Errorf("leader degrading (%s) but the cluster is unstable: no hand-off", why)
	case !last.IsZero() && now.Sub(last) < h.Cooldown:
		return "", fmt.Errorf("leader degrading (%s) but the last hand-off was %s ago (cooldown %s)", why, now.Sub(last).Round(time.Second), h.Cooldown)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*s.cfg.Timeout)
	defer cancel()
	self, err := s.cli.Status(ctx, s.cfg.Endpoint)
	if err != nil {
		return "", fmt.Errorf("hand-off: status of the leader: %w", err)
	}
	ml, err := s.cli.MemberList(ctx)
	if err != nil {
		return "", fmt.Errorf("hand-off: member list: %w", err)
	}
	type cand struct {
		id   uint64
		name string
		lag  uint64
		rtt  time.Duration
	}
	var cands []cand
	var skipped []string
	for _, m := range ml.Members {
		if m.ID == s.self || m.IsLearner || len(m.ClientURLs) == 0 {
			continue
		}
		st, err := s.cli.Status(ctx, m.ClientURLs[0])
		if err != nil {
			skipped = append(skipped, m.Name+" unreachable")
			continue
		}
		var lag uint64
		if self.RaftIndex > st.RaftIndex {
			lag = self.RaftIndex - st.RaftIndex
		}
		if lag > h.MaxLag {
			skipped = append(skipped, fmt.Sprintf("%s %d entries behind", m.Name, lag))
			continue
		}
		rtt, ok := s.peerRTT(m.ID)
		if !ok {
			rtt = time.Hour
		}
		cands = append(cands, cand{id: m.ID, name: m.Name, lag: lag, rtt: rtt})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("leader degrading (%s) but no member can take over (%s)", why, strings.Join(skipped, ", "))
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].lag != cands[j].lag {
			return cands[i].lag < cands[j].lag
		}
		return cands[i].rtt < cands[j].rtt
	})
	to := cands[0]
	if _, err := s.cli.MoveLeader(ctx, to.id); err != nil {
		return "", fmt.Errorf("hand-off to %s: %w", to.name, err)
	}
	s.mu.Lock()
	s.handoff.last = now
	s.handoff.moves++
	s.mu.Unlock()
	return fmt.Sprintf("moved leadership to %s (%s, %d entries behind): this leader is degrading: %s", to.name, strconv.FormatUint(to.id, 16), to.lag, why), nil
}

// Handoffs counts the hand-offs this host made.
func (s *Server) Handoffs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handoff.moves
}
