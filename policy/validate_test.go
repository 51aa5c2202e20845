package policy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsraft/nsraft/configs"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/validate")

// TestValidateGolden parses every broken policy in testdata/validate and
// compares the rendered diagnostics with the .golden file beside it
// (regenerate with go test ./policy -run Golden -update, then review the diff).
func TestValidateGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/validate/*.hcl")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, diags := ParseFile(f)
			if !diags.HasErrors() {
				t.Fatal("broken file parsed without error")
			}
			got := configs.FormatDiagnostics(diags)
			golden := strings.TrimSuffix(f, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("diagnostics differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, f+":") {
					t.Errorf("diagnostic without file:line,col: %q", line)
				}
			}
		})
	}
}
