package agent

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/adapter/etcd"
	"github.com/nsraft/nsraft/api/nsraftv1"
)

// A decision line names the change and its direction, the bounds and the
// rules that moved or held it (not those that only confirmed), and says
// when it was not applied or only advised.
func TestFormatDecision(t *testing.T) {
	ms := int64(time.Millisecond)
	event := func() *nsraftv1.DecisionEvent {
		return &nsraftv1.DecisionEvent{Node: "n1", Recommender: "lstm", ProposalNs: 300 * ms, Confidence: 0.5,
			DecisionNs: 450 * ms, PreviousNs: 400 * ms, MinNs: 150 * ms, MaxNs: 5000 * ms, Live: true,
			Checks: []*nsraftv1.Check{{Name: "step_up", Pos: "p.hcl:3,1", Effect: "changed"}, {Name: "min", Pos: "p.hcl:1,1", Effect: "confirmed"}}}
	}
	for _, tc := range []struct {
		mod  func(*nsraftv1.DecisionEvent)
		want []string
		not  []string
	}{
		{nil, []string{"n1", "lstm 300ms (0.50)", "→ 450ms ▲50ms", "[150ms..5.00s]", "step_up @p.hcl:3,1", "gap -"}, []string{"min @", "advisory", "\x1b["}},
		{func(e *nsraftv1.DecisionEvent) { e.DecisionNs = 350 * ms }, []string{"→ 350ms ▼50ms"}, nil},
		{func(e *nsraftv1.DecisionEvent) { e.Live = false }, []string{"advisory"}, nil},
		{func(e *nsraftv1.DecisionEvent) { e.Error = "refused" }, []string{"not applied: refused"}, []string{"advisory"}},
		{func(e *nsraftv1.DecisionEvent) { e.PreviousNs = 0 }, []string{"→ 450ms"}, []string{"▲", "▼"}},
	} {
		e := event()
		if tc.mod != nil {
			tc.mod(e)
		}
		line := FormatDecision(e, false)
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%q lacks %q", line, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(line, w) {
				t.Errorf("%q has %q", line, w)
			}
		}
	}
	if line := FormatDecision(event(), true); !strings.Contains(line, ansiYellow+"450ms ▲50ms"+ansiReset) {
		t.Errorf("colour: %q", line)
	}
}

// Certificate and key go together; a CA file without a certificate in it
// is refused with its name.
func TestClientTLSErrors(t *testing.T) {
	if _, err := ClientTLS("", "c.pem", "", ""); err == nil {
		t.Fatal("certificate without key accepted")
	}
	bad := t.TempDir() + "/ca.pem"
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ClientTLS(bad, "", "", ""); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("CA without PEM: %v", err)
	}
	tc, err := ClientTLS("", "", "", "agent.example")
	if err != nil || tc.ServerName != "agent.example" || tc.MinVersion == 0 {
		t.Fatalf("plain: %+v, %v", tc, err)
	}
}

// The advice report lists members in ID order with their evidence, says
// "unknown" for an uptime it could not read, and names what was not read.
func TestAdviceReport(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	rd := etcd.Reading{At: at, ByMember: map[uint64]etcd.Metrics{
		0x2b: {IsLeader: true, ProcessStart: at.Add(-90 * time.Second), LeaderChanges: 2,
			PeerRTT: etcd.Histogram{Bounds: []float64{0.001, 0.01}, Counts: []float64{50, 100}, Count: 100}},
		0x0a: {},
	}, Missing: []string{"http://m3:2379"}}
	out := AdviceReport(etcd.Recommendation{}, rd)
	a, b := strings.Index(out, "member a:"), strings.Index(out, "member 2b:")
	if a < 0 || b < a {
		t.Fatalf("members missing or out of order:\n%s", out)
	}
	for _, want := range []string{"member 2b: up 1m30s, leader true", "leader changes seen 2", "member a: up unknown, leader false", "not read: http://m3:2379"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
