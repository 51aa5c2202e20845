package refcluster

import (
	"context"
	"testing"
	"time"
)

func TestWorkloadUnderFaultsIsLinearizable(t *testing.T) {
	mesh := NewMesh()
	defer mesh.Close()
	c := startCluster(t, 3, mesh.Dial)
	leader, _ := waitLeader(t, c)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	done := make(chan Report, 1)
	go func() { done <- RunWorkload(ctx, c, WorkloadConfig{Seed: 7}) }()

	// Faults while the workload runs: latency with jitter everywhere, then
	// the leader partitioned away and healed.
	time.Sleep(time.Second)
	for _, l := range mesh.Links() {
		if err := mesh.SetLink(l[0], l[1], LinkFault{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	if err := mesh.Partition([]string{leader}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := mesh.Heal(); err != nil {
		t.Fatal(err)
	}
	rep := <-done
	if rep.Verdict != Linearizable {
		t.Fatalf("history of %d ops: %s", len(rep.History), rep.Verdict)
	}
	if rep.WritesOK < 10 || rep.ReadsOK < 3 {
		t.Fatalf("too few completed operations to mean anything: %+v", rep)
	}
	if rep.Elections < 1 || len(rep.LeaderChanges) < 2 {
		t.Fatalf("partitioning the leader should show an election and a leader change: %+v", rep.LeaderChanges)
	}
	if rep.LongestUnavailable < 200*time.Millisecond {
		t.Fatalf("a leader partition should make writes unavailable for a while; longest gap %v", rep.LongestUnavailable)
	}
}

func TestCheckLinearizableRejectsCorruptedHistories(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	good := []Op{
		{Client: 0, Kind: OpPut, Key: "a", Value: "1", Call: ms(0), Return: ms(10), Ok: true},
		{Client: 1, Kind: OpGet, Key: "a", Value: "1", Found: true, Call: ms(20), Return: ms(30), Ok: true},
		{Client: 0, Kind: OpPut, Key: "a", Value: "2", Call: ms(40), Return: ms(50), Unknown: true},
		{Client: 1, Kind: OpGet, Key: "a", Value: "2", Found: true, Call: ms(60), Return: ms(70), Ok: true},
		{Client: 1, Kind: OpGet, Key: "b", Found: false, Call: ms(60), Return: ms(70), Ok: true},
	}
	if v := CheckLinearizable(good, time.Second); v != Linearizable {
		t.Fatalf("valid history (with an unknown-outcome put that took effect) judged %s", v)
	}
	cases := map[string]func([]Op) []Op{
		"stale read after acknowledged write": func(h []Op) []Op {
			h[3].Value = "1" // the put of "2" is unknown, so "1" is fine here …
			return append(h, Op{Client: 1, Kind: OpGet, Key: "a", Value: "1", Found: true, Call: ms(80), Return: ms(90), Ok: true},
				Op{Client: 2, Kind: OpPut, Key: "a", Value: "3", Call: ms(100), Return: ms(110), Ok: true},
				Op{Client: 1, Kind: OpGet, Key: "a", Value: "1", Found: true, Call: ms(120), Return: ms(130), Ok: true}) // … but not after "3" was acked
		},
		"value never written": func(h []Op) []Op { h[1].Value = "42"; return h },
		"read of a missing key that exists": func(h []Op) []Op {
			h[1].Found, h[1].Value = false, ""
			return h
		},
		"read going back in time": func(h []Op) []Op {
			return append(h, Op{Client: 2, Kind: OpGet, Key: "a", Value: "1", Found: true, Call: ms(80), Return: ms(90), Ok: true})
		},
	}
	for name, corrupt := range cases {
		t.Run(name, func(t *testing.T) {
			h := corrupt(append([]Op(nil), good...))
			if v := CheckLinearizable(h, time.Second); v != NotLinearizable {
				t.Fatalf("corrupted history judged %s", v)
			}
		})
	}
}

func TestUnavailability(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	total, longest := Unavailability([]time.Duration{ms(10), ms(20), ms(520), ms(530), ms(900)}, ms(1000), ms(250))
	// Gaps: 10, 10, 500, 10, 370, 100 (to the end); those ≥ 250ms count.
	if total != ms(870) || longest != ms(500) {
		t.Fatalf("total %v longest %v, want 870ms and 500ms", total, longest)
	}
	total, longest = Unavailability(nil, ms(1000), ms(250))
	if total != ms(1000) || longest != ms(1000) {
		t.Fatalf("no write at all: total %v longest %v", total, longest)
	}
}
