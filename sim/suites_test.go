package sim

import (
	"strings"
	"testing"
	"testing/fstest"
)

// WriteSuites names every suite's scenarios, and says which suite does
// not load instead of leaving it out.
func TestWriteSuites(t *testing.T) {
	fsys := fstest.MapFS{
		"scenarios/lan/a.hcl": {Data: []byte("scenario \"calm\" {\n  nodes = 3\n}\nscenario \"busy\" {\n  nodes = 5\n}\n")},
		"scenarios/bad/b.hcl": {Data: []byte("scenario \"x\" {\n  nodes = \"five\"\n}\n")},
	}
	var b strings.Builder
	WriteSuites(&b, fsys)
	out := b.String()
	if !strings.Contains(out, "  lan      calm, busy\n") {
		t.Errorf("lan suite not listed:\n%s", out)
	}
	if !strings.Contains(out, "  bad: ") || !strings.Contains(out, "b.hcl:2,") {
		t.Errorf("the broken suite does not say why:\n%s", out)
	}
}
