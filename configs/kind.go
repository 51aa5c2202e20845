package configs

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Kind is what a configuration file is, as `ns-agent validate` checks it.
type Kind string

// The kinds of file the project reads.
const (
	KindPolicy   Kind = "policy"
	KindAgent    Kind = "agent configuration"
	KindScenario Kind = "scenario"
)

// DetectKind tells an agent configuration, a scenario and a policy apart by
// their top-level names: scenario blocks make a scenario; listen or log
// blocks, or any of the agent's own attributes, an agent configuration;
// anything else is a policy. A file that does not parse is taken for a
// policy, whose parser reports the syntax error with its position.
func DetectKind(src []byte, filename string) Kind {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return KindPolicy
	}
	body := f.Body.(*hclsyntax.Body)
	for _, b := range body.Blocks {
		switch b.Type {
		case "scenario":
			return KindScenario
		case "listen", "log":
			return KindAgent
		}
	}
	for name := range body.Attributes {
		switch name {
		case "node", "recommender", "weights", "policy", "tick", "lease_ttl":
			return KindAgent
		}
	}
	return KindPolicy
}
