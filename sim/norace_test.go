//go:build !race

package sim

const raceEnabled = false

// raceSimulated is zero without the race detector: scenarios run in full.
const raceSimulated = 0
