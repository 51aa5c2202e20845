// Package report turns the results of the two benchmarks into what users
// read: the simulated bench's table and charts (from sim.Row) and the live
// bench's per-scenario summaries, paired comparisons, Markdown tables,
// JSON and charts (from refcluster.LiveRun), with the simulator's ratio
// beside each live one.
//
// report computes nothing about a run itself: sim and refcluster measure,
// report aggregates and renders. It imports sim, refcluster and policy (the
// simulator's ratios run through the default policy, as the live agents
// do); it must not import the agent or cmd.
package report
