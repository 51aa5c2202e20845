package hashicorp

import "github.com/nsraft/nsraft/adapter/link"

// LinkConfig configures the connection from a node to its agent.
type LinkConfig = link.Config

// Link connects an Adapter to its agent over the nsraft.v1 protocol.
type Link = link.Link

// LinkStats counts what a Link did.
type LinkStats = link.Stats

// ErrOutOfRange is returned for a directive the node will not take.
var ErrOutOfRange = link.ErrOutOfRange

// Connect starts linking the adapter to the agent at cfg.Target.
func Connect(a *Adapter, cfg LinkConfig) *Link {
	return link.Connect(a, a.cfg.NodeID, "hashicorp", cfg)
}
