package etcd_test

import (
	"context"
	"testing"
	"time"

	"github.com/nsraft/nsraft/adapter/etcd"
	"github.com/nsraft/nsraft/adapter/etcd/rawcluster"
	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

func TestTickDriverAppliesWithinLease(t *testing.T) {
	now := time.Unix(1000, 0)
	d := etcd.NewTickDriver(etcd.TickConfig{NodeID: 1, ElectionTick: 10, Base: 10 * time.Millisecond, LeaseTTL: time.Second,
		Now: func() time.Time { return now }})
	if d.Next() != 10*time.Millisecond {
		t.Fatal("base period")
	}
	d.Apply(500 * time.Millisecond)
	if d.Next() != 50*time.Millisecond {
		t.Fatalf("period %v for a 500ms timeout over 10 ticks", d.Next())
	}
	if s := d.Sample(); s.HeartbeatTimeout != 500*time.Millisecond || !s.Has(collector.FieldHostTimeouts) {
		t.Fatalf("sample timing %v", s.HeartbeatTimeout)
	}
	d.Apply(time.Millisecond) // never below the base period
	if d.Next() != 10*time.Millisecond {
		t.Fatalf("period %v below base", d.Next())
	}
	d.Apply(300 * time.Millisecond)
	now = now.Add(1500 * time.Millisecond) // the agent went quiet
	if d.Next() != 10*time.Millisecond {
		t.Fatalf("after the lease: period %v", d.Next())
	}
}

// The driver reports the voters in the order every node sorts them (as
// the samples name them) and, with CheckQuorum, that voters ignore
// candidates for their own timeout: what the policy's successor stage
// needs. Without voters it reports neither.
func TestTickDriverReportsVoters(t *testing.T) {
	d := etcd.NewTickDriver(etcd.TickConfig{NodeID: 2, ElectionTick: 10, PreVote: true, CheckQuorum: true, Voters: []uint64{10, 2, 1}})
	s := d.Sample()
	if !s.Has(collector.FieldVoters) || !s.VoteLease || len(s.Voters) != 3 || s.Voters[0] != "1" || s.Voters[1] != "10" || s.Voters[2] != "2" {
		t.Fatalf("voters %v (present %v), vote lease %v", s.Voters, s.Has(collector.FieldVoters), s.VoteLease)
	}
	if s := etcd.NewTickDriver(etcd.TickConfig{NodeID: 2, PreVote: true, Voters: []uint64{1, 2, 3}}).Sample(); s.VoteLease {
		t.Fatal("without CheckQuorum a voter grants a pre-vote while it has a leader")
	}
	if s := etcd.NewTickDriver(etcd.TickConfig{NodeID: 2}).Sample(); s.Has(collector.FieldVoters) {
		t.Fatal("voters reported without any configured")
	}
}

// BenchmarkTickDriverSpikes runs three real go.etcd.io/raft RawNodes
// (pre-vote and check-quorum on, a 150ms election timeout) twice under the
// same delay spikes — everything the leader sends is held back 400ms for
// 600ms, every two seconds — once ticking at a fixed 10ms and once under
// TickDrivers steered by agents (lstm through the default policy). The
// leader never fails, so every election is unnecessary; it reports both
// counts side by side (elections-fixed, elections-driven). A count of
// elections on a shared machine is a measurement, not a pass/fail line.
//
//	go test ./adapter/etcd -run '^$' -bench TickDriverSpikes -benchtime 1x
func BenchmarkTickDriverSpikes(b *testing.B) {
	for i := 0; i < b.N; i++ {
		fixed := tickDriverSpikes(b, false)
		driven := tickDriverSpikes(b, true)
		if fixed < 4 {
			b.Fatalf("the spikes caused only %d elections at a fixed tick: the benchmark does not exercise the driver", fixed)
		}
		b.ReportMetric(float64(fixed), "elections-fixed")
		b.ReportMetric(float64(driven), "elections-driven")
	}
}

func tickDriverSpikes(t testing.TB, drivers bool) int {
	c := rawcluster.New(rawcluster.Config{Nodes: 3, Drivers: drivers})
	defer c.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if drivers {
		for _, n := range c.Nodes {
			rec, err := model.New("lstm", model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			a := agent.New(agent.Config{Node: n.Driver.Sample().Node, HostKind: "etcd-raft", Recommender: rec})
			go a.Run(ctx, n.Driver)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Leader() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // calm: the agents settle
	e0 := c.Elections()
	for i := 0; i < 8; i++ {
		l := c.Leader()
		c.SetDelay(l, 400*time.Millisecond)
		time.Sleep(600 * time.Millisecond)
		c.SetDelay(l, 0)
		time.Sleep(1400 * time.Millisecond)
	}
	e := c.Elections() - e0
	var periods []time.Duration
	if drivers {
		for _, n := range c.Nodes {
			periods = append(periods, n.Driver.Period())
		}
	}
	t.Logf("drivers %v: %d elections under 8 spikes; tick periods at the end %v", drivers, e, periods)
	return e
}
