package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/model"
)

// TestConsulLeaderHandoff runs an agent beside each server of a real
// 3-server Consul (scripts/consul-build.sh; set NSRAFT_CONSUL to the binary
// it prints) with hand-off on and a 6s cluster-wide cooldown. To exercise
// the whole path on a calm cluster, the CPU threshold is set so low that
// every leader counts as degrading: each leader in turn announces, then
// hands off through /v1/operator/raft/transfer-leader to the follower
// autopilot calls healthy. The hand-offs must be announced first, land on
// the named server, and be at least the cooldown apart cluster-wide,
// whichever agents make them.
func TestConsulLeaderHandoff(t *testing.T) {
	bin := consulBinary(t)
	if testing.Short() {
		t.Skip("runs a 3-server Consul for about 40s")
	}
	nodes := startConsul(t, bin)
	const cooldown = 6 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type move struct {
		from, to string
		at       time.Time
	}
	var mu sync.Mutex
	var moves []move
	planned := map[string]time.Time{} // node → first announcement of its current plan
	var notes []string
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, n := range nodes {
		h, err := hashicorp.NewConsul(ctx, hashicorp.ConsulConfig{Address: n.http,
			Handoff: hashicorp.ConsulHandoff{Enabled: true, CPUCores: 1e-9}})
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := model.New("static", model.Options{})
		a := New(Config{Node: "consul", HostKind: "consul", Tick: 200 * time.Millisecond, Recommender: rec,
			Handoff: HandoffRules{Enabled: true, Cooldown: cooldown}})
		w, stop := a.hub.subscribe("", false)
		defer stop()
		wg.Add(2)
		go func() { defer wg.Done(); a.Run(ctx, h) }()
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-w.ch:
					ho := ev.GetHandoff()
					if ho == nil {
						continue
					}
					mu.Lock()
					node := ev.GetSample().GetNode()
					if ho.Planned {
						if _, ok := planned[node]; !ok {
							planned[node] = time.Now()
						}
					}
					if rest, ok := strings.CutPrefix(ho.Note, "handing leadership to "); ok {
						to, _, _ := strings.Cut(rest, ":")
						if _, ok := planned[node]; !ok {
							t.Errorf("%s handed off to %s without announcing it first", node, to)
						}
						moves = append(moves, move{node, to, time.Now()})
						delete(planned, node)
					}
					if ho.Note != "" && !strings.Contains(ho.Note, "cluster-wide cooldown") {
						notes = append(notes, node+": "+ho.Note)
					}
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(30 * time.Second)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, n := range notes {
		t.Log(n)
	}
	if len(moves) < 2 {
		t.Fatalf("%d hand-offs in 30s with every leader degrading and a %s cooldown; want at least 2", len(moves), cooldown)
	}
	for i, m := range moves {
		t.Logf("hand-off %d: %s → %s at %s", i+1, m.from, m.to, m.at.Format("15:04:05.000"))
		if i > 0 {
			if gap := m.at.Sub(moves[i-1].at); gap < cooldown {
				t.Errorf("hand-offs %d and %d only %s apart; the cluster-wide cooldown is %s", i, i+1, gap, cooldown)
			}
		}
	}
	// Every hand-off landed: the next one came from the server handed to.
	ids := map[string]string{}
	for i := 1; i < len(moves); i++ {
		ids[moves[i-1].to] = moves[i].from
	}
	for id, node := range ids {
		t.Logf("server %s is node %s", id, node)
	}
	for i := 1; i < len(moves); i++ {
		if moves[i].from == moves[i-1].from {
			t.Errorf("hand-off %d came from %s again: hand-off %d to %s did not land", i+1, moves[i].from, i, moves[i-1].to)
		}
	}
}
