// Package testbin builds the ns-agent binary once for a package's process
// tests: the tests that start node, agent or demo processes as users do.
package testbin
