package sim

// cutUnderRace returns copies of scs cut to raceSimulated of simulated
// time under the race detector, and scs unchanged otherwise.
func cutUnderRace(scs []*Scenario) []*Scenario {
	if raceSimulated <= 0 {
		return scs
	}
	out := make([]*Scenario, len(scs))
	for i, sc := range scs {
		c := *sc
		c.Duration = min(c.Duration, raceSimulated)
		out[i] = &c
	}
	return out
}
