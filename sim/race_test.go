//go:build race

package sim

import "time"

// raceEnabled reports the race detector. A simulated run is sequential
// compute, ten times slower under the detector and checking no
// concurrency there; what runs concurrently is the worker pools that
// spread runs over goroutines (Bench, Traces, the oracle test), and they
// do so as much on short runs as on long ones.
const raceEnabled = true

// raceSimulated is the simulated time tests cut their scenarios to under
// the race detector (cutUnderRace); every concurrent path still runs.
const raceSimulated = time.Minute
