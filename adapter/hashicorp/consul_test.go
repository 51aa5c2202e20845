package hashicorp

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// testdata/consul holds output captured from a real 3-server Consul
// v1.16.1 cluster on loopback (raft_multiplier 1): the leader's
// /v1/agent/metrics?format=prometheus and /v1/agent/self.

func TestParseConsulMetricsOfARealLeader(t *testing.T) {
	b, err := os.ReadFile("testdata/consul/leader-metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseConsulMetrics(string(b))
	if err != nil {
		t.Fatal(err)
	}
	// The worse of the two peers: p99 3.315ms (p50 0.268ms, p90 0.392ms).
	if !m.HeartbeatOK || m.HeartbeatP99.Microseconds() != 3315 || m.HeartbeatP50.Microseconds() != 267 || m.HeartbeatP90.Microseconds() != 392 {
		t.Fatalf("heartbeat %+v", m)
	}
	if !m.ProcessCPUOK || m.ProcessCPU != 480*time.Millisecond || m.HeartbeatPeers != 2 {
		t.Fatalf("process cpu %v (%v), heartbeat peers %d", m.ProcessCPU, m.ProcessCPUOK, m.HeartbeatPeers)
	}
	if m.Candidacies != 1 {
		t.Fatalf("candidacies %v", m.Candidacies)
	}
	// Consul reports NaN quantiles for a window without BoltDB writes:
	// missing, not zero.
	if m.StoreLogsOK {
		t.Fatalf("NaN storeLogs read as %v", m.StoreLogsP99)
	}
	if _, err := ParseConsulMetrics("consul_raft_state_candidate{ 1\n"); err == nil {
		t.Fatal("garbage parsed")
	}
}

// consulServer serves captured output of a real Consul leader.
func consulServer(t *testing.T, metrics string) *httptest.Server {
	self, err := os.ReadFile("testdata/consul/leader-agent-self.json")
	if err != nil {
		t.Fatal(err)
	}
	prom, _ := os.ReadFile("testdata/consul/leader-metrics.prom")
	if metrics != "" {
		prom = []byte(metrics)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/agent/self":
			w.Write(self)
		case "/v1/agent/metrics":
			w.Write(prom)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestConsulSampleAndAdviceFromCapturedLeader(t *testing.T) {
	srv := consulServer(t, "")
	c, err := NewConsul(context.Background(), ConsulConfig{Address: srv.URL, ProcStat: "testdata/none"})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sample()
	if s.Node != "n1" || s.Role != collector.RoleLeader || s.Term != 2 || s.ClusterSize != 3 {
		t.Fatalf("identity %+v", s)
	}
	if !s.Has(collector.FieldRTT) || s.RTTP99.Microseconds() != 3315 {
		t.Fatalf("rtt %v present %v", s.RTTP99, s.Has(collector.FieldRTT))
	}
	if s.HeartbeatTimeout != time.Second || s.LeaderLeaseTimeout != 500*time.Millisecond || s.Has(collector.FieldDiskSync) {
		t.Fatalf("timing %+v", s)
	}
	if p := s.Check(time.Now(), 0); p != nil {
		t.Fatalf("a real Consul sample has problems: %v", p)
	}
	for _, tc := range []struct {
		t    time.Duration
		want int
	}{{100 * time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {42 * time.Second, 10}} {
		if got := c.Multiplier(tc.t); got != tc.want {
			t.Errorf("Multiplier(%v) = %d, want %d", tc.t, got, tc.want)
		}
	}
	if a := c.Advice(s, 2500*time.Millisecond); !strings.Contains(a, "raft_multiplier = 3 (now 1)") || strings.Contains(a, "transfer-leader") {
		t.Fatalf("advice %q", a)
	}
	slow := s
	slow.DiskSyncP99 = 400 * time.Millisecond
	slow.Set(collector.FieldDiskSync)
	if a := c.Advice(slow, time.Second); !strings.Contains(a, "keep performance.raft_multiplier = 1") || !strings.Contains(a, "disk sync p99 400ms") || !strings.Contains(a, "transfer-leader") {
		t.Fatalf("advice for a degraded leader %q", a)
	}
	if c.Live() || c.Apply(3*time.Second) == nil {
		t.Fatal("an advisory Consul host applied")
	}
}

func TestConsulBadInput(t *testing.T) {
	// Unreachable.
	if _, err := NewConsul(context.Background(), ConsulConfig{Address: "http://127.0.0.1:1", Timeout: time.Second}); err == nil ||
		!strings.Contains(err.Error(), "/v1/agent/self") {
		t.Fatalf("unreachable consul: %v", err)
	}
	// Garbage metrics: the sample keeps what /v1/agent/self gave and marks
	// RTT missing.
	srv := consulServer(t, "this is not { prometheus\n")
	c, err := NewConsul(context.Background(), ConsulConfig{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Sample(); s.Has(collector.FieldRTT) || !s.Has(collector.FieldTerm) {
		t.Fatalf("garbage metrics: %+v", s)
	}
	// Live without a fragment file.
	if _, err := NewConsul(context.Background(), ConsulConfig{Address: srv.URL, Live: true}); err == nil {
		t.Fatal("live without a fragment accepted")
	}
	// A Consul that goes away: an empty sample, no panic.
	srv.Close()
	if s := c.Sample(); s.Present != 0 {
		t.Fatalf("sample of a dead consul: %+v", s)
	}
}

// A server started at raft_multiplier 5 (captured self, timing edited):
// a decision that needs multiplier 1 is refused by the agent before any
// reload, with the reason; the least the lease allows (3) is applied once;
// an operator's other edit in the config dir is reported with that
// reload.
func TestConsulLeaseRefusalAndPendingEdits(t *testing.T) {
	self, err := os.ReadFile("testdata/consul/leader-agent-self.json")
	if err != nil {
		t.Fatal(err)
	}
	self = []byte(strings.NewReplacer(`"ConsulRaftHeartbeatTimeout":"1s"`, `"ConsulRaftHeartbeatTimeout":"5s"`,
		`"ConsulRaftLeaderLeaseTimeout":"500ms"`, `"ConsulRaftLeaderLeaseTimeout":"2.5s"`).Replace(string(self)))
	prom, _ := os.ReadFile("testdata/consul/leader-metrics.prom")
	var reloads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/agent/self":
			w.Write(self)
		case "/v1/agent/metrics":
			w.Write(prom)
		case "/v1/agent/reload":
			reloads.Add(1)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "base.hcl"), []byte("performance { raft_multiplier = 5 }\n"), 0o644)
	frag := filepath.Join(dir, "zz-ns-agent.hcl")
	c, err := NewConsul(context.Background(), ConsulConfig{Address: srv.URL, Live: true, Fragment: frag, ProcStat: "testdata/none", MinReloadInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	// The operator edits another file meanwhile.
	os.WriteFile(filepath.Join(dir, "base.hcl"), []byte("performance { raft_multiplier = 5 }\nlog_level = \"debug\"\n"), 0o644)
	err = c.Apply(time.Second)
	if !errors.Is(err, ErrLeaseRefuses) || !strings.Contains(err.Error(), "raft_multiplier 1 not reloaded") ||
		!strings.Contains(err.Error(), "leader lease (2.5s)") || !strings.Contains(err.Error(), "3 is the least") {
		t.Fatalf("refusal: %v", err)
	}
	t.Log(err)
	if b, _ := os.ReadFile(frag); !strings.Contains(string(b), "raft_multiplier = 3") || reloads.Load() != 1 {
		t.Fatalf("the least the lease allows was not applied once: %d reloads, fragment %q", reloads.Load(), b)
	}
	_, _, note := c.ReadBack()
	if !strings.Contains(note, "also applied other edits") || !strings.Contains(note, "base.hcl (edited)") {
		t.Fatalf("pending edit not reported: %q", note)
	}
	// Asked again: refused again, no second reload.
	if err := c.Apply(time.Second); !errors.Is(err, ErrLeaseRefuses) || reloads.Load() != 1 {
		t.Fatalf("second refusal: %v, %d reloads", err, reloads.Load())
	}
	if err := c.Apply(4 * time.Second); err != nil {
		t.Fatalf("a multiplier the lease allows: %v", err)
	}
}
