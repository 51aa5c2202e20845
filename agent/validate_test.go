package agent

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/sim"
)

// checkScenario is the full build's scenario check.
func checkScenario(file string, w io.Writer) bool {
	_, diags := sim.ParseFile(file)
	fmt.Fprint(w, configs.FormatDiagnostics(diags))
	return !diags.HasErrors()
}

func validate(files ...string) (string, bool) {
	var b strings.Builder
	ok := ValidateFiles(files, &b, checkScenario)
	return b.String(), ok
}

func TestValidateFiles(t *testing.T) {
	presets, _ := filepath.Glob("../configs/policies/*.hcl")
	if len(presets) < 5 {
		t.Fatalf("presets: %v", presets)
	}
	if out, ok := validate(presets...); !ok || out != "" {
		t.Fatalf("presets: %v: %s", ok, out)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.hcl"), filepath.Join(dir, "b.hcl")
	os.WriteFile(a, []byte("bounds {\n  election_min = \"2s\"\n  election_max = \"1s\"\n}\n"), 0o644)
	os.WriteFile(b, []byte("rule \"r\" {\n  when  = nodes > 2\n  floor = \"1s\"\n}\n"), 0o644)
	out, ok := validate(a, presets[0], b)
	if ok {
		t.Fatalf("valid: %s", out)
	}
	for _, want := range []string{a + ":2,18: election_min (2s) is above election_max (1s)", b + ":2,11: unknown variable \"nodes\""} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if out, ok := validate(filepath.Join(dir, "absent.hcl")); ok || !strings.Contains(out, "no such file") {
		t.Errorf("missing file: %v: %s", ok, out)
	}
	// Agent configurations and scenarios are checked as what they are.
	scenarios, _ := filepath.Glob("../configs/scenarios/*/*.hcl")
	if out, ok := validate(append([]string{"../configs/agent.hcl"}, scenarios...)...); !ok || out != "" {
		t.Fatalf("agent.hcl and the shipped scenarios: %v: %s", ok, out)
	}
	ag, sc := filepath.Join(dir, "agent.hcl"), filepath.Join(dir, "scenario.hcl")
	os.WriteFile(ag, []byte("node = \"n1\"\ntick = \"often\"\n"), 0o644)
	os.WriteFile(sc, []byte("scenario \"s\" {\n  nodes = \"five\"\n}\n"), 0o644)
	out, ok = validate(ag, sc)
	if ok {
		t.Fatalf("bad agent config and scenario: valid: %s", out)
	}
	for _, want := range []string{ag + ":2,8: tick", sc + ":2,11: nodes"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}

	// Hostile files are refused as run refuses them, before any parse:
	// 100,000 nested parentheses (200 KB) overflowed the stack of the
	// parse that tells the kind apart, 30,000 (60 KB) took 421 MB, and a
	// FIFO blocked validate until someone wrote to it.
	deep := func(n int) []byte {
		return []byte("name = \"deep\"\nx = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n")
	}
	huge, nested, fifo := filepath.Join(dir, "huge.hcl"), filepath.Join(dir, "nested.hcl"), filepath.Join(dir, "fifo.hcl")
	os.WriteFile(huge, deep(100000), 0o644)
	os.WriteFile(nested, deep(30000), 0o644)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	out, ok = validate(huge, nested, fifo)
	if ok {
		t.Fatalf("hostile files: valid: %s", out)
	}
	for _, want := range []string{huge + ": file too large", nested + ":2,37: nesting deeper than 32 levels", fifo + ": not a regular file"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
