package etcd

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nsraft/nsraft/collector"
)

// HandoffConfig configures leader hand-off: when this member leads and
// its own figures show it degrading, leadership moves (etcd's MoveLeader)
// to a member that looks better, before the cluster has to elect one
// after a timeout. Off by default.
type HandoffConfig struct {
	Enabled bool
	// Cooldown is the least time between two hand-offs anywhere in the
	// cluster (default 60s): each hand-off takes a lease-backed key in
	// etcd itself (Key), so the agents beside different members cannot
	// bounce leadership between them.
	Cooldown time.Duration
	// Key is the cooldown's key (default "/ns-agent/handoff"); its value
	// says who moved leadership where, when and why.
	Key string
	// MaxLag is how many entries behind the leader a transferee may be
	// (default 100): a member that is behind would stall the cluster while
	// it catches up.
	MaxLag uint64
	// The leader is degrading when any of these holds for SustainFor
	// (default 2s), on its own figures only: the round trip into it (a
	// probe of its own advertised peer URL, the path its peers use)
	// exceeds SlowPathFactor (default 4) × its round trip to its peers
	// and at least SlowPathMin (default 50ms); its WAL fsync p99 exceeds
	// FsyncP99 (default 100ms) and FsyncFactor (default 2) × the best
	// other member's; its etcd process uses more than MaxCPUCores
	// (default 0.9) of CPU (process_cpu_seconds_total on its own
	// /metrics, never the machine's).
	SlowPathFactor float64
	SlowPathMin    time.Duration
	FsyncP99       time.Duration
	FsyncFactor    float64
	MaxCPUCores    float64
	SustainFor     time.Duration
	// Announce is how long a planned hand-off is announced (on the
	// decision stream and as a metric) before it happens (default 500ms),
	// so clients and load balancers can steer away first.
	Announce time.Duration
}

type handoffState struct {
	last     time.Time
	moves    int
	degraded time.Time // since when the leader has been degrading (zero: not)
	plan     *handoffPlan
}

type handoffPlan struct {
	to  uint64
	at  time.Time // when it may happen
	why string
}

func (c *HandoffConfig) defaults() {
	if c.Cooldown <= 0 {
		c.Cooldown = time.Minute
	}
	if c.Key == "" {
		c.Key = "/ns-agent/handoff"
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
	if c.FsyncFactor <= 0 {
		c.FsyncFactor = 2
	}
	if c.MaxCPUCores <= 0 {
		c.MaxCPUCores = 0.9
	}
	if c.SustainFor <= 0 {
		c.SustainFor = 2 * time.Second
	}
	if c.Announce <= 0 {
		c.Announce = 500 * time.Millisecond
	}
}

// memberFigures are one member's own figures over the last interval
// between two readings of every member.
type memberFigures struct {
	fsyncP99 time.Duration
	fsyncOK  bool
	cpuCores float64
	cpuOK    bool
}

func figuresBetween(prev, cur Reading) map[uint64]memberFigures {
	out := map[uint64]memberFigures{}
	for id, c := range cur.ByMember {
		o, ok := prev.ByMember[id]
		if !ok || restarted(o, c) {
			continue
		}
		var f memberFigures
		f.fsyncP99, f.fsyncOK = c.WALFsync.Sub(o.WALFsync).Quantile(0.99)
		if dt := c.At.Sub(o.At); dt > 0 && !c.ProcessStart.IsZero() {
			f.cpuCores, f.cpuOK = float64(c.ProcessCPU-o.ProcessCPU)/float64(dt), true
		}
		out[id] = f
	}
	return out
}

// degradation is why this member, as leader, is degrading, with the
// figures a transferee must beat.
type degradation struct {
	why      []string
	slowIn   time.Duration // round trip into the leader, when that is a reason
	fsync    time.Duration // its fsync p99, when that is a reason
	cpuCores float64       // its CPU, when that is a reason
}

// degraded judges this member on its own figures only.
func (s *Server) degraded(smp collector.Sample) degradation {
	h := s.cfg.Handoff
	var d degradation
	if in, ok := s.selfRTT.p99(); ok && smp.Has(collector.FieldRTT) {
		if lim := max(time.Duration(h.SlowPathFactor*float64(smp.RTTP99)), h.SlowPathMin); in > lim {
			d.slowIn = in
			d.why = append(d.why, fmt.Sprintf("round trip into this member %s, to its peers %s", in.Round(time.Millisecond), smp.RTTP99.Round(time.Millisecond)))
		}
	}
	s.mu.Lock()
	others := time.Duration(math.MaxInt64)
	for id, f := range s.figures {
		if id != s.self && f.fsyncOK {
			others = min(others, f.fsyncP99)
		}
	}
	cores, coresOK := s.ownCPU, s.ownCPUOK
	s.mu.Unlock()
	if smp.Has(collector.FieldDiskSync) && smp.DiskSyncP99 > h.FsyncP99 && others != math.MaxInt64 &&
		float64(smp.DiskSyncP99) > h.FsyncFactor*float64(others) {
		d.fsync = smp.DiskSyncP99
		d.why = append(d.why, fmt.Sprintf("WAL fsync p99 %s, the best other member's %s", smp.DiskSyncP99.Round(time.Millisecond), others.Round(time.Millisecond)))
	}
	if coresOK && cores > h.MaxCPUCores {
		d.cpuCores = cores
		d.why = append(d.why, fmt.Sprintf("etcd process CPU %.2f cores", cores))
	}
	return d
}

// Handoff runs after each decision. When hand-off is enabled, this member
// leads and its own figures show it degrading, the policy does not judge
// the cluster unstable and this agent's cooldown has passed, it announces
// a move to the voter that is least behind (at most MaxLag entries),
// closest and no worse on the figures that make the leader degrade. Once
// the degradation has lasted SustainFor, and at least Announce after the
// announcement, it takes the cluster-wide cooldown key and makes the move.
// It says what it did, with the evidence; "" when there was nothing to do.
func (s *Server) Handoff(smp collector.Sample, unstable bool) (string, error) {
	h := s.cfg.Handoff
	now := s.cfg.Now()
	if !h.Enabled || smp.Role != collector.RoleLeader {
		s.setDegraded(time.Time{}, nil)
		return "", nil
	}
	d := s.degraded(smp)
	if len(d.why) == 0 {
		s.setDegraded(time.Time{}, nil)
		return "", nil
	}
	why := strings.Join(d.why, "; ")
	s.mu.Lock()
	if s.handoff.degraded.IsZero() {
		s.handoff.degraded = now
	}
	since, last, plan := s.handoff.degraded, s.handoff.last, s.handoff.plan
	s.mu.Unlock()
	sustained := now.Sub(since) >= h.SustainFor
	switch {
	case plan != nil && now.Before(plan.at):
		return "", nil // announced; the move waits for its time
	case unstable:
		return s.hold(since, sustained, fmt.Errorf("leader degrading (%s) but the cluster is unstable: no hand-off", why))
	case !last.IsZero() && now.Sub(last) < h.Cooldown:
		return s.hold(since, sustained, fmt.Errorf("leader degrading (%s) but this agent handed off %s ago (cooldown %s)", why, now.Sub(last).Round(time.Second), h.Cooldown))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*s.cfg.Timeout)
	defer cancel()
	var prefer uint64
	if plan != nil {
		prefer = plan.to
	}
	to, evidence, err := s.transferee(ctx, d, prefer)
	if err != nil {
		return s.hold(since, sustained, fmt.Errorf("leader degrading (%s) but %w", why, err))
	}
	if plan == nil || plan.to != to.id {
		// Announce as soon as the leader is judged degrading; move once
		// it has been for SustainFor, and never sooner than Announce
		// after the announcement.
		at := since.Add(h.SustainFor)
		if a := now.Add(h.Announce); a.After(at) {
			at = a
		}
		s.setDegraded(since, &handoffPlan{to: to.id, at: at, why: why})
		return fmt.Sprintf("hand-off planned to %s in %s: this leader is degrading: %s; %s", to.name, at.Sub(now).Round(time.Millisecond), why, evidence), nil
	}
	if err := s.claimCooldown(ctx, to.name, why, now); err != nil {
		s.setDegraded(since, nil)
		return "", fmt.Errorf("leader degrading (%s) but %w", why, err)
	}
	if _, err := s.cli.MoveLeader(ctx, to.id); err != nil {
		s.setDegraded(since, nil)
		return "", fmt.Errorf("hand-off to %s: %w", to.name, err)
	}
	s.mu.Lock()
	s.handoff.last = now
	s.handoff.moves++
	s.handoff.plan, s.handoff.degraded = nil, time.Time{}
	s.mu.Unlock()
	return fmt.Sprintf("moved leadership to %s (%s): this leader is degrading: %s; %s", to.name, strconv.FormatUint(to.id, 16), why, evidence), nil
}

// hold drops any announced plan and says why, once the degradation is
// sustained (a blip is not worth a line).
func (s *Server) hold(since time.Time, sustained bool, err error) (string, error) {
	s.setDegraded(since, nil)
	if !sustained {
		return "", nil
	}
	return "", err
}

func (s *Server) setDegraded(since time.Time, plan *handoffPlan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handoff.degraded, s.handoff.plan = since, plan
}

type candidate struct {
	id   uint64
	name string
	lag  uint64
	rtt  time.Duration
	f    memberFigures
}

// transferee picks the member to hand to: caught up, reachable, and no
// worse than the leader on what degrades it; the evidence says why. The
// member already announced (prefer) keeps its turn while it qualifies.
func (s *Server) transferee(ctx context.Context, d degradation, prefer uint64) (candidate, string, error) {
	h := s.cfg.Handoff
	self, err := s.cli.Status(ctx, s.cfg.Endpoint)
	if err != nil {
		return candidate{}, "", fmt.Errorf("status of the leader: %w", err)
	}
	ml, err := s.cli.MemberList(ctx)
	if err != nil {
		return candidate{}, "", fmt.Errorf("member list: %w", err)
	}
	s.mu.Lock()
	figs := s.figures
	s.mu.Unlock()
	var cands []candidate
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
		c := candidate{id: m.ID, name: m.Name, lag: lag, rtt: time.Hour, f: figs[m.ID]}
		if rtt, ok := s.peerRTT(m.ID); ok {
			c.rtt = rtt
		}
		switch {
		case d.slowIn > 0 && c.rtt >= d.slowIn:
			skipped = append(skipped, fmt.Sprintf("%s no closer (round trip %s)", m.Name, c.rtt.Round(time.Millisecond)))
			continue
		case d.fsync > 0 && (!c.f.fsyncOK || c.f.fsyncP99 >= d.fsync):
			skipped = append(skipped, fmt.Sprintf("%s no faster WAL fsync", m.Name))
			continue
		case d.cpuCores > 0 && (!c.f.cpuOK || c.f.cpuCores >= d.cpuCores):
			skipped = append(skipped, fmt.Sprintf("%s no less CPU", m.Name))
			continue
		}
		cands = append(cands, c)
	}
	if len(cands) == 0 {
		return candidate{}, "", fmt.Errorf("no member looks better (%s)", strings.Join(skipped, ", "))
	}
	sort.Slice(cands, func(i, j int) bool {
		if (cands[i].id == prefer) != (cands[j].id == prefer) {
			return cands[i].id == prefer
		}
		if cands[i].lag != cands[j].lag {
			return cands[i].lag < cands[j].lag
		}
		return cands[i].rtt < cands[j].rtt
	})
	to := cands[0]
	ev := fmt.Sprintf("%s is %d entries behind, round trip %s", to.name, to.lag, to.rtt.Round(time.Millisecond))
	if to.f.fsyncOK {
		ev += fmt.Sprintf(", WAL fsync p99 %s", to.f.fsyncP99.Round(time.Millisecond))
	}
	if to.f.cpuOK {
		ev += fmt.Sprintf(", process CPU %.2f cores", to.f.cpuCores)
	}
	if len(skipped) > 0 {
		ev += " (passed over: " + strings.Join(skipped, ", ") + ")"
	}
	return to, ev, nil
}

// claimCooldown takes the cluster-wide hand-off key for the cooldown,
// under a lease so it expires by itself; it fails when another agent
// holds it.
func (s *Server) claimCooldown(ctx context.Context, to, why string, now time.Time) error {
	h := s.cfg.Handoff
	lease, err := s.cli.Grant(ctx, int64(math.Ceil(h.Cooldown.Seconds())))
	if err != nil {
		return fmt.Errorf("cannot take the cluster-wide hand-off key %s: %w", h.Key, err)
	}
	val := fmt.Sprintf("%s → %s at %s: %s", strconv.FormatUint(s.self, 16), to, now.UTC().Format(time.RFC3339), why)
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(h.Key), "=", 0)).
		Then(clientv3.OpPut(h.Key, val, clientv3.WithLease(lease.ID))).Else(clientv3.OpGet(h.Key)).Commit()
	if err != nil {
		s.cli.Revoke(ctx, lease.ID)
		return fmt.Errorf("cannot take the cluster-wide hand-off key %s: %w", h.Key, err)
	}
	if !resp.Succeeded {
		s.cli.Revoke(ctx, lease.ID)
		held := "another agent"
		if rs := resp.Responses; len(rs) > 0 && len(rs[0].GetResponseRange().Kvs) > 0 {
			held = string(rs[0].GetResponseRange().Kvs[0].Value)
		}
		return fmt.Errorf("the cluster-wide hand-off cooldown (%s) holds: %s", h.Cooldown, held)
	}
	return nil
}

// Handoffs counts the hand-offs this host made.
func (s *Server) Handoffs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handoff.moves
}

// HandoffPlanned says a hand-off is announced and not yet made.
func (s *Server) HandoffPlanned() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handoff.plan != nil
}

// LeaderDegraded says this member leads and its own figures show it
// degrading.
func (s *Server) LeaderDegraded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.handoff.degraded.IsZero()
}
