// Package report turns the results of the two benchmarks into what users
// read: the simulated bench's table and charts (from sim.Row) and the live
// bench's per-scenario summaries, paired comparisons, Markdown tables,
// JSON and charts (from refcluster.LiveRun), with the simulator's ratio
// beside each live one. It also runs what `ns-agent sim` and `bench` ask
// for (Sim, Bench, Live): it resolves their scenarios and strategies,
// hands them to sim or refcluster and renders what comes back.
//
// report computes nothing about a run itself: sim and refcluster measure,
// report aggregates and renders. It imports sim, refcluster, policy (the
// simulator's ratios run through the default policy, as the live agents
// do), configs (the built-in scenarios) and internal/exitcode; it must not
// import the agent or cmd.
package report
