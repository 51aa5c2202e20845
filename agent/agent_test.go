package agent

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

var _ Host = (*hashicorp.Adapter)(nil)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestLoopDrivesARealNodeWithinBounds runs the agent beside a follower of
// a real in-process hashicorp/raft cluster: the node's HeartbeatTimeout
// follows the (bounded) decisions and every decision is logged as JSON.
func TestLoopDrivesARealNodeWithinBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs a 3-node hashicorp/raft cluster in-process for seconds; run without -short: go test -run TestLoopDrivesARealNodeWithinBounds ./agent")
	}
	const hb = 500 * time.Millisecond
	rs, stop, err := hashicorp.LocalCluster(3, hb)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var f *raft.Raft
	for _, r := range rs {
		if r.State() == raft.Follower {
			f = r
		}
	}
	ad := hashicorp.New(f, hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: hb / 2, LeaseTTL: time.Second})
	ad.Start()
	defer ad.Close()

	pol, diags := policy.Parse([]byte(`
bounds {
  election_min = "300ms"
  election_max = "2s"
  calm_for     = "0s"
}
host { leader_lease_timeout = "250ms" }
`), "test.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var out syncBuf
	log := hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true})
	// A recommender that wants 10s: the policy must cap it at 2s, reached
	// by doublings from the node's 500ms.
	a := New(Config{Recommender: model.Static{T: 10 * time.Second}, Policy: pol, Log: log})
	var got []time.Duration
	for i := 0; i < 5; i++ {
		d, err := a.Step(ad)
		if err != nil {
			t.Fatal(err)
		}
		if d.Timeout < 300*time.Millisecond || d.Timeout > 2*time.Second {
			t.Fatalf("decision %v outside bounds", d.Timeout)
		}
		if got := f.ReloadableConfig().HeartbeatTimeout; got != d.Timeout {
			t.Fatalf("node runs %v, decided %v", got, d.Timeout)
		}
		got = append(got, d.Timeout)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decisions %v, want doublings from the node's 500ms capped at 2s: %v", got, want)
	}
	lines := strings.Split(strings.TrimSpace(out.b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d log lines", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[4]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["decision_ms"].(float64) != 2000 || rec["proposal_ms"].(float64) != 10000 || rec["applied"] != true || rec["recommender"] != "static" ||
		rec["host_timeout_ms"] != float64(2000) {
		t.Fatalf("log line %v", rec)
	}
	if checks, ok := rec["checks"].([]any); !ok || len(checks) == 0 || !strings.Contains(lines[4], "bounds") {
		t.Fatalf("log line lacks its checks: %s", lines[4])
	}
	// The agent stops: within the lease the node is back on its own timing.
	time.Sleep(1500 * time.Millisecond)
	if got := f.ReloadableConfig().HeartbeatTimeout; got != hb {
		t.Fatalf("after the agent stopped the node runs %v, want its own %v", got, hb)
	}
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
