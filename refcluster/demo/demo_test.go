package demo

import (
	"testing"
	"time"

	"github.com/nsraft/nsraft/sim"
)

// Trim keeps only what a smaller or shorter cluster can carry: links and
// node specs between existing nodes, partitions that isolate existing
// nodes (never all of them) and start before the end.
func TestTrim(t *testing.T) {
	scs, diags := sim.Parse([]byte(`scenario "big" {
  nodes    = 5
  duration = "60s"
  link "n1" "n2" { delay = "5ms" }
  link "n1" "n5" { delay = "5ms" }
  node "n2" { slowdown = 2 }
  node "n4" { slowdown = 2 }
  partition {
    at       = "10s"
    duration = "5s"
    isolate  = ["n2", "n4"]
  }
  partition {
    at       = "50s"
    duration = "5s"
    isolate  = ["n1"]
  }
  partition {
    at       = "20s"
    duration = "5s"
    isolate  = ["n4", "n5"]
  }
}`), "big.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	sc := scs[0]
	sc.Nodes, sc.Duration = 3, 30*time.Second
	got := Trim(sc)
	if len(got.Links) != 1 || got.Links[0].To != "n2" {
		t.Fatalf("links %+v", got.Links)
	}
	if len(got.NodeSpecs) != 1 || got.NodeSpecs[0].Name != "n2" {
		t.Fatalf("node specs %+v", got.NodeSpecs)
	}
	if len(got.Partitions) != 1 || len(got.Partitions[0].Isolate) != 1 || got.Partitions[0].Isolate[0] != "n2" {
		t.Fatalf("partitions %+v", got.Partitions)
	}
	if len(sc.Links) != 2 || len(sc.Partitions) != 3 {
		t.Fatal("Trim changed its argument")
	}
}
