package sim

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/nsraft/nsraft/configs"
)

// Resolve gathers the scenarios a command names: every scenario of suite
// (none when it is empty), then, per name, the scenarios of that file, or
// the built-in scenario of that name in any suite of fsys when no such
// file exists. Errors carry file:line,col where there is one.
func Resolve(fsys fs.FS, suite string, names []string) ([]*Scenario, error) {
	var out []*Scenario
	if suite != "" {
		scs, err := LoadSuite(fsys, suite)
		if err != nil {
			return nil, err
		}
		out = append(out, scs...)
	}
	for _, f := range names {
		if _, err := os.Stat(f); err != nil {
			sc, ferr := Find(fsys, f)
			if ferr != nil {
				return nil, ferr
			}
			out = append(out, sc)
			continue
		}
		scs, diags := ParseFile(f)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s", strings.TrimSpace(configs.FormatDiagnostics(diags)))
		}
		out = append(out, scs...)
	}
	return out, nil
}

// Find looks a scenario up by name in every suite of fsys.
func Find(fsys fs.FS, name string) (*Scenario, error) {
	var known []string
	for _, suite := range Suites(fsys) {
		scs, err := LoadSuite(fsys, suite)
		if err != nil {
			return nil, err
		}
		for _, sc := range scs {
			if sc.Name == name {
				return sc, nil
			}
			known = append(known, sc.Name)
		}
	}
	return nil, fmt.Errorf("%q is neither a file nor a built-in scenario (%s)", name, strings.Join(known, ", "))
}
