package configs

import (
	"io/fs"
	"strings"
	"testing"
)

// Every shipped file is detected as what it is, and the edge cases go
// where validate can report them best.
func TestDetectKind(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want Kind
	}{
		{`scenario "x" {}`, KindScenario},
		{"node = \"n1\"\n", KindAgent},
		{"listen {\n  grpc = \"127.0.0.1:0\"\n}\n", KindAgent},
		{"bounds {\n  election_min = \"150ms\"\n}\n", KindPolicy},
		{"", KindPolicy},
		{"this is { not hcl", KindPolicy},
	} {
		if got := DetectKind([]byte(tc.src), "t.hcl"); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.src, got, tc.want)
		}
	}
	check := func(fsys fs.FS, want Kind) {
		fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".hcl") {
				return err
			}
			src, _ := fs.ReadFile(fsys, p)
			if got := DetectKind(src, p); got != want {
				t.Errorf("%s: %s, want %s", p, got, want)
			}
			return nil
		})
	}
	check(Scenarios, KindScenario)
	check(Policies, KindPolicy)
}
