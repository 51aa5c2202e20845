package sim

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/model"
)

// TrainWeights writes loadable weights, the same file for the same
// options, and reports traces, every epoch and the file on its writer;
// the clock it is given only times the progress lines.
func TestTrainWeightsIsDeterministic(t *testing.T) {
	scs, diags := Parse([]byte(`scenario "tiny" {
  nodes    = 3
  duration = "30s"
  crash {
    mean_interval = "8s"
    downtime      = "2s"
  }
}`), "tiny.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	dir := t.TempDir()
	tick := time.Unix(0, 0)
	now := func() time.Time { tick = tick.Add(time.Second); return tick }
	train := func(name string) ([]byte, string) {
		var log strings.Builder
		out := filepath.Join(dir, name)
		if err := TrainWeights(&log, scs, TrainOptions{Out: out, Seeds: 1, Epochs: 2, Seed: 7, Now: now}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b, log.String()
	}
	a, log := train("a.nsw")
	b, _ := train("b.nsw")
	if !bytes.Equal(a, b) {
		t.Fatal("same options, different weights")
	}
	if _, err := model.LoadWeights(bytes.NewReader(a)); err != nil {
		t.Fatalf("weights do not load: %v", err)
	}
	for _, want := range []string{"traces: 1 scenarios × 1 seeds, 3 node sequences", "epoch 1/2", "epoch 2/2", "wrote " + filepath.Join(dir, "a.nsw")} {
		if !strings.Contains(log, want) {
			t.Errorf("progress lacks %q:\n%s", want, log)
		}
	}
}

// Training under a host model is as deterministic, and fits other weights
// than the generic traces do.
func TestTrainWeightsUnderAHost(t *testing.T) {
	scs, diags := Parse([]byte(`scenario "tiny-wan" {
  nodes    = 3
  duration = "30s"
  network {
    delay  = "30ms"
    jitter = "10ms"
    loss   = 0.02
  }
  crash {
    mean_interval = "8s"
    downtime      = "2s"
  }
}`), "tiny-wan.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	dir := t.TempDir()
	train := func(name string, host HostKind) []byte {
		out := filepath.Join(dir, name)
		if err := TrainWeights(io.Discard, scs, TrainOptions{Out: out, Host: host, Seeds: 1, Epochs: 1, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	hc, again, generic := train("hc.nsw", HostHashicorp), train("hc2.nsw", HostHashicorp), train("generic.nsw", HostGeneric)
	if !bytes.Equal(hc, again) {
		t.Fatal("same options under the hashicorp host, different weights")
	}
	if bytes.Equal(hc, generic) {
		t.Fatal("weights trained under the hashicorp host equal the generic ones: the host is not applied")
	}
}
