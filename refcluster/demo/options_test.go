package demo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/exitcode"
)

func TestOptionsConfig(t *testing.T) {
	cfg, err := Options{Nodes: 3, Duration: 8 * time.Second, Strategy: "none", Seed: 3}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Strategy != "" || cfg.Nodes != 3 || cfg.Seed != 3 || cfg.Scenario.Name != "demo" || cfg.Scenario.Nodes != 3 || cfg.Scenario.Duration != 8*time.Second {
		t.Fatalf("config %+v, scenario %s: %d nodes, %s", cfg, cfg.Scenario.Name, cfg.Scenario.Nodes, cfg.Scenario.Duration)
	}
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Nodes: 12}, "-nodes 12: want 3 to 9"},
		{Options{Nodes: 3, Strategy: "psychic"}, "-strategy: unknown recommender"},
		{Options{Nodes: 3, Duration: -time.Second}, "-duration must not be negative"},
	} {
		if _, err := tc.o.Config(); exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("scenario \"x\" {\n  network { loss = 3 }\n}\n"), 0o644)
	var de *exitcode.DiagnosticsError
	if _, err := (Options{Nodes: 3, ScenarioFile: bad}).Config(); !errors.As(err, &de) || !strings.Contains(err.Error(), bad+":2,") {
		t.Fatalf("bad scenario: %v", err)
	}
}
