package agent

import (
	"fmt"
	"io"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/policy"
)

// CheckFunc checks one file of a kind the agent does not own (a
// scenario: the simulator's) and writes its problems to w; false when it
// has any.
type CheckFunc func(file string, w io.Writer) bool

// ValidateFiles checks each file as what it is (configs.DetectKind): an
// agent configuration (and the policy it names), a policy, or a scenario,
// which goes to scenario. It writes every problem of every file to w as
// file:line,col: message and reports whether all were valid. Every file
// is read with the bounds every other reader applies: telling the kind
// apart parses the file, and an unbounded parse of 100,000 nested
// parentheses overflows the stack (a FIFO would block).
func ValidateFiles(files []string, w io.Writer, scenario CheckFunc) bool {
	ok := true
	for _, file := range files {
		if !validateFile(file, w, scenario) {
			ok = false
		}
	}
	return ok
}

func validateFile(file string, w io.Writer, scenario CheckFunc) bool {
	src, err := configs.ReadFile(file, configs.MaxFileBytes)
	if err != nil {
		fmt.Fprintln(w, err)
		return false
	}
	if diags := configs.CheckLimits(src, file); diags.HasErrors() {
		fmt.Fprint(w, configs.FormatDiagnostics(diags))
		return false
	}
	switch configs.DetectKind(src, file) {
	case configs.KindScenario:
		return scenario(file, w)
	case configs.KindAgent:
		cfg, diags := ParseConfig(src, file)
		if diags.HasErrors() {
			fmt.Fprint(w, configs.FormatDiagnostics(diags))
			return false
		}
		if cfg.PolicyFile != "" {
			return validatePolicy(cfg.PolicyFile, w)
		}
		return true
	default:
		return validatePolicy(file, w)
	}
}

func validatePolicy(file string, w io.Writer) bool {
	_, diags := policy.ParseFile(file)
	if diags.HasErrors() {
		fmt.Fprint(w, configs.FormatDiagnostics(diags))
		return false
	}
	return true
}
