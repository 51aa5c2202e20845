// Package policy is the symbolic safety layer: HCL policy files with hard
// bounds and operator rules, the pure Decide function that turns a
// recommender's proposal into a bounded, explained Decision, and the
// Governor that carries Decide's state from tick to tick.
//
// Operators must be able to trust the agent without trusting the model:
// whatever the proposal or the telemetry, a Decision stays inside the
// policy's bounds, and every check that changed or confirmed it is listed
// with its name, source position and reason.
//
// policy imports collector, model (for Proposal) and configs (the embedded
// default), nothing else of this module.
package policy
