package demo

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/nsraft/nsraft/internal/testbin"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { testbin.Main(m) }

// nsAgent returns the ns-agent binary the process tests run (skipping
// the test under -short).
func nsAgent(t testing.TB) string { return testbin.Path(t) }

// runCLI runs `ns-agent args…` as a user does and returns what it printed
// and its exit code.
func runCLI(t *testing.T, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, nsAgent(t), args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return string(out), 0
}

func TestDemoRunsClusterUnderFaults(t *testing.T) {
	out, code := runCLI(t, 3*time.Minute, "demo", "-duration", "8s", "-nodes", "3", "-seed", "3", "-strategy", "none")
	if code != 0 {
		t.Fatalf("demo exit %d:\n%s", code, out)
	}
	for _, want := range []string{"leader n", "fault: network", "summary", "writes ", "linearizability      linearizable"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoWithAgentsAppliesBoundedDecisions runs the demo with an agent
// process beside each node and reads the agents' recommendation logs:
// every tick's decision is logged as a JSON line, applied to the real
// node, and inside the default policy's bounds.
func TestDemoWithAgentsAppliesBoundedDecisions(t *testing.T) {
	out, code := runCLI(t, 3*time.Minute, "demo", "-duration", "8s", "-nodes", "3", "-strategy", "linucb", "-keep")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "agent timeouts now") || !strings.Contains(out, "linearizability      linearizable") {
		t.Fatalf("summary:\n%s", out)
	}
	i := strings.Index(out, "data and logs")
	if i < 0 {
		t.Fatalf("no data dir in:\n%s", out)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(out[i:], "\n", 2)[0], "data and logs"))
	defer os.RemoveAll(dir)
	for _, id := range []string{"n1", "n2", "n3"} {
		b, err := os.ReadFile(filepath.Join(dir, "agents", id+".decisions.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		decisions := 0
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, `"@message":"decision"`) {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %v: %s", id, err, line)
			}
			d := rec["decision_ms"].(float64)
			// The demo kills nodes (its faults) and stops each node
			// before its agent: a decision in flight then finds its host
			// gone, and says so; every other one is applied.
			gone := rec["error"] == "the host disconnected before acknowledging"
			if d < 150 || d > 5000 || (rec["applied"] != true && !gone) || rec["recommender"] != "linucb" {
				t.Fatalf("%s: decision outside the default policy or not applied: %s", id, line)
			}
			if !gone {
				decisions++
			}
		}
		// 8s at a 100ms tick, after start-up: dozens of applied decisions.
		if decisions < 30 {
			t.Fatalf("%s logged %d decisions", id, decisions)
		}
	}
}
