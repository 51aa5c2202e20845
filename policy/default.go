package policy

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/nsraft/nsraft/configs"
)

// defaultFile is the embedded default policy, the one source of defaults.
const defaultFile = "policies/default.hcl"

// defaults is the embedded default policy, decoded once over nothing (so
// it must set every bound, the host kind and the stability itself) and
// validated. Every other policy is decoded over its values.
var defaults = sync.OnceValue(func() *Policy {
	src, err := fs.ReadFile(configs.Policies, defaultFile)
	if err != nil {
		panic(err) // embedded at build time: a build defect
	}
	p, diags := parse(src, "configs/"+defaultFile, &Policy{})
	if diags.HasErrors() {
		// The embedded file is part of the binary and tested; reaching
		// this is a build defect, not an operator error.
		panic(diags.Error())
	}
	return p
})

// Default returns the embedded default policy (configs/policies/default.hcl),
// used when none is configured. It is parsed on every call so callers own
// their copy; a test guarantees it parses.
func Default() *Policy {
	p, err := Preset("default")
	if err != nil {
		// The embedded file is part of the binary and tested; reaching
		// this is a build defect, not an operator error.
		panic(err)
	}
	return p
}

// Preset parses one of the embedded policy presets by name.
func Preset(name string) (*Policy, error) {
	file := path.Join("policies", name+".hcl")
	src, err := fs.ReadFile(configs.Policies, file)
	if err != nil {
		return nil, fmt.Errorf("unknown policy preset %q (have %s)", name, strings.Join(Presets(), ", "))
	}
	p, diags := Parse(src, "configs/"+file)
	if diags.HasErrors() {
		return nil, fmt.Errorf("preset %s: %s", name, diags.Error())
	}
	return p, nil
}

// Presets lists the embedded policy presets.
func Presets() []string {
	entries, _ := fs.ReadDir(configs.Policies, "policies")
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".hcl"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
