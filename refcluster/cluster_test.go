package refcluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/nsraft/nsraft/internal/testbin"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/wait"
)

func TestMain(m *testing.M) { testbin.Main(m) }

// nsAgent returns the ns-agent binary the process tests run (skipping
// the test under -short).
func nsAgent(t testing.TB) string { return testbin.Path(t) }

// fastTiming keeps process tests quick while leaving room for a loaded
// 2-core machine: hashicorp/raft followers fire in [T, 2T) after the last
// contact, so T=400ms gives elections within ~1s.
var fastTiming = Timing{HeartbeatTimeout: 400 * time.Millisecond, ElectionTimeout: 400 * time.Millisecond, LeaderLeaseTimeout: 200 * time.Millisecond}

func startCluster(t *testing.T, n int, dial func(from, to, addr string) (string, error)) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, ClusterConfig{Nodes: n, Binary: nsAgent(t), Dir: t.TempDir(), Timing: fastTiming, Dial: dial})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return c
}

func waitLeader(t *testing.T, c *Cluster, exclude ...string) (string, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, term, err := c.WaitLeader(ctx, exclude...)
	if err != nil {
		t.Fatalf("wait leader: %v", err)
	}
	return id, term
}

// putAcked writes until acknowledged (a write whose outcome is unknown is
// retried with the same value, which is idempotent for this test).
func putAcked(t *testing.T, c *Cluster, cl *Client, key, value string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		id := c.IDs()[i%len(c.IDs())]
		if !c.Running(id) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := cl.Put(ctx, c.HTTPAddr(id), key, value)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("put %s never acknowledged", key)
}

func getValue(t *testing.T, c *Cluster, cl *Client, key string) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var lastErr error
	for i := 0; time.Now().Before(deadline); i++ {
		id := c.IDs()[i%len(c.IDs())]
		if !c.Running(id) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		res, err := cl.Get(ctx, c.HTTPAddr(id), key)
		cancel()
		if err == nil {
			return res.Value, res.Found
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("get %s: %v", key, lastErr)
	return "", false
}

func TestLeaderKillElectsNewLeaderAndKeepsAckedWrites(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := NewClient(3 * time.Second)
	leader, term := waitLeader(t, c)

	for i := 0; i < 20; i++ {
		putAcked(t, c, cl, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	newLeader, newTerm := waitLeader(t, c, leader)
	if newLeader == leader || newTerm <= term {
		t.Fatalf("after killing %s (term %d): leader %s term %d", leader, term, newLeader, newTerm)
	}
	// What an operator is shown when a wait fails: the killed node's exit,
	// each other node's view, and every node's last log lines.
	desc := c.Describe(context.Background(), 5)
	for _, id := range c.IDs() {
		want := fmt.Sprint(id, ": process ", c.proc(id).cmd.Process.Pid)
		if id == leader {
			want += " exited (signal: killed)"
		} else {
			want += " running, " // then its role, term and leader as it answers
		}
		if !strings.Contains(desc, want) || !strings.Contains(desc, "last lines of "+filepath.Join(c.cfg.Dir, id+".log")+":\n  ") {
			t.Fatalf("describe lacks %q or %s's log:\n%s", want, id, desc)
		}
	}
	for i := 20; i < 30; i++ {
		putAcked(t, c, cl, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, c)
	for i := 0; i < 30; i++ {
		v, ok := getValue(t, c, cl, fmt.Sprintf("k%d", i))
		if !ok || v != fmt.Sprintf("v%d", i) {
			t.Errorf("k%d = %q (found %v), want v%d", i, v, ok, i)
		}
	}
	// The restarted node caught up from its own bolt log plus replication.
	wait.Until(t, 10*time.Second, "restarted "+leader+" to catch up", func() (bool, string) {
		st, err := c.Status(context.Background(), leader)
		ls, err2 := c.Status(context.Background(), newLeader)
		return err == nil && err2 == nil && st.AppliedIndex >= ls.CommitIndex && st.Role == "follower",
			fmt.Sprintf("%+v vs %+v (%v %v)", st, ls, err, err2)
	})
}

func TestLeaderPauseLongerThanTimeoutCausesElectionShorterDoesNot(t *testing.T) {
	c := startCluster(t, 3, nil)
	leader, term := waitLeader(t, c)
	T := fastTiming.HeartbeatTimeout

	// A pause far below T: followers keep their leader.
	if err := c.Pause(leader); err != nil {
		t.Fatal(err)
	}
	time.Sleep(T / 4)
	if err := c.Resume(leader); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * T) // let any election that was triggered finish
	l2, term2 := waitLeader(t, c)
	if l2 != leader || term2 != term {
		t.Fatalf("pause of %v (< T=%v) changed leader %s/%d → %s/%d", T/4, T, leader, term, l2, term2)
	}

	// A pause of 4T: every follower's timer (in [T, 2T)) fires.
	if err := c.Pause(leader); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * T)
	l3, term3 := waitLeader(t, c, leader)
	if err := c.Resume(leader); err != nil {
		t.Fatal(err)
	}
	if l3 == leader || term3 <= term {
		t.Fatalf("pause of %v (> 2T) kept leader %s/%d", 4*T, l3, term3)
	}
	// The old leader rejoins as a follower of the new term.
	wait.Until(t, 10*time.Second, "the old leader to step down", func() (bool, string) {
		st, err := c.Status(context.Background(), leader)
		return err == nil && st.Role == "follower" && st.Term >= term3, fmt.Sprintf("%+v %v", st, err)
	})
}

func TestFullRestartRestoresFromSnapshotAndLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	cfg := ClusterConfig{Nodes: 3, Binary: nsAgent(t), Dir: dir, Timing: fastTiming,
		ExtraArgs: func(string) []string { return []string{"-snapshot-threshold", "16", "-snapshot-interval", "500ms"} }}
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cl := NewClient(3 * time.Second)
	waitLeader(t, c)
	for i := 0; i < 60; i++ {
		putAcked(t, c, cl, fmt.Sprintf("s%d", i), fmt.Sprintf("v%d", i))
	}
	// Snapshots are taken on hashicorp/raft's snapshot interval check; wait
	// until at least one node wrote one.
	wait.For(t, 30*time.Second, "a snapshot written", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "*", "snapshots", "*", "state.bin"))
		return len(m) > 0
	})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		if err := c.Restart(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	waitLeader(t, c)
	for i := 0; i < 60; i++ {
		v, ok := getValue(t, c, cl, fmt.Sprintf("s%d", i))
		if !ok || v != fmt.Sprintf("v%d", i) {
			t.Fatalf("s%d = %q (found %v) after full restart", i, v, ok)
		}
	}
}

func runNodeCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nsAgent(t), append([]string{"node"}, args...)...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestNodeBadInput(t *testing.T) {
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	base := func(dir string) []string {
		return []string{"-id", "n1", "-data", dir, "-raft", ports[0], "-http", ports[1], "-bootstrap", "-peer", "n1=" + ports[0]}
	}

	t.Run("malformed flag", func(t *testing.T) {
		out, code := runNodeCmd(t, "-heartbeat-timeout", "soon")
		if code != 2 || !contains(out, "invalid value") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	t.Run("timing rejected by hashicorp/raft", func(t *testing.T) {
		out, code := runNodeCmd(t, append(base(t.TempDir()), "-heartbeat-timeout", "2ms")...)
		if code != 1 || !contains(out, "invalid node configuration") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	t.Run("malformed HCL config", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "node.hcl")
		os.WriteFile(f, []byte("id = \"n1\"\ndata_dir = \"/tmp/x\"\nraft_addr = \"127.0.0.1:1\"\nhttp_addr = \"127.0.0.1:2\"\nheartbeat_timeout = \"fast\"\ncolour = 3\n"), 0o644)
		out, code := runNodeCmd(t, "-config", f)
		if code != 1 || !contains(out, f+":5,1:") || !contains(out, f+":6,1:") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	t.Run("port in use", func(t *testing.T) {
		dir := t.TempDir()
		first := exec.Command(nsAgent(t), append([]string{"node"}, base(dir)...)...)
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { first.Process.Kill(); first.Wait() }()
		wait.For(t, 10*time.Second, "the first node to come up", func() bool { return httpUp(ports[1]) })
		out, code := runNodeCmd(t, base(t.TempDir())...)
		if code != 1 || !contains(out, "address already in use") {
			t.Fatalf("exit %d, output %q", code, out)
		}
	})
	t.Run("corrupt data dir is reported and left untouched", func(t *testing.T) {
		dir := t.TempDir()
		garbage := []byte("this is not a bolt database, and it must survive the failed start")
		db := filepath.Join(dir, "raft.db")
		if err := os.WriteFile(db, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := runNodeCmd(t, base(dir)...)
		if code != 1 || !contains(out, "open raft store") {
			t.Fatalf("exit %d, output %q", code, out)
		}
		after, err := os.ReadFile(db)
		if err != nil || string(after) != string(garbage) {
			t.Fatalf("corrupt store was modified: %q %v", after, err)
		}
	})
}

func httpUp(addr string) bool {
	c := NewClient(time.Second)
	_, err := c.hc.Get("http://" + addr + "/status")
	return err == nil
}

func contains(s, sub string) bool { return len(sub) > 0 && strings.Contains(s, sub) }
