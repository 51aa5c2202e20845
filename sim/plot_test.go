package sim

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A timeline whose gaps were not measured (the live benchmark's) draws no
// gap dots, where measured gaps of zero draw a dot per point; a node's line
// breaks across an outage; every variant renders.
func TestPlotTimelineSkipsUnmeasuredGaps(t *testing.T) {
	timeline := func(gap time.Duration) Result {
		r := Result{Scenario: "s", Elections: []time.Duration{time.Second}, Faults: []time.Duration{500 * time.Millisecond}}
		for i := 0; i < 40; i++ {
			if i >= 10 && i < 25 {
				continue // 1.5s without points: the nodes were down
			}
			for n := 0; n < 3; n++ {
				r.Timeline = append(r.Timeline, TimelinePoint{At: time.Duration(i) * 100 * time.Millisecond, Node: n,
					Timeout: time.Duration(200+10*n) * time.Millisecond, Gap: gap})
			}
		}
		return r
	}
	for _, c := range []struct {
		gap  time.Duration
		dots int
	}{{-1, 0}, {0, 25}, {30 * time.Millisecond, 25}} {
		r := timeline(c.gap)
		segs, gaps := nodeSeries(r.Timeline, 1, 1000)
		if len(segs) != 2 || len(segs[0]) != 10 || len(segs[1]) != 15 || len(gaps) != c.dots {
			t.Errorf("gap %v: %d segments and %d dots, want 10+15 points and %d dots", c.gap, len(segs), len(gaps), c.dots)
		}
		path := filepath.Join(t.TempDir(), "t.png")
		if err := PlotTimeline(r, 3, path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("gap %v: not a PNG: %v", c.gap, err)
		}
	}
}
