package sim

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// WriteSuites lists the built-in scenarios of fsys by suite, one suite a
// line ("  NAME     a, b, c"); a suite that does not load says why.
func WriteSuites(w io.Writer, fsys fs.FS) {
	for _, suite := range Suites(fsys) {
		scs, err := LoadSuite(fsys, suite)
		if err != nil {
			fmt.Fprintf(w, "  %s: %v\n", suite, err)
			continue
		}
		var names []string
		for _, sc := range scs {
			names = append(names, sc.Name)
		}
		fmt.Fprintf(w, "  %-8s %s\n", suite, strings.Join(names, ", "))
	}
}
