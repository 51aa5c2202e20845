package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestQueuePopsInTimeThenSequenceOrder checks the event queue against a
// sorted reference on seeded random pushes and pops, interleaved as the
// event loop does them (many events share an instant).
func TestQueuePopsInTimeThenSequenceOrder(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 0))
		var q queue
		var ref []event
		var seq uint64
		var popped int
		for step := 0; step < 5000; step++ {
			if r.IntN(3) > 0 || q.len() == 0 {
				seq++
				e := event{at: time.Duration(r.IntN(50)), seq: seq, node: r.IntN(5), msg: message{term: r.Uint64()}}
				q.push(e)
				// The reference stays sorted by (at, seq).
				i, _ := slices.BinarySearchFunc(ref, e, func(a, b event) int {
					if a.at != b.at {
						return int(a.at - b.at)
					}
					return int(a.seq) - int(b.seq)
				})
				ref = slices.Insert(ref, i, e)
				continue
			}
			got, want := q.pop(), ref[0]
			ref = ref[1:]
			popped++
			if got != want {
				t.Fatalf("seed %d, pop %d: got %+v, want %+v", seed, popped, got, want)
			}
			if q.len() != len(ref) {
				t.Fatalf("seed %d: len %d, want %d", seed, q.len(), len(ref))
			}
		}
	}
}
