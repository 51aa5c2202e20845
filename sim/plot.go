package sim

import (
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotUnavailability writes a grouped bar chart of unavailability per
// scenario (groups) per strategy (bars) to a PNG file.
func PlotUnavailability(rows []Row, strategies []string, path string) error {
	return PlotMetric(rows, strategies, path, "Unavailability (s, summed over seeds)", "seconds without a leader able to commit",
		func(r Row) float64 { return r.UnavailabilityMS / 1000 })
}

// PlotMetric writes a grouped bar chart of one value of the rows per
// scenario (groups) per strategy (bars) to a PNG file.
func PlotMetric(rows []Row, strategies []string, path, title, ylabel string, value func(Row) float64) error {
	var scenarios []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.Scenario] {
			seen[r.Scenario] = true
			scenarios = append(scenarios, r.Scenario)
		}
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	w := vg.Points(60 / float64(max(len(strategies), 1)))
	top := 0.0
	for i, st := range strategies {
		vals := make(plotter.Values, len(scenarios))
		for j, sc := range scenarios {
			for _, r := range rows {
				if r.Scenario == sc && r.Recommender == st {
					vals[j] = value(r)
				}
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = paletteColor(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(strategies)-1)/2)
		p.Add(bars)
		p.Legend.Add(st, bars)
		for _, v := range vals {
			top = max(top, v)
		}
	}
	// The legend sits in the top right corner; the y axis reaches high
	// enough that the tallest bar stays below it.
	const height, entry, margin = 110.0, 4.6, 22.0 // mm: plot, one legend line, title and axes
	free := height - margin - entry*float64(len(strategies)) - 3
	if top > 0 && free > 10 {
		p.Y.Min, p.Y.Max = 0, top*(height-margin)/free
	}
	p.Legend.Top = true
	p.NominalX(scenarios...)
	return p.Save(vg.Length(max(160, 45*len(scenarios)))*vg.Millimeter, height*vg.Millimeter, path)
}

// PlotTimeline writes one run's timeline: each node's base timeout and the
// heartbeat gaps it saw, with elections and faults marked. Points whose Gap
// is negative (not measured) draw no dot.
func PlotTimeline(r Result, nodes int, path string) error {
	p := plot.New()
	measured := false
	for _, pt := range r.Timeline {
		measured = measured || pt.Gap >= 0
	}
	if measured {
		p.Title.Text = fmt.Sprintf("%s: timeouts (lines), heartbeat gaps (dots), elections (red), faults (black)", r.Scenario)
	} else {
		p.Title.Text = fmt.Sprintf("%s: timeouts (lines), elections (red), faults (black)", r.Scenario)
	}
	p.X.Label.Text = "time since the run started (s)"
	p.Y.Label.Text = "ms"
	// Gaps of a node that waits through a long outage dwarf everything
	// else; the y range stops at twice the 99th percentile so the
	// everyday timeouts stay legible.
	var all []float64
	for _, pt := range r.Timeline {
		all = append(all, float64(pt.Timeout)/float64(time.Millisecond))
		if pt.Gap >= 0 {
			all = append(all, float64(pt.Gap)/float64(time.Millisecond))
		}
	}
	top := 2 * percentile(all, 0.99)
	if top <= 0 {
		top = 1
	}
	p.Y.Min, p.Y.Max = 0, top*1.15
	for n := 0; n < nodes; n++ {
		segs, gaps := nodeSeries(r.Timeline, n, top)
		if len(segs) == 0 {
			continue
		}
		var l *plotter.Line
		for _, seg := range segs {
			var err error
			if l, err = plotter.NewLine(seg); err != nil {
				return err
			}
			l.Color = paletteColor(n)
			p.Add(l)
		}
		if len(gaps) > 0 {
			s, err := plotter.NewScatter(gaps)
			if err != nil {
				return err
			}
			s.Color = paletteColor(n)
			s.Radius = vg.Points(0.6)
			p.Add(s)
		}
		p.Legend.Add(fmt.Sprintf("n%d", n+1), l)
	}
	mark := func(ts []time.Duration, c color.Color, h float64) error {
		var xy plotter.XYs
		for _, t := range ts {
			xy = append(xy, plotter.XY{X: t.Seconds(), Y: h})
		}
		if len(xy) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return err
		}
		s.Color = c
		s.Shape = draw.TriangleGlyph{}
		p.Add(s)
		return nil
	}
	if err := mark(r.Elections, color.RGBA{R: 220, A: 255}, top*1.05); err != nil {
		return err
	}
	if err := mark(r.Faults, color.Black, top*1.12); err != nil {
		return err
	}
	p.Legend.Top = true
	return p.Save(260*vg.Millimeter, 110*vg.Millimeter, path)
}

// nodeSeries is node n's timeout line and gap dots, in ms, cut at top. The
// line breaks where the node has no points for over a second (it was down
// or stopped), so no slope is drawn across the outage; a point with a
// negative (unmeasured) gap adds no dot.
func nodeSeries(tl []TimelinePoint, n int, top float64) (segs []plotter.XYs, gaps plotter.XYs) {
	var line plotter.XYs
	last := time.Duration(-1)
	for _, pt := range tl {
		if pt.Node != n {
			continue
		}
		if last >= 0 && pt.At-last > time.Second && len(line) > 0 {
			segs, line = append(segs, line), nil
		}
		last = pt.At
		t := float64(pt.Timeout) / float64(time.Millisecond)
		g := float64(pt.Gap) / float64(time.Millisecond)
		line = append(line, plotter.XY{X: pt.At.Seconds(), Y: min(t, top)})
		if g >= 0 {
			gaps = append(gaps, plotter.XY{X: pt.At.Seconds(), Y: min(g, top)})
		}
	}
	if len(line) > 0 {
		segs = append(segs, line)
	}
	return segs, gaps
}

// palette has sixteen colours that stay apart from each other (Okabe–Ito's
// eight, then Tol's muted set), so every strategy of a bench, raw
// variants included, and every node of a timeline has its own.
var palette = []color.RGBA{
	{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{86, 180, 233, 255}, {213, 94, 0, 255}, {240, 228, 66, 255}, {0, 0, 0, 255},
	{51, 34, 136, 255}, {136, 204, 238, 255}, {68, 170, 153, 255}, {17, 119, 51, 255},
	{153, 153, 51, 255}, {204, 102, 119, 255}, {136, 34, 85, 255}, {170, 68, 153, 255},
}

func paletteColor(i int) color.Color { return palette[i%len(palette)] }
