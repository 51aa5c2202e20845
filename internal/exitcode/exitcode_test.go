package exitcode

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestReport(t *testing.T) {
	diags := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "tick is not a duration",
		Subject: &hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 2, Column: 8}}}}
	wrappedUsage := fmt.Errorf("bench: %w", Usagef("-seeds %d: want at least 1", 0))
	for _, tc := range []struct {
		name string
		err  error
		code int
		out  string
	}{
		{"nil", nil, OK, ""},
		{"failure", errors.New("disk full"), Failure, "ns-agent x: disk full\n"},
		{"usage", Usagef("-n %d: want 3 to 9", 12), Usage, "ns-agent x: -n 12: want 3 to 9\n"},
		{"wrapped usage", wrappedUsage, Usage, "ns-agent x: bench: -seeds 0: want at least 1\n"},
		{"diagnostics", fmt.Errorf("load: %w", Diagnostics(diags)), Failure, "a.hcl:2,8: tick is not a duration\n"},
		{"list", List([]error{errors.New("a/lstm seed 1: history unknown"), errors.New("b/random seed 2: timeout")}), Failure,
			"ns-agent x: a/lstm seed 1: history unknown\nns-agent x: b/random seed 2: timeout\n"},
	} {
		var b strings.Builder
		if code := Report(&b, "ns-agent x", tc.err); code != tc.code || b.String() != tc.out {
			t.Errorf("%s: exit %d, printed %q; want %d, %q", tc.name, code, b.String(), tc.code, tc.out)
		}
	}
	if Diagnostics(nil) != nil || Diagnostics(hcl.Diagnostics{{Severity: hcl.DiagWarning}}) != nil {
		t.Error("Diagnostics without an error is not nil")
	}
	if List(nil) != nil {
		t.Error("List of nothing is not nil")
	}
	sentinel := errors.New("cause")
	if err := Usagef("flag: %w", sentinel); !errors.Is(err, sentinel) || !errors.Is(err, ErrUsage) {
		t.Errorf("Usagef does not wrap: %v", err)
	}
}
