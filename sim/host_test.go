package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/configs"
)

// hostSim builds a simulation of s under host without running it, every
// node a follower at base timeout T, for tests of one rule at a time.
func hostSim(t *testing.T, s *Scenario, host HostKind, T time.Duration) *simulation {
	t.Helper()
	sm := &simulation{s: s, o: Options{Seed: 1, Host: host}, r: newRNGs(1), net: newNetwork(s, 1), fates: newFates(1, s.Nodes, s.Heartbeat), quorum: s.Nodes/2 + 1, host: host, lease: s.Lease()}
	for i := 0; i < s.Nodes; i++ {
		sm.nodes = append(sm.nodes, &node{id: i, up: true, votedFor: -1, leader: -1, T: T, obs: newObserver(s), match: make([]uint64, s.Nodes),
			lastAck: make([]time.Duration, s.Nodes), lastSent: make([]time.Duration, s.Nodes), hbSeq: make([]uint64, s.Nodes),
			hbBusy: make([]bool, s.Nodes), hbNotify: make([]bool, s.Nodes), hbFails: make([]uint64, s.Nodes)})
	}
	sm.hostStart()
	return sm
}

func TestParseHost(t *testing.T) {
	s := scenario(t, `scenario "h" {
  host                 = "hashicorp"
  leader_lease_timeout = "250ms"
  election_ticks       = 20
}`)
	if s.Host != HostHashicorp || s.LeaderLease != 250*time.Millisecond || s.ElectionTicks != 20 {
		t.Fatalf("host %q lease %v ticks %d", s.Host, s.LeaderLease, s.ElectionTicks)
	}
	d := scenario(t, `scenario "d" {}`)
	if d.Host != HostGeneric || d.LeaderLease != DefaultLeaderLease || d.ElectionTicks != DefaultElectionTicks {
		t.Fatalf("defaults: host %q lease %v ticks %d", d.Host, d.LeaderLease, d.ElectionTicks)
	}
	for src, want := range map[string]string{
		"scenario \"x\" {\n  host = \"raft\"\n}\n":                `bad.hcl:2,10: unknown host "raft": have generic, hashicorp, etcd`,
		"scenario \"x\" {\n  host = 3\n}\n":                       "bad.hcl:2,10: host must be a string",
		"scenario \"x\" {\n  leader_lease_timeout = \"1ms\"\n}\n": "bad.hcl:2,26: leader_lease_timeout 1ms is below hashicorp/raft's limit of 5ms",
		"scenario \"x\" {\n  election_ticks = 2.5\n}\n":           "bad.hcl:2,20: election_ticks must be a whole number",
	} {
		_, diags := Parse([]byte(src), "bad.hcl")
		if got := configs.FormatDiagnostics(diags); !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
}

// burstScenario has one long burst of extra delay and no crash: the only
// reason a leader could lose office is its own lease.
const burstScenario = `scenario "burst" {
  nodes     = 3
  duration  = "60s"
  network {
    delay = "1ms"
    burst {
      mean_interval = "10s"
      mean_length   = "3s"
      extra_delay   = "150ms"
    }
  }
}`

func TestHashicorpLeaseShorterThanABurstStepsTheLeaderDown(t *testing.T) {
	s := scenario(t, burstScenario)
	// Followers time out only after 2s without contact, which no burst
	// round trip (300ms) reaches: every election after the first is a
	// leader that stepped down on its lease.
	const T = 2 * time.Second
	run := func(host HostKind, lease time.Duration) Metrics {
		c := *s
		c.LeaderLease = lease
		return Run(&c, Options{Seed: 3, Host: host, FixedTimeout: T, ClientRate: 0.01}).Metrics
	}
	short, long := run(HostHashicorp, 100*time.Millisecond), run(HostHashicorp, time.Second)
	if short.Elections < 3 || short.UnavailableMS == 0 {
		t.Errorf("a 100ms lease under 300ms round trips: %d elections, %.0fms unavailable; want step-downs", short.Elections, short.UnavailableMS)
	}
	if long.Elections != 1 || long.UnavailableMS != 0 {
		t.Errorf("a 1s lease over the same bursts: %d elections, %.0fms unavailable; want none after the first", long.Elections, long.UnavailableMS)
	}
	// The lease is the host's: the generic model's (ten 50ms heartbeats)
	// also outlasts these bursts.
	if g := run(HostGeneric, 100*time.Millisecond); g.Elections != 1 {
		t.Errorf("generic host: %d elections, want 1", g.Elections)
	}
}

func TestHashicorpPreVoteIsRefusedUntilTheVotersTimerFired(t *testing.T) {
	s := scenario(t, `scenario "p" {
  nodes = 3
}`)
	const T = 300 * time.Millisecond
	for _, host := range []HostKind{HostHashicorp, HostGeneric} {
		sm := hostSim(t, s, host, T)
		voter := sm.nodes[1]
		voter.leader, voter.lastContact, voter.hostContact = 0, 0, 0
		// Long past its own timeout since the last contact, but its timer
		// has not fired yet: it still knows a leader.
		sm.now = 2*T + T/2
		req := message{kind: msgPreVote, from: 2, to: 1, term: 1}
		_, grant := sm.preVoteAnswer(voter, req)
		switch host {
		case HostHashicorp:
			if grant {
				t.Fatal("hashicorp: a voter that knows a leader granted a pre-vote")
			}
			// Its timer fires: no contact for T, it forgets the leader
			// (and campaigns itself), and now grants.
			voter.timerGen++
			sm.hcTimer(voter, voter.timerGen)
			if voter.leader != -1 {
				t.Fatal("hashicorp: the timer fired without contact and the voter kept its leader")
			}
			voter.role = follower
			if _, grant := sm.preVoteAnswer(voter, req); !grant {
				t.Fatal("hashicorp: refused a pre-vote after its own timer fired")
			}
		case HostGeneric:
			// The generic rule looks at the clock, not the timer.
			if !grant {
				t.Fatal("generic: refused a pre-vote long after its last contact")
			}
		}
	}
}

func TestEtcdRefusesPreVoteWithinItsElectionTimeout(t *testing.T) {
	s := scenario(t, `scenario "e" {
  nodes = 3
}`)
	sm := hostSim(t, s, HostEtcd, time.Second)
	voter := sm.nodes[1]
	voter.leader = 0
	req := message{kind: msgPreVote, from: 2, to: 1, term: 1}
	for elapsed := 0; elapsed < sm.etcdE; elapsed++ {
		voter.elapsed = elapsed
		if answer, _ := sm.preVoteAnswer(voter, req); answer {
			t.Fatalf("answered a pre-vote %d ticks after its leader's message (E = %d)", elapsed, sm.etcdE)
		}
		if refused, answer := sm.voteRefused(voter, message{kind: msgVote, from: 2, to: 1, term: 1}); !refused || answer {
			t.Fatalf("did not ignore a vote %d ticks after its leader's message", elapsed)
		}
	}
	voter.elapsed = sm.etcdE
	if answer, grant := sm.preVoteAnswer(voter, req); !answer || !grant {
		t.Fatalf("E ticks without a leader: answer %v grant %v, want a grant", answer, grant)
	}
}

func TestEtcdTimeoutIsDrawnAtResetNotAtContact(t *testing.T) {
	s := scenario(t, `scenario "e" {
  nodes = 3
}`)
	sm := hostSim(t, s, HostEtcd, time.Second)
	n := sm.nodes[1]
	drawn := map[int]bool{}
	for i := 0; i < 50; i++ {
		first := n.randomized
		if first < sm.etcdE || first >= 2*sm.etcdE {
			t.Fatalf("randomized timeout %d outside [E, 2E) = [%d, %d)", first, sm.etcdE, 2*sm.etcdE)
		}
		n.elapsed = 3
		sm.contact(n)
		if n.randomized != first || n.elapsed != 0 {
			t.Fatalf("contact changed the randomized timeout (%d → %d) or kept elapsed ticks", first, n.randomized)
		}
		sm.etcdReset(n)
		drawn[n.randomized] = true
	}
	if len(drawn) < 2 {
		t.Fatalf("50 resets drew one timeout: %v", drawn)
	}
}

func TestHashicorpHeartbeatWaitsForTheAnswer(t *testing.T) {
	// 20ms each way, no jitter: a follower hears a heartbeat a round trip
	// (40ms) plus the loop's wait, [T/10, T/5), after the last. The lease
	// is long enough for that.
	s := scenario(t, `scenario "hb" {
  nodes    = 3
  duration = "60s"
  network { delay = "20ms" }
  leader_lease_timeout = "500ms"
}`)
	const T = 500 * time.Millisecond
	gaps := func(host HostKind) (lo, hi time.Duration) {
		lo = time.Hour
		Run(s, Options{Seed: 5, Host: host, FixedTimeout: T, ClientRate: 0.001, OnSample: func(_ string, smp collector.Sample, _ Truth) {
			if smp.Role == collector.RoleFollower && smp.LeaderStableFor > 2*time.Second {
				hi = max(hi, smp.HeartbeatGap)
				lo = min(lo, smp.HeartbeatGap)
			}
		}})
		return lo, hi
	}
	_, hi := gaps(HostHashicorp)
	// Processing adds 0.2ms per message.
	if want := T/5 + 40*time.Millisecond; hi < want-10*time.Millisecond || hi > want+time.Millisecond {
		t.Errorf("hashicorp: longest heartbeat gap %v, want just under %v (T/5 + a round trip)", hi, want)
	}
	if _, hi := gaps(HostGeneric); hi > 55*time.Millisecond {
		t.Errorf("generic: longest heartbeat gap %v, want the scenario's 50ms", hi)
	}
}

func TestHashicorpReloadRefusesATimeoutBelowTheLease(t *testing.T) {
	s := scenario(t, `scenario "r" {
  nodes = 3
  leader_lease_timeout = "100ms"
}`)
	sm := hostSim(t, s, HostHashicorp, time.Second)
	n := sm.nodes[0]
	sm.apply(n, 80*time.Millisecond)
	if n.T != time.Second {
		t.Fatalf("a timeout under the 100ms lease was applied: %v", n.T)
	}
	sm.apply(n, 150*time.Millisecond)
	if n.T != 150*time.Millisecond {
		t.Fatalf("150ms was not applied: %v", n.T)
	}
	if _, _, interval, lease := sm.hostTimeouts(n); interval != 15*time.Millisecond || lease != 100*time.Millisecond {
		t.Fatalf("reported heartbeat interval %v and lease %v, want 15ms and 100ms", interval, lease)
	}
}

func TestHostRunsAreDeterministic(t *testing.T) {
	s := scenario(t, burstScenario)
	for _, host := range []HostKind{HostHashicorp, HostEtcd} {
		a := Run(s, Options{Seed: 9, Host: host, NewRecommender: fixedRec(300 * time.Millisecond)}).Metrics
		b := Run(s, Options{Seed: 9, Host: host, NewRecommender: fixedRec(300 * time.Millisecond)}).Metrics
		if a.UnavailableMS != b.UnavailableMS || a.Elections != b.Elections || len(a.Commits) != len(b.Commits) {
			t.Fatalf("%s: two runs of one seed differ: %+v vs %+v", host, a.Elections, b.Elections)
		}
		if len(a.Commits) < 100 {
			t.Fatalf("%s: only %d commits in 60s", host, len(a.Commits))
		}
	}
}

func TestEtcdCheckQuorumStepsDownAfterETicksWithoutAMajority(t *testing.T) {
	s := scenario(t, `scenario "q" {
  nodes = 5
}`)
	for _, heard := range []int{1, 2} {
		sm := hostSim(t, s, HostEtcd, 100*time.Millisecond)
		l := sm.nodes[0]
		sm.becomeLeader(l)
		for tick := 1; tick <= sm.etcdE; tick++ {
			sm.now += sm.etcdPeriod(l)
			for p := 1; p <= heard; p++ {
				l.lastAck[p] = sm.now // answers from `heard` followers
			}
			if l.role != leader {
				t.Fatalf("hearing from %d of 4: stepped down after %d ticks, before the check at E = %d", heard, tick-1, sm.etcdE)
			}
			sm.etcdTick(l, l.tickGen)
		}
		switch stepped := l.role != leader; {
		case heard == 1 && !stepped:
			t.Fatal("with 2 of 5 nodes active the leader kept office past its check")
		case heard == 2 && stepped:
			t.Fatal("with 3 of 5 nodes active the leader stepped down")
		}
	}
}
