package sim

import (
	"reflect"
	"testing"
	"time"
)

// Training traces hold one sequence per node and run, in a fixed order,
// and do not depend on how many workers built them.
func TestTracesAreDeterministicAcrossWorkers(t *testing.T) {
	scs, diags := Parse([]byte(`scenario "tiny" {
  nodes    = 3
  duration = "20s"
  crash {
    mean_interval = "5s"
    downtime      = "2s"
  }
}`), "tiny.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	timeouts := []time.Duration{150 * time.Millisecond, time.Second}
	one := Traces(scs, 2, timeouts, 1)
	two := Traces(scs, 2, timeouts, 2)
	if len(one) != 2*3 {
		t.Fatalf("%d sequences, want 6 (2 seeds × 3 nodes)", len(one))
	}
	if !reflect.DeepEqual(one, two) {
		t.Fatal("1 and 2 workers built different traces")
	}
	scored := 0
	for _, s := range one {
		if len(s.X) == 0 || len(s.X) != len(s.Mask) {
			t.Fatalf("sequence of %d samples, %d mask entries", len(s.X), len(s.Mask))
		}
		for _, m := range s.Mask {
			if m {
				scored++
			}
		}
	}
	if scored == 0 {
		t.Fatal("no sample has a target")
	}
	if reflect.DeepEqual(one[:3], TraceRun(scs[0], 1, time.Second)) {
		t.Fatal("seed 1 traced at 1s equals seed 1 traced at 150ms: the timeout is not applied")
	}
}

// Training traces follow the host model they are built under: the same
// suite traced under hashicorp/raft's timing rules differs from the
// generic traces, and is as deterministic.
func TestTracesFollowTheHostModel(t *testing.T) {
	scs, diags := Parse([]byte(`scenario "tiny-wan" {
  nodes    = 3
  duration = "20s"
  network {
    delay  = "30ms"
    jitter = "10ms"
    loss   = 0.02
  }
  crash {
    mean_interval = "5s"
    downtime      = "2s"
  }
}`), "tiny-wan.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	timeouts := []time.Duration{150 * time.Millisecond, time.Second}
	parsed := scs[0].Host
	generic := Traces(scs, 2, timeouts, 2)
	hc := Traces(WithHost(scs, HostHashicorp), 2, timeouts, 1)
	if again := Traces(WithHost(scs, HostHashicorp), 2, timeouts, 2); !reflect.DeepEqual(hc, again) {
		t.Fatal("two traces of the same suite under the hashicorp host differ")
	}
	if len(hc) != len(generic) {
		t.Fatalf("%d sequences under hashicorp, %d under generic: want one per node and run both ways", len(hc), len(generic))
	}
	if reflect.DeepEqual(hc, generic) {
		t.Fatal("traces under the hashicorp host equal the generic ones: the host model is not applied")
	}
	if scs[0].Host != parsed {
		t.Fatalf("WithHost changed the caller's scenario (host %q, parsed %q)", scs[0].Host, parsed)
	}
}
