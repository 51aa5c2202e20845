package configs

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// FormatDiagnostics renders HCL diagnostics one per line as
// "file:line,col: summary; detail", sorted by position so the output is
// stable — the shape editors, CI logs and golden tests read.
func FormatDiagnostics(diags hcl.Diagnostics) string {
	ds := append(hcl.Diagnostics(nil), diags...)
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Subject, ds[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
	var b strings.Builder
	for _, d := range ds {
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d,%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString("; " + d.Detail)
		}
		b.WriteString("\n")
	}
	return b.String()
}
