package agent

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
)

func TestShippedAgentConfigParses(t *testing.T) {
	cfg, diags := LoadConfig("../configs/agent.hcl")
	if diags.HasErrors() {
		t.Fatal(configs.FormatDiagnostics(diags))
	}
	if cfg.Node != "n1" || cfg.Recommender != "lstm" || cfg.Tick != 100*time.Millisecond || cfg.LeaseTTL != time.Second ||
		cfg.GRPC != "unix:///run/ns-agent/n1.sock" || cfg.HTTP != "127.0.0.1:9464" || cfg.LogMaxMB != 64 || cfg.LogStderr {
		t.Fatalf("%+v", cfg)
	}
}

func TestBadAgentConfigIsPositioned(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`nodes = "n1"`, `a.hcl:1,1: Unsupported argument`},
		{"node = \"n1\"\ntick = \"fast\"", `a.hcl:2,8: tick: "fast" is not a duration`},
		{"node = \"n1\"\nhost { kind = \"zookeeper\" }", `a.hcl:2,15: host.kind "zookeeper" is not one of hashicorp, consul, etcd, etcd-raft`},
		{"node = \"n1\"\nhost {\n  kind = \"consul\"\n  advice_period = \"1h\"\n}", `a.hcl:4,19: host.advice_* applies to etcd servers, not consul`},
		{"node = \"n1\"\nhost {\n  kind = \"etcd\"\n  advice_margin = 50\n}", `a.hcl:4,19: host.advice_margin`},
		{"node = \"n1\"\nrecommender = \"psychic\"", `a.hcl:2,15: unknown recommender "psychic"`},
		{"node = \"n1\"\ntick = \"1s\"\nlease_ttl = \"1s\"", `a.hcl:3,13: lease_ttl 1s must be at least two ticks`},
		{"node = \"n1\"\nlisten {\n  grpc = \"unix:///x.sock\"\n  tls {\n    cert_file = \"c\"\n    key_file = \"k\"\n  }\n}", `a.hcl:5,17: tls applies to a TCP listener`},
		{"node = \"\"", `a.hcl:1,8: node is required`},
		{"node = \"n1\"\nlisten { socket_mode = \"0777\" }", `a.hcl:2,24: listen.socket_mode 0777 lets every local user drive the host`},
		{"node = \"n1\"\nlog { decisions = \"some\" }", `a.hcl:2,19: log.decisions "some" is not "all" or "changes"`},
		{"node = \"n1\"\nlog_level = \"loud\"", `a.hcl:2,13: log_level "loud" is not one of`},
		{"node = null", `a.hcl:1,8: node is required`},
		{"node = \"../../etc/x\"", `a.hcl:1,8: node "../../etc/x": use at most 128 letters`},
		{"node = \"n1\"\ntick = \"1ns\"", `a.hcl:2,8: tick 1ns is outside 1ms..1m0s`},
		{"node = \"n1\"\ntick = \"100000h\"", `a.hcl:2,8: tick 100000h0m0s is outside 1ms..1m0s`},
		{"node = \"n1\"\nlease_ttl = \"1000h\"", `a.hcl:2,13: lease_ttl 1000h0m0s is above 10m0s`},
		{"node = \"n1\"\nlog { max_size_mb = 0 }", `a.hcl:2,21: log.max_size_mb`},
		{"node = \"n1\"\nrecommender = ", `a.hcl:2,15`},
	} {
		_, diags := ParseConfig([]byte(tc.src), "a.hcl")
		got := configs.FormatDiagnostics(diags)
		if !diags.HasErrors() || !strings.Contains(got, tc.want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.src, got, tc.want)
		}
	}
}

// TestDashboardQueriesExistingMetrics keeps the Grafana dashboard honest:
// every ns_agent_* series it queries is one the agent exports.
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	b, err := os.ReadFile("../configs/deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	a := New(Config{Node: "n1", Recommender: model.Static{T: time.Second}})
	// A node running 100ms: the step-up limit changes the proposed 1s.
	s := collector.Sample{Node: "n1", At: time.Now(), HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		Role: collector.RoleLeader, Term: 3, HeartbeatGap: time.Millisecond, RTTMean: time.Millisecond, RTTP99: time.Millisecond}
	s.Set(collector.FieldHostTimeouts | collector.FieldRole | collector.FieldTerm | collector.FieldHeartbeatGap | collector.FieldRTT)
	r := a.Decide(s, true)
	a.Finish(r, true, nil)
	a.metrics.latency.Observe(0.001)
	fams, err := a.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
	}
	re := regexp.MustCompile(`ns_agent_[a-z0-9_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range re.FindAllString(tg.Expr, -1) {
				n++
				if !have[m] && !have[strings.TrimSuffix(m, "_bucket")] {
					t.Errorf("panel %q queries %s, which the agent does not export", p.Title, m)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d metric references found", n)
	}
}
