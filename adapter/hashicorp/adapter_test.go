package hashicorp

import (
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nsraft/nsraft/collector"
)

func cluster(t *testing.T, n int, hb time.Duration) []*raft.Raft {
	t.Helper()
	rs, stop, err := LocalCluster(n, hb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return rs
}

func follower(rs []*raft.Raft) *raft.Raft {
	for _, r := range rs {
		if r.State() == raft.Follower {
			return r
		}
	}
	return nil
}

// elect shuts the leader of rs down and returns the adapter (among as,
// one per survivor) whose node won the next election: an election counts
// for the nodes that stood in it, and the winner stood.
func elect(t *testing.T, rs []*raft.Raft, as map[*raft.Raft]*Adapter) (*Adapter, collector.Sample) {
	t.Helper()
	for _, r := range rs {
		if r.State() == raft.Leader {
			r.Shutdown().Error()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for r, a := range as {
			if s := a.Sample(); r.State() == raft.Leader && s.ElectionsInWindow >= 1 && s.Leader != "" {
				return a, s
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no election seen by the new leader's adapter")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// survivors attaches an adapter (made by mk) to every follower of rs.
func survivors(t *testing.T, rs []*raft.Raft, mk func(*raft.Raft) *Adapter) map[*raft.Raft]*Adapter {
	as := map[*raft.Raft]*Adapter{}
	for _, r := range rs {
		if r.State() == raft.Follower {
			a := mk(r)
			a.Start()
			t.Cleanup(func() { a.Close() })
			as[r] = a
		}
	}
	return as
}

func TestSampleOfAFollower(t *testing.T) {
	const hb = 500 * time.Millisecond
	rs := cluster(t, 3, hb)
	f := follower(rs)
	a := New(f, Config{NodeID: "f", LeaderLeaseTimeout: hb / 2, PreVote: true})
	a.Start()
	defer a.Close()
	a.Sample() // the first sample starts the CPU accounting window
	time.Sleep(time.Second)
	s := a.Sample()
	if !s.Has(collector.FieldCPUIdle) || s.CPUIdlePct < 0 || s.CPUIdlePct > 100 {
		t.Fatalf("cpu idle %v (present %v)", s.CPUIdlePct, s.Has(collector.FieldCPUIdle))
	}
	if s.Role != collector.RoleFollower || s.Leader == "" || s.Term == 0 || s.ClusterSize != 3 {
		t.Fatalf("sample %+v", s)
	}
	// The leader heartbeats every hb/10 = 50ms; generous bound for a
	// loaded machine.
	if !s.Has(collector.FieldHeartbeatGap) || s.HeartbeatGap <= 0 || s.HeartbeatGap > hb {
		t.Fatalf("heartbeat gap %v (present %v)", s.HeartbeatGap, s.Has(collector.FieldHeartbeatGap))
	}
	if s.HeartbeatTimeout != hb || s.HeartbeatInterval != hb/10 || s.LeaderStableFor <= 0 {
		t.Fatalf("host timing %v/%v, stable %v", s.HeartbeatTimeout, s.HeartbeatInterval, s.LeaderStableFor)
	}
	if p := s.Check(time.Now(), time.Second); p != nil {
		t.Fatalf("sample problems: %v", p)
	}
}

func TestApplyAndLeaseRestore(t *testing.T) {
	const hb = 500 * time.Millisecond
	rs := cluster(t, 3, hb)
	f := follower(rs)
	a := New(f, Config{NodeID: "f", LeaderLeaseTimeout: hb / 2, LeaseTTL: 400 * time.Millisecond})
	a.Start()
	defer a.Close()
	if err := a.Apply(900 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := f.ReloadableConfig().HeartbeatTimeout; got != 900*time.Millisecond {
		t.Fatalf("applied %v", got)
	}
	if err := a.Apply(100 * time.Millisecond); err == nil {
		t.Fatal("a timeout below the leader lease was applied")
	}
	// No fresh decision: the node returns to its own timing within the TTL
	// (plus a poll).
	deadline := time.Now().Add(2 * time.Second)
	for f.ReloadableConfig().HeartbeatTimeout != hb {
		if time.Now().After(deadline) {
			t.Fatalf("lease did not restore: %v", f.ReloadableConfig().HeartbeatTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a.Restores() != 1 {
		t.Fatalf("restores %d", a.Restores())
	}
	// Close restores too.
	if err := a.Apply(800 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if got := f.ReloadableConfig().HeartbeatTimeout; got != hb {
		t.Fatalf("after Close: %v", got)
	}
}

func TestLeaderLossShowsInSamples(t *testing.T) {
	const hb = 300 * time.Millisecond
	rs := cluster(t, 3, hb)
	f := follower(rs)
	a := New(f, Config{NodeID: "f", LeaderLeaseTimeout: hb / 2})
	a.Start()
	defer a.Close()
	a.Sample()
	for _, r := range rs {
		if r.State() == raft.Leader {
			r.Shutdown().Error()
		}
	}
	time.Sleep(200 * time.Millisecond)
	s := a.Sample()
	if s.LastContact < 150*time.Millisecond || s.HeartbeatGap < s.LastContact {
		t.Fatalf("after the leader stopped: last contact %v, gap %v", s.LastContact, s.HeartbeatGap)
	}
}

// The survivors elect a new leader: the winner's samples count the
// election it stood in and, since it produced a leader, not as failed
// once its round is long over (a failed election makes the policy hold).
func TestElectionShowsInTheWinnersSamples(t *testing.T) {
	const hb = 300 * time.Millisecond
	rs := cluster(t, 3, hb)
	as := survivors(t, rs, func(r *raft.Raft) *Adapter { return New(r, Config{NodeID: "f", LeaderLeaseTimeout: hb / 2}) })
	a, _ := elect(t, rs, as)
	time.Sleep(3 * hb)
	// A split vote before the win is a real failed election; the won
	// one must not be.
	if s := a.Sample(); s.ElectionsInWindow < 1 || s.FailedElectionsInWindow >= s.ElectionsInWindow {
		t.Fatalf("a successful election counted as failed: %d failed of %d", s.FailedElectionsInWindow, s.ElectionsInWindow)
	}
}

// An election counts in samples for ElectionWindow after it was seen, and
// not after; the window is the adapter's, not a constant.
func TestElectionWindowIsConfigurable(t *testing.T) {
	const hb = 300 * time.Millisecond
	var (
		mu   sync.Mutex
		skew time.Duration
	)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(skew)
	}
	rs := cluster(t, 3, hb)
	as := survivors(t, rs, func(r *raft.Raft) *Adapter {
		return New(r, Config{NodeID: "f", LeaderLeaseTimeout: hb / 2, ElectionWindow: 5 * time.Second, Now: now})
	})
	a, _ := elect(t, rs, as)
	mu.Lock()
	skew = 4 * time.Second
	mu.Unlock()
	if s := a.Sample(); s.ElectionsInWindow < 1 {
		t.Fatalf("4s after the election, inside a 5s window: %d elections", s.ElectionsInWindow)
	}
	mu.Lock()
	skew = 6 * time.Second
	mu.Unlock()
	if s := a.Sample(); s.ElectionsInWindow != 0 {
		t.Fatalf("6s after the election, past a 5s window: %d elections", s.ElectionsInWindow)
	}
}
