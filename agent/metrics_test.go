package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// raftSample is a sample of node n1 in term with leader (or none), the
// given time since leader contact and a 1s timeout in force.
func raftSample(at time.Time, term uint64, leader string, contact time.Duration) collector.Sample {
	s := collector.Sample{Node: "n1", At: at, Role: collector.RoleFollower, Term: term, Leader: leader,
		LastContact: contact, HeartbeatGap: contact, HeartbeatTimeout: time.Second, ElectionTimeout: time.Second,
		RTTMean: 2 * time.Millisecond, RTTP99: 5 * time.Millisecond}
	s.Set(collector.FieldRole | collector.FieldTerm | collector.FieldLeader | collector.FieldLastContact |
		collector.FieldHeartbeatGap | collector.FieldHostTimeouts | collector.FieldRTT)
	return s
}

// TestMetricsCountElections feeds one node's samples through the agent and
// reads the election counters: a term started while the node heard its
// leader is unnecessary, terms without a leader failed, and the first
// term seen is only a baseline.
func TestMetricsCountElections(t *testing.T) {
	at := time.Unix(1e9, 0)
	a := New(Config{Node: "n1", Recommender: model.Static{T: time.Second}, Now: func() time.Time { return at }})
	step := func(s collector.Sample) {
		at = at.Add(100 * time.Millisecond)
		s.At = at
		a.Finish(a.Decide(s, true), true, nil)
	}
	m := a.Metrics()
	check := func(when string, elections, unnecessary, failed, term float64) {
		t.Helper()
		for name, got := range map[string][2]float64{
			"elections":   {testutil.ToFloat64(m.elections.WithLabelValues("n1")), elections},
			"unnecessary": {testutil.ToFloat64(m.unnecessary.WithLabelValues("n1")), unnecessary},
			"failed":      {testutil.ToFloat64(m.failed.WithLabelValues("n1")), failed},
			"term":        {testutil.ToFloat64(m.term.WithLabelValues("n1")), term},
		} {
			if got[0] != got[1] {
				t.Errorf("%s: %s = %v, want %v", when, name, got[0], got[1])
			}
		}
	}
	step(raftSample(at, 7, "n2", 20*time.Millisecond))
	check("first sample (baseline)", 0, 0, 0, 7)
	// A new term while n2's heartbeats still arrive: nothing forced it.
	step(raftSample(at, 8, "n3", 20*time.Millisecond))
	check("term started under a live leader", 1, 1, 0, 8)
	// n3 goes silent; after the timeout a term starts, then a split vote
	// skips term 10, and term 11 elects n1.
	step(raftSample(at, 8, "n3", 700*time.Millisecond))
	step(raftSample(at, 9, "", 1200*time.Millisecond))
	check("term started after the leader went silent", 2, 1, 0, 9)
	step(raftSample(at, 11, "n1", 10*time.Millisecond))
	check("split vote skipped a term", 4, 1, 2, 11)
	if got := testutil.ToFloat64(m.heartbeatGap.WithLabelValues("n1")); got != 0.01 {
		t.Errorf("heartbeat gap %v s, want 0.01", got)
	}
	if got := testutil.ToFloat64(m.role.WithLabelValues("n1", "follower")); got != 1 {
		t.Errorf("role follower = %v", got)
	}
	if got := testutil.ToFloat64(m.role.WithLabelValues("n1", "leader")); got != 0 {
		t.Errorf("role leader = %v", got)
	}
	if got := testutil.ToFloat64(m.lastDecision.WithLabelValues("n1")); got != float64(at.UnixNano())/1e9 {
		t.Errorf("last decision timestamp %v, want %v", got, float64(at.UnixNano())/1e9)
	}
}

// TestMetricsLintAndLabels scrapes an agent's registry after decisions and
// a recommender switch: promlint finds nothing, every ns_agent_* series
// carries the node, and the switched-out recommender's series is gone.
func TestMetricsLintAndLabels(t *testing.T) {
	a := New(Config{Node: "n1", Recommender: model.Static{T: time.Second}})
	at := time.Unix(1e9, 0)
	for i := range 3 {
		a.Finish(a.Decide(raftSample(at.Add(time.Duration(i)*100*time.Millisecond), 3, "n2", 30*time.Millisecond), true), true, nil)
	}
	a.metrics.latency.Observe(0.001)
	a.metrics.Reloaded(true)
	a.SetRecommender(model.Random{}) // what SIGHUP does with a new recommender
	a.Finish(a.Decide(raftSample(at.Add(time.Second), 3, "n2", 30*time.Millisecond), true), true, nil)

	fams, err := a.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	have := map[string]bool{}
	for _, f := range fams {
		name := f.GetName()
		have[name] = true
		if !strings.HasPrefix(name, "ns_agent_") || name == "ns_agent_build_info" {
			continue
		}
		for _, mt := range f.GetMetric() {
			node := ""
			for _, l := range mt.GetLabel() {
				if l.GetName() == "node" {
					node = l.GetValue()
				}
				if name == "ns_agent_proposal_seconds" && l.GetName() == "recommender" && l.GetValue() != "random" {
					t.Errorf("ns_agent_proposal_seconds still has a series for %s after the switch", l.GetValue())
				}
			}
			if node != "n1" {
				t.Errorf("%s has a series without node=n1: %v", name, mt.GetLabel())
			}
		}
	}
	for _, want := range []string{"ns_agent_build_info", "ns_agent_raft_role", "ns_agent_raft_term", "ns_agent_raft_elections_total",
		"ns_agent_raft_unnecessary_elections_total", "ns_agent_raft_failed_elections_total", "ns_agent_heartbeat_gap_seconds",
		"ns_agent_peer_rtt_p99_seconds", "ns_agent_last_decision_timestamp_seconds", "ns_agent_advice_changes_total",
		"process_cpu_seconds_total", "go_goroutines"} {
		if !have[want] {
			t.Errorf("the registry lacks %s", want)
		}
	}
	if have["ns_agent_process_cpu_seconds_total"] {
		t.Error("process metrics are still renamed ns_agent_process_*")
	}
}
