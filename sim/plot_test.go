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
// gap dots, where measured gaps of zero draw a dot per point; both render.
func TestPlotTimelineSkipsUnmeasuredGaps(t *testing.T) {
	timeline := func(gap time.Duration) Result {
		r := Result{Scenario: "s", Elections: []time.Duration{time.Second}, Faults: []time.Duration{500 * time.Millisecond}}
		for i := 0; i < 40; i++ {
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
	}{{-1, 0}, {0, 40}, {30 * time.Millisecond, 40}} {
		r := timeline(c.gap)
		line, gaps := nodeSeries(r.Timeline, 1, 1000)
		if len(line) != 40 || len(gaps) != c.dots {
			t.Errorf("gap %v: %d line points and %d dots, want 40 and %d", c.gap, len(line), len(gaps), c.dots)
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
