package collector

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestCheckFindsBadValuesAndStaleness(t *testing.T) {
	now := time.Unix(1000, 0)
	good := Sample{At: now, CPUIdlePct: 50, ClusterSize: 3, UnreachableVoters: 1, LastContact: time.Second}
	good.Set(FieldCPUIdle | FieldClusterSize | FieldUnreachableVoters | FieldLastContact)
	if p := good.Check(now, time.Second); p != nil {
		t.Fatalf("good sample: %v", p)
	}
	cases := map[string]func(*Sample){
		"NaN cpu":         func(s *Sample) { s.CPUIdlePct = math.NaN() },
		"cpu above 100":   func(s *Sample) { s.CPUIdlePct = 101 },
		"negative":        func(s *Sample) { s.LastContact = -1 },
		"unreachable ≥ N": func(s *Sample) { s.UnreachableVoters = 3 },
		"stale":           func(s *Sample) { s.At = now.Add(-2 * time.Second) },
		"from the future": func(s *Sample) { s.At = now.Add(2 * time.Second) },
		"no time":         func(s *Sample) { s.At = time.Time{} },
		"failed > all":    func(s *Sample) { s.FailedElectionsInWindow = 1; s.Set(FieldElections) },
	}
	for name, bad := range cases {
		s := good
		bad(&s)
		p := s.Check(now, time.Second)
		first, ok := s.FirstProblem(now, time.Second)
		if len(p) == 0 || !ok || first != p[0] {
			t.Errorf("%s: problems %v, first %v (%v)", name, p, first, ok)
		}
	}
	if _, ok := good.FirstProblem(now, time.Second); ok {
		t.Fatal("good sample has a first problem")
	}
	// A missing field is not a problem, whatever its value.
	s := good
	s.CPUIdlePct = math.NaN()
	s.Present &^= FieldCPUIdle
	if p := s.Check(now, time.Second); p != nil {
		t.Fatalf("missing field reported: %v", p)
	}
}

func TestFieldAndRoleNames(t *testing.T) {
	if got := (FieldRTT | FieldRole).String(); got != "role|rtt" {
		t.Fatalf("%q", got)
	}
	if Field(0).String() != "none" || !strings.Contains(AllFields.String(), "disk_sync") {
		t.Fatal("field names")
	}
	for _, r := range []Role{RoleFollower, RoleCandidate, RoleLeader, RoleShutdown, RoleUnknown} {
		if ParseRole(strings.ToUpper(r.String())) != r {
			t.Fatalf("role %v does not round-trip", r)
		}
	}
}
