package hashicorp

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/nsraft/nsraft/collector"
)

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("no snapshots") }
func (nopFSM) Restore(io.ReadCloser) error         { return nil }

// cluster starts n real hashicorp/raft nodes in this process over TCP on
// loopback (in-memory log stores: persistence is not what is tested here).
func cluster(t *testing.T, n int, hb time.Duration) []*raft.Raft {
	t.Helper()
	var trans []*raft.NetworkTransport
	var servers []raft.Server
	for i := 0; i < n; i++ {
		tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, time.Second, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		trans = append(trans, tr)
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", i+1)), Address: tr.LocalAddr()})
	}
	var rs []*raft.Raft
	for i := 0; i < n; i++ {
		c := raft.DefaultConfig()
		c.LocalID = servers[i].ID
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = hb, hb, hb/2
		c.Logger = hclog.NewNullLogger()
		store := raft.NewInmemStore()
		snaps := raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(c, store, store, snaps, trans[i], raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		r, err := raft.NewRaft(c, nopFSM{}, store, store, snaps, trans[i])
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	t.Cleanup(func() {
		for _, r := range rs {
			r.Shutdown().Error()
		}
		for _, tr := range trans {
			tr.Close()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range rs {
			if r.State() == raft.Leader {
				return rs
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader")
	return nil
}

func follower(rs []*raft.Raft) *raft.Raft {
	for _, r := range rs {
		if r.State() == raft.Follower {
			return r
		}
	}
	return nil
}

func TestSampleOfAFollower(t *testing.T) {
	const hb = 500 * time.Millisecond
	rs := cluster(t, 3, hb)
	f := follower(rs)
	a := New(f, Config{NodeID: "f", LeaderLeaseTimeout: hb / 2, PreVote: true})
	a.Start()
	defer a.Close()
	time.Sleep(time.Second)
	s := a.Sample()
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
	// The survivors elect a new leader; the sample counts the election.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s = a.Sample()
		if s.ElectionsInWindow >= 1 && s.Leader != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no election seen: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
