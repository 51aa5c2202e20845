package refcluster

import (
	"strings"
	"testing"

	"github.com/nsraft/nsraft/sim"
)

func TestPickLiveNamesMatchTheSimulator(t *testing.T) {
	defaults := LiveStrategies(&sim.Scenario{Nodes: 3})
	got, err := pickLive(defaults, []string{"lstm", "dynatune", "host-default", "phi"})
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
	if got[1].Timing != agentTiming {
		t.Fatalf("dynatune runs with %+v, want the agents' timing", got[1].Timing)
	}
	if _, err := pickLive(defaults, []string{"lstm-raw"}); err == nil || !strings.Contains(err.Error(), "through the agent") {
		t.Fatalf("lstm-raw: %v", err)
	}
	if _, err := pickLive(defaults, []string{"psychic"}); err == nil || !strings.Contains(err.Error(), "dynatune") {
		t.Fatalf("unknown: %v", err)
	}
}
