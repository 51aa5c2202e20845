//go:build !sidecar

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/sim"
)

// writePlots saves the unavailability chart of a bench and the timeline of
// one run of the first scenario per recommender-driven strategy.
func writePlots(dir string, first *sim.Scenario, rows []sim.Row, strategies []sim.Strategy, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var names []string
	for _, st := range strategies {
		names = append(names, st.Name)
	}
	if err := sim.PlotUnavailability(rows, names, filepath.Join(dir, "unavailability.png")); err != nil {
		return err
	}
	for _, st := range strategies {
		o := sim.Options{Seed: seed, Timeline: true, Oracle: st.Oracle, NewGovernor: st.NewGovernor}
		if st.NewRecommender == nil && !st.Oracle {
			continue
		}
		if st.NewRecommender != nil {
			o.NewRecommender = func(node string) model.Recommender { return st.NewRecommender(node, seed) }
		}
		r := sim.Run(first, o)
		path := filepath.Join(dir, fmt.Sprintf("timeline-%s-%s.png", first.Name, st.Name))
		if err := sim.PlotTimeline(r, first.Nodes, path); err != nil {
			return err
		}
	}
	return nil
}
