package hashicorp

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nsraft/nsraft/adapter/link"
)

// HandoffConfig lets a leader judge itself for a hand-off on its own
// figures and hand leadership to a follower when its agent says so
// (raft.LeadershipTransferToServer). The agent decides when, under the
// same rules as for etcd: announce first, never while the cluster is
// unstable, at most one hand-off per cooldown cluster-wide. Off unless
// Enabled.
//
// A leader probes each follower every Config.ProbeEvery with an
// AppendEntries of term 0 (harmless: Raft answers an older term with its
// own term and last index before touching any state), over the same
// connections and links its heartbeats use. That gives, per follower,
// the round trip from this leader and how far behind it is.
//
// The leader is degrading when its round trip to every follower (the
// median of the last Window, or the age of a probe still unanswered)
// exceeds SlowPathFactor × the fastest round trip this node measured to
// any peer in the last BaselineWindow, and SlowPathMin: every path out of
// this member is slow, not one follower's. hashicorp/raft gives a leader no
// view of the links between its followers, so a slowdown of the whole
// network that outlasts the agent's SustainFor looks the same; the
// transferee check then finds no follower closer and holds.
type HandoffConfig struct {
	Enabled bool
	// SlowPathFactor (default 4) and SlowPathMin (default 100ms) judge the
	// leader's round trips against its own best.
	SlowPathFactor float64
	SlowPathMin    time.Duration
	// Window is how far back a follower's round trips count (default 1s);
	// BaselineWindow how far back the node's best round trip counts
	// (default 5m).
	Window, BaselineWindow time.Duration
	// MaxLag is how many entries behind the leader a transferee may be
	// (default 100): a member behind would stall writes while it catches
	// up. A transferee's round trip may be at most WorseFactor (default
	// 1.5) × the closest follower's.
	MaxLag      uint64
	WorseFactor float64
}

func (c *HandoffConfig) defaults() {
	if c.SlowPathFactor <= 0 {
		c.SlowPathFactor = 4
	}
	if c.SlowPathMin <= 0 {
		c.SlowPathMin = 100 * time.Millisecond
	}
	if c.Window <= 0 {
		c.Window = time.Second
	}
	if c.BaselineWindow <= 0 {
		c.BaselineWindow = 5 * time.Minute
	}
	if c.MaxLag == 0 {
		c.MaxLag = 100
	}
	if c.WorseFactor <= 0 {
		c.WorseFactor = 1.5
	}
}

type timedRTT struct {
	at  time.Time
	rtt time.Duration
}

// peerProbe is what the leader's probes say about one follower.
type peerProbe struct {
	addr     raft.ServerAddress
	rtts     []timedRTT // within Window
	sentAt   time.Time  // the probe in flight, zero when none
	answered time.Time
	lastLog  uint64
}

// handoff is the adapter's hand-off state, under Adapter.mu.
type handoff struct {
	servers  []raft.Server // the configuration, refreshed by the poller
	peers    map[raft.ServerID]*peerProbe
	best     []timedRTT // per-second best round trip to any peer, within BaselineWindow
	moves    int
	lastErr  string
	inFlight bool
	lastTo   raft.ServerID // the transferee named last
}

// recordBest keeps the node's best round trip per second.
func (h *handoff) recordBest(now time.Time, rtt time.Duration, window time.Duration) {
	sec := now.Truncate(time.Second)
	if n := len(h.best); n > 0 && h.best[n-1].at.Equal(sec) {
		h.best[n-1].rtt = min(h.best[n-1].rtt, rtt)
	} else {
		h.best = append(h.best, timedRTT{sec, rtt})
	}
	i := 0
	for i < len(h.best) && now.Sub(h.best[i].at) > window {
		i++
	}
	h.best = h.best[i:]
}

func (h *handoff) baseline() (time.Duration, bool) {
	if len(h.best) == 0 {
		return 0, false
	}
	b := h.best[0].rtt
	for _, x := range h.best[1:] {
		b = min(b, x.rtt)
	}
	return b, true
}

// probeFollowers, with a.mu held, starts a probe to each follower that has
// none in flight and was last probed ProbeEvery ago.
func (a *Adapter) probeFollowers(now time.Time, p prober) {
	h := &a.ho
	if h.peers == nil {
		h.peers = map[raft.ServerID]*peerProbe{}
	}
	for _, srv := range h.servers {
		if string(srv.ID) == a.cfg.NodeID || srv.Suffrage != raft.Voter {
			continue
		}
		f := h.peers[srv.ID]
		if f == nil {
			f = &peerProbe{}
			h.peers[srv.ID] = f
		}
		f.addr = srv.Address
		last := f.answered
		if n := len(f.rtts); n > 0 {
			last = f.rtts[n-1].at
		}
		if !f.sentAt.IsZero() || now.Sub(last) < a.cfg.ProbeEvery {
			continue
		}
		f.sentAt = now
		id, addr := srv.ID, srv.Address
		go func() {
			lastLog, rtt, err := p.probeAt(raft.ServerID(a.cfg.NodeID), id, addr)
			at := a.cfg.Now()
			a.mu.Lock()
			defer a.mu.Unlock()
			f.sentAt = time.Time{}
			if err != nil {
				return
			}
			f.answered, f.lastLog = at, lastLog
			f.rtts = append(f.rtts, timedRTT{at, rtt})
			h.recordBest(at, rtt, a.cfg.Handoff.BaselineWindow)
		}()
	}
}

// roundTrip, with a.mu held, is the follower's round trip from this
// leader: the median of the last Window, or the age of an unanswered
// probe when that is longer; ok is false without a measurement.
func (a *Adapter) roundTrip(now time.Time, f *peerProbe) (time.Duration, bool) {
	keep := f.rtts[:0]
	for _, r := range f.rtts {
		if now.Sub(r.at) <= a.cfg.Handoff.Window {
			keep = append(keep, r)
		}
	}
	f.rtts = keep
	var d time.Duration
	ok := false
	if len(keep) > 0 {
		xs := make([]time.Duration, len(keep))
		for i, r := range keep {
			xs[i] = r.rtt
		}
		slices.Sort(xs)
		d, ok = xs[len(xs)/2], true
	}
	if !f.sentAt.IsZero() {
		if age := now.Sub(f.sentAt); age > d {
			d, ok = age, true
		}
	}
	return d, ok
}

// HandoffEvidence judges this node, as leader, on its own figures, and
// names the follower it would hand to. It implements link.Transferrer.
func (a *Adapter) HandoffEvidence() link.Evidence {
	if !a.cfg.Handoff.Enabled || a.r.State() != raft.Leader {
		a.mu.Lock()
		defer a.mu.Unlock()
		return link.Evidence{Moves: a.ho.moves, Err: a.ho.lastErr}
	}
	last := a.r.LastIndex()
	now := a.cfg.Now()
	hc := a.cfg.Handoff
	a.mu.Lock()
	defer a.mu.Unlock()
	e := link.Evidence{Moves: a.ho.moves, Err: a.ho.lastErr}
	type cand struct {
		id  raft.ServerID
		rtt time.Duration
		lag uint64
	}
	var cands []cand
	var skipped []string
	fastest, measured := time.Duration(-1), 0
	ids := make([]raft.ServerID, 0, len(a.ho.peers))
	for id := range a.ho.peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := a.ho.peers[id]
		rtt, ok := a.roundTrip(now, f)
		if !ok || now.Sub(f.answered) > 2*hc.Window+rtt {
			skipped = append(skipped, fmt.Sprintf("%s not answering", id))
			if ok && (fastest < 0 || rtt < fastest) {
				fastest = rtt
			}
			continue
		}
		measured++
		if fastest < 0 || rtt < fastest {
			fastest = rtt
		}
		var lag uint64
		if last > f.lastLog {
			lag = last - f.lastLog
		}
		if lag > hc.MaxLag {
			skipped = append(skipped, fmt.Sprintf("%s %d entries behind", id, lag))
			continue
		}
		cands = append(cands, cand{id, rtt, lag})
	}
	base, haveBase := a.ho.baseline()
	if measured == 0 || !haveBase {
		return e
	}
	if lim := max(time.Duration(hc.SlowPathFactor*float64(base)), hc.SlowPathMin); fastest > lim {
		e.Degraded = true
		e.Why = fmt.Sprintf("round trip from this leader to every follower at least %s, against %s at its best in the last %s",
			fastest.Round(time.Millisecond), base.Round(10*time.Microsecond), hc.BaselineWindow)
	}
	// The follower named last keeps its turn while it qualifies (an
	// announced hand-off should not flip between equals on noise); then
	// the closest first, and among them the least behind.
	slices.SortFunc(cands, func(x, y cand) int {
		if px, py := x.id == a.ho.lastTo, y.id == a.ho.lastTo; px != py {
			if px {
				return -1
			}
			return 1
		}
		if x.rtt != y.rtt {
			return int(x.rtt - y.rtt)
		}
		return int(x.lag) - int(y.lag)
	})
	var ok []cand
	for _, c := range cands {
		if float64(c.rtt) > hc.WorseFactor*float64(fastest) {
			skipped = append(skipped, fmt.Sprintf("%s farther (round trip %s)", c.id, c.rtt.Round(time.Millisecond)))
			continue
		}
		ok = append(ok, c)
	}
	if len(ok) == 0 {
		e.Candidates = "no follower qualifies"
		if len(skipped) > 0 {
			e.Candidates += " (" + strings.Join(skipped, ", ") + ")"
		}
		return e
	}
	to := ok[0]
	a.ho.lastTo = to.id
	if a.ho.inFlight {
		e.Candidates = "a hand-off is under way"
		return e
	}
	e.To = string(to.id)
	e.Candidates = fmt.Sprintf("%s is %d entries behind, round trip %s", to.id, to.lag, to.rtt.Round(time.Millisecond))
	if len(skipped) > 0 {
		e.Candidates += " (passed over: " + strings.Join(skipped, ", ") + ")"
	}
	return e
}

// Transfer hands leadership to server to (raft.LeadershipTransferToServer)
// on its own goroutine; the outcome shows in the next evidence. It does
// nothing unless hand-off is enabled, this node leads, to is a voter and
// no transfer is under way.
func (a *Adapter) Transfer(to string) {
	if !a.cfg.Handoff.Enabled || a.r.State() != raft.Leader {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ho.inFlight {
		return
	}
	var addr raft.ServerAddress
	for _, s := range a.ho.servers {
		if string(s.ID) == to && s.Suffrage == raft.Voter && to != a.cfg.NodeID {
			addr = s.Address
		}
	}
	if addr == "" {
		a.ho.lastErr = fmt.Sprintf("hand-off to %s: not a voter of this cluster", to)
		return
	}
	a.ho.inFlight = true
	go func() {
		err := a.r.LeadershipTransferToServer(raft.ServerID(to), addr).Error()
		if err != nil {
			// The transfer gives up after its ElectionTimeout, but over
			// slow links the transferee may win a moment later: a
			// transfer that made it leader is a hand-off.
			for i := 0; i < 20; i++ {
				if _, id := a.r.LeaderWithID(); string(id) == to {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.ho.inFlight = false
		if err != nil {
			a.ho.lastErr = fmt.Sprintf("hand-off to %s: %v", to, err)
			return
		}
		a.ho.moves++
		a.ho.lastErr = ""
	}()
}

// HandoffEnabled says the adapter was configured for hand-off.
func (a *Adapter) HandoffEnabled() bool { return a.cfg.Handoff.Enabled }

// Handoffs counts the hand-offs this node made.
func (a *Adapter) Handoffs() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ho.moves
}

var _ link.Transferrer = (*Adapter)(nil)
