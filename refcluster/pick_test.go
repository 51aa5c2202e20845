package refcluster

import (
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/sim"
)

func TestPickLiveNamesMatchTheSimulator(t *testing.T) {
	defaults := LiveStrategies(&sim.Scenario{Nodes: 3})
	got, err := pickLive(&sim.Scenario{Nodes: 3}, defaults, []string{"lstm", "dynatune", "host-default", "phi"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range got {
		names = append(names, st.Name+"/"+st.Recommender)
	}
	if strings.Join(names, ",") != "lstm/lstm,dynatune/dynatune,host-default/,phi/phi" {
		t.Fatalf("picked %v", names)
	}
	if got[1].Timing != AgentTiming(&sim.Scenario{Nodes: 3}) {
		t.Fatalf("dynatune runs with %+v, want the agents' timing", got[1].Timing)
	}
	if _, err := pickLive(&sim.Scenario{Nodes: 3}, defaults, []string{"lstm-raw"}); err == nil || !strings.Contains(err.Error(), "through the agent") {
		t.Fatalf("lstm-raw: %v", err)
	}
	if _, err := pickLive(&sim.Scenario{Nodes: 3}, defaults, []string{"psychic"}); err == nil || !strings.Contains(err.Error(), "dynatune") {
		t.Fatalf("unknown: %v", err)
	}
}

// Agent-steered nodes start with the lease the agent recommends for their
// network: the policy's least timeout on a LAN, room for a heartbeat round
// on a WAN, and the simulator's twin runs with the same lease.
func TestAgentTimingLeaseFollowsTheNetwork(t *testing.T) {
	lan := &sim.Scenario{Nodes: 5, Network: sim.Network{Delay: 200 * time.Microsecond, Jitter: 100 * time.Microsecond}, Duration: time.Minute}
	wan := &sim.Scenario{Nodes: 5, Network: sim.Network{Delay: 40 * time.Millisecond, Jitter: 5 * time.Millisecond}, Duration: time.Minute}
	wan.Links = []sim.Link{{From: "n1", To: "n2", Network: sim.Network{Delay: 90 * time.Millisecond}, Set: map[string]bool{"delay": true}}}
	if l := AgentTiming(lan).LeaderLeaseTimeout; l != 50*time.Millisecond {
		t.Errorf("LAN lease %v, want 50ms (the policy's election_min, which it may not exceed)", l)
	}
	// Slowest link n1→n2: 90ms one way, a 180ms round trip; 10ms of
	// heartbeat wait plus 1.5 × 180ms, rounded up to 50ms.
	if l := AgentTiming(wan).LeaderLeaseTimeout; l != 300*time.Millisecond {
		t.Errorf("WAN lease %v, want 300ms", l)
	}
	if tw := LiveTwin(wan, 20*time.Second); tw.LeaderLease != AgentTiming(wan).LeaderLeaseTimeout {
		t.Errorf("twin lease %v, want the agents' nodes' %v", tw.LeaderLease, AgentTiming(wan).LeaderLeaseTimeout)
	}
}
