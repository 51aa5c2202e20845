package agent

import (
	"fmt"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// HandoffRules are the agent's rules for hosts that judge themselves and
// hand leadership off on its word: hashicorp/raft nodes linked over the
// protocol (raft.LeadershipTransferToServer). They are etcd's rules: the
// host's evidence is its own (see adapter/hashicorp.HandoffConfig); no
// hand-off while the policy judges the cluster unstable; every planned
// hand-off is announced (Watch, ns_agent_handoff_planned) at least
// Announce before it happens, and only once the leader has been degrading
// for SustainFor; never to a follower the host does not name as no worse.
//
// The cooldown is cluster-wide without a shared store: only a leader may
// hand off, and only one that has led for Cooldown, by its own adapter's
// count (which restarts at every change of leader or term, and at the
// adapter's start). Every hand-off makes a new leader, so two hand-offs
// anywhere in the cluster are at least Cooldown apart, whichever agents
// make them, and agents cannot bounce leadership between them.
type HandoffRules struct {
	Enabled    bool
	Cooldown   time.Duration // default 60s
	SustainFor time.Duration // default 2s
	Announce   time.Duration // default 500ms
}

func (h *HandoffRules) defaults() {
	if h.Cooldown <= 0 {
		h.Cooldown = time.Minute
	}
	if h.SustainFor <= 0 {
		h.SustainFor = 2 * time.Second
	}
	if h.Announce <= 0 {
		h.Announce = 500 * time.Millisecond
	}
}

// HandoffEvidence is a host's own judgement of itself as leader.
type HandoffEvidence struct {
	Degraded       bool
	Why            string
	To, Candidates string
	Moves          int
	Err            string
}

// handoffGrace is how long a leader's figures must look healthy before its
// degradation (and any announced hand-off) is over.
const handoffGrace = time.Second

// handoffPlanner applies HandoffRules to one host's evidence, sample by
// sample. It is a pure step: time comes in with each call.
type handoffPlanner struct {
	rules   HandoffRules
	since   time.Time // since when the leader has been degrading (zero: not)
	seen    time.Time // when the host last said it was degrading
	to      string    // the announced transferee ("" none)
	at      time.Time // when the announced hand-off may happen
	lastErr string
}

// step returns what to say in the decision's record (empty: nothing), the
// server to hand to now ("" none) and the state to export.
func (p *handoffPlanner) step(now time.Time, s collector.Sample, e HandoffEvidence, unstable bool) (note, to string, st HandoffState) {
	st.Moves = e.Moves
	if e.Err != "" && e.Err != p.lastErr {
		note = "hand-off failed: " + e.Err
	}
	p.lastErr = e.Err
	if !p.rules.Enabled || s.Role != collector.RoleLeader {
		p.since, p.to = time.Time{}, ""
		return note, "", st
	}
	if !e.Degraded {
		// A sample or two of better figures (one fast probe) does not
		// end a degradation; a Grace of them does.
		if now.Sub(p.seen) > handoffGrace {
			p.since, p.to = time.Time{}, ""
		}
		st.Planned = p.to != ""
		return note, "", st
	}
	st.Degraded = true
	p.seen = now
	if p.since.IsZero() {
		p.since = now
	}
	sustained := now.Sub(p.since) >= p.rules.SustainFor
	hold := func(why string) (string, string, HandoffState) {
		p.to = ""
		if !sustained {
			return note, "", st
		}
		return join(note, "hand-off held: leader degrading ("+e.Why+") but "+why), "", st
	}
	switch {
	case p.to != "" && e.To != "" && now.Before(p.at):
		// Announced; the move waits for its time. The announcement is
		// that this leader steps aside: a change of transferee (on the
		// host's fresher figures) keeps the time.
		p.to = e.To
		st.Planned = true
		return note, "", st
	case unstable:
		return hold("the cluster is unstable")
	case !s.Has(collector.FieldLeaderStableFor) || s.LeaderStableFor < p.rules.Cooldown:
		return hold(fmt.Sprintf("this leader has led for %s, less than the cluster-wide cooldown %s",
			s.LeaderStableFor.Round(100*time.Millisecond), p.rules.Cooldown))
	case e.To == "":
		return hold(e.Candidates)
	case p.to == "":
		// Announce as soon as the leader is judged degrading; move once
		// it has been for SustainFor, and never sooner than Announce after
		// the announcement.
		p.to, p.at = e.To, p.since.Add(p.rules.SustainFor)
		if a := now.Add(p.rules.Announce); a.After(p.at) {
			p.at = a
		}
		st.Planned = true
		return join(note, fmt.Sprintf("hand-off planned to %s in %s: this leader is degrading: %s; %s",
			e.To, p.at.Sub(now).Round(time.Millisecond), e.Why, e.Candidates)), "", st
	}
	to = e.To
	p.since, p.to = time.Time{}, ""
	return join(note, fmt.Sprintf("handing leadership to %s: this leader is degrading: %s; %s", to, e.Why, e.Candidates)), to, st
}
