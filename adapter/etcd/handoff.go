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
	// The leader is degrading when any of these holds, on its own
	// figures only, and the move comes once it has for SustainFor
	// (default 2s) more:
	//
	//   - slow path: the median round trip into it (probes of its own
	//     advertised peer URL, the path its peers use; the last 8) exceeds
	//     SlowPathFactor (default 4) × the median of its probes to its
	//     peers (the last 16, the same stretch of time) and SlowPathMin
	//     (default 50ms). Medians: a probe that waited for a busy CPU
	//     moves the tail, not the middle.
	//   - slow disk: in every interval between its readings of the
	//     cluster (every ReadEvery while it leads) over at least
	//     PersistFor (default 5s) and PersistReads (default 3) of them,
	//     its WAL fsync p99 is certainly above FsyncP99 (default: the
	//     heartbeat interval, at least 100ms — a leader's heartbeats wait
	//     while it fsyncs) and certainly more than FsyncFactor (default
	//     2) × another member's: the lower bound of its p99's histogram
	//     bucket is at least FsyncP99, and at least FsyncFactor × the
	//     upper bound of the other's, so neighbouring buckets never count
	//     (etcd's are powers of two: with the defaults the p99 lies above
	//     128ms, two buckets above the other's); over the window both
	//     have at least FsyncMinSamples (default 20) fsyncs.
	//   - CPU: its etcd process used more than MaxCPUCores (default 0.9)
	//     in every interval of the same window (process_cpu_seconds_total
	//     on its own /metrics, never the machine's).
	SlowPathFactor  float64
	SlowPathMin     time.Duration
	FsyncP99        time.Duration
	FsyncFactor     float64
	FsyncMinSamples int
	MaxCPUCores     float64
	PersistFor      time.Duration
	PersistReads    int
	SustainFor      time.Duration
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
	if c.FsyncFactor <= 0 {
		c.FsyncFactor = 2
	}
	if c.FsyncMinSamples <= 0 {
		c.FsyncMinSamples = 20
	}
	if c.PersistFor <= 0 {
		c.PersistFor = 5 * time.Second
	}
	if c.PersistReads <= 0 {
		c.PersistReads = 3
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

// degradation is why this member, as leader, is degrading, with the
// figures a transferee must beat.
type degradation struct {
	why      []string
	slowIn   time.Duration // round trip into the leader, when that is a reason
	fsync    Histogram     // its fsyncs over the window, when that is a reason
	cpuCores float64       // its CPU, when that is a reason
}

// rule is the persistence rule for the evidence read from /metrics.
func (s *Server) rule() persistRule {
	h := s.cfg.Handoff
	bar := h.FsyncP99
	if bar <= 0 {
		bar = max(100*time.Millisecond, s.cfg.HeartbeatInterval)
	}
	return persistRule{span: h.PersistFor, reads: h.PersistReads, bar: bar, factor: h.FsyncFactor,
		minSamples: float64(h.FsyncMinSamples), maxCores: h.MaxCPUCores}
}

// degraded judges this member on its own figures only.
func (s *Server) degraded() degradation {
	h := s.cfg.Handoff
	var d degradation
	if in, ok := s.selfRTT.median(5); ok {
		if out, ok := s.peersRTT.median(5); ok {
			if lim := max(time.Duration(h.SlowPathFactor*float64(out)), h.SlowPathMin); in > lim {
				d.slowIn = in
				d.why = append(d.why, fmt.Sprintf("round trip into this member %s, to its peers %s (medians)", in.Round(time.Millisecond), out.Round(time.Millisecond)))
			}
		}
	}
	r := s.rule()
	s.mu.Lock()
	ivs := s.lead.ivs
	s.mu.Unlock()
	if mine, best, ok := fsyncDegraded(ivs, s.self, r); ok {
		d.fsync = mine.fsync
		d.why = append(d.why, fmt.Sprintf("WAL fsync p99 %s over %s (%d fsyncs, above %s in every %s), another member's %s",
			mine.fsyncP99.Round(time.Millisecond), r.span, int(mine.fsync.Count), r.bar, s.cfg.ReadEvery, best.Round(time.Millisecond)))
	}
	if cores, ok := cpuDegraded(ivs, s.self, r); ok {
		d.cpuCores = cores
		d.why = append(d.why, fmt.Sprintf("etcd process CPU %.2f cores over %s", cores, r.span))
	}
	return d
}

// figures are every member's over the last PersistFor of the leader's
// readings.
func (s *Server) figures() map[uint64]memberFigures {
	s.mu.Lock()
	defer s.mu.Unlock()
	ivs := s.lead.ivs
	if len(ivs) == 0 {
		return nil
	}
	end := ivs[len(ivs)-1].to
	i := len(ivs) - 1
	for i > 0 && end.Sub(ivs[i-1].from) <= s.cfg.Handoff.PersistFor {
		i--
	}
	return window(ivs[i:])
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
	d := s.degraded()
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
	figs := s.figures()
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
		case d.fsync.Count > 0 && (!c.f.fsyncOK || !certainlySlower(d.fsync, c.f.fsync, h.FsyncFactor)):
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
