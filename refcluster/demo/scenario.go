package demo

import (
	"time"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/sim"
)

// Options are the demo's settings as a user gives them: Config's, with
// the scenario as a file and the strategy by name ("none": no agents).
type Options struct {
	Binary       string
	ScenarioFile string // "": the built-in demo scenario
	Duration     time.Duration
	Nodes        int
	Seed         uint64
	Heartbeat    time.Duration
	Dashboard    string
	Strategy     string
	Keep         bool
}

// Config checks o (bad values are exitcode usage errors, a scenario
// file's problems its diagnostics) and returns the run it asks for: the
// scenario's cluster size and length come from o, and faults that name
// nodes beyond the cluster are dropped when it runs (Trim).
func (o Options) Config() (Config, error) {
	if o.Nodes < 3 || o.Nodes > 9 {
		return Config{}, exitcode.Usagef("-nodes %d: want 3 to 9", o.Nodes)
	}
	if o.Strategy == "none" {
		o.Strategy = ""
	}
	if o.Strategy != "" {
		if _, err := model.New(o.Strategy, model.Options{}); err != nil {
			return Config{}, exitcode.Usagef("-strategy: %w", err)
		}
	}
	if o.Duration < 0 {
		return Config{}, exitcode.Usagef("-duration must not be negative")
	}
	var scs []*sim.Scenario
	if o.ScenarioFile != "" {
		s, diags := sim.ParseFile(o.ScenarioFile)
		if err := exitcode.Diagnostics(diags); err != nil {
			return Config{}, err
		}
		scs = s
	} else {
		s, err := sim.LoadSuite(configs.Scenarios, "demo")
		if err != nil {
			return Config{}, err
		}
		scs = s
	}
	scen := scs[0]
	scen.Nodes, scen.Duration = o.Nodes, o.Duration
	return Config{Binary: o.Binary, Scenario: scen, Nodes: o.Nodes, Seed: o.Seed, Heartbeat: o.Heartbeat,
		Dashboard: o.Dashboard, Strategy: o.Strategy, Keep: o.Keep}, nil
}
