package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// A name is a file when one exists, else a built-in scenario; unknown
// names list what is known, and a bad file's error names its position.
func TestResolve(t *testing.T) {
	fsys := fstest.MapFS{
		"scenarios/a/one.hcl": {Data: []byte(`scenario "one" {}` + "\n" + `scenario "two" {}`)},
		"scenarios/b/x.hcl":   {Data: []byte(`scenario "three" {}`)},
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hcl")
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(good, []byte(`scenario "mine" { nodes = 3 }`), 0o644)
	os.WriteFile(bad, []byte("scenario \"bad\" {\n  nodes = \"many\"\n}\n"), 0o644)

	scs, err := Resolve(fsys, "a", []string{"three", good})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scs {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "one,two,three,mine" {
		t.Fatalf("resolved %s", got)
	}
	if _, err := Resolve(fsys, "", []string{"nope"}); err == nil || !strings.Contains(err.Error(), "one, two, three") {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := Resolve(fsys, "", []string{bad}); err == nil || !strings.Contains(err.Error(), bad+":2,") {
		t.Fatalf("bad file: %v", err)
	}
	if _, err := Resolve(fsys, "c", nil); err == nil || !strings.Contains(err.Error(), "unknown suite") {
		t.Fatalf("unknown suite: %v", err)
	}
}
