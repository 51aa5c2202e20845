package refcluster

import (
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// nodeFile is the HCL shape of a node configuration file:
//
//	id        = "n1"
//	data_dir  = "/var/lib/refnode/n1"
//	raft_addr = "127.0.0.1:7001"
//	http_addr = "127.0.0.1:8001"
//	bootstrap = true
//	heartbeat_timeout    = "1s"
//	election_timeout     = "1s"
//	leader_lease_timeout = "500ms"
//	peer "n2" {
//	  raft = "127.0.0.1:7002"
//	  http = "127.0.0.1:8002"
//	  dial = "127.0.0.1:9012"   # optional: route this link through a proxy
//	}
type nodeFile struct {
	ID                 string     `hcl:"id"`
	DataDir            string     `hcl:"data_dir"`
	RaftAddr           string     `hcl:"raft_addr"`
	HTTPAddr           string     `hcl:"http_addr"`
	Bootstrap          *bool      `hcl:"bootstrap,optional"`
	HeartbeatTimeout   *string    `hcl:"heartbeat_timeout,optional"`
	ElectionTimeout    *string    `hcl:"election_timeout,optional"`
	LeaderLeaseTimeout *string    `hcl:"leader_lease_timeout,optional"`
	SnapshotThreshold  *int       `hcl:"snapshot_threshold,optional"`
	Peers              []peerFile `hcl:"peer,block"`
}

type peerFile struct {
	ID   string  `hcl:"id,label"`
	Raft string  `hcl:"raft"`
	HTTP *string `hcl:"http,optional"`
	Dial *string `hcl:"dial,optional"`
}

// ParseNodeConfig parses a node configuration file. The node itself must be
// listed among the peers only if its HTTP address differs; it is added
// automatically otherwise. Diagnostics carry file:line,col.
func ParseNodeConfig(src []byte, filename string) (NodeConfig, hcl.Diagnostics) {
	var cfg NodeConfig
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return cfg, diags
	}
	var nf nodeFile
	// gohcl reports unknown arguments and blocks with their positions.
	// Decoding goes on past errors so that one run reports every problem.
	diags = append(diags, gohcl.DecodeBody(f.Body, nil, &nf)...)
	cfg = NodeConfig{ID: nf.ID, DataDir: nf.DataDir, RaftAddr: nf.RaftAddr, HTTPAddr: nf.HTTPAddr}
	if nf.Bootstrap != nil {
		cfg.Bootstrap = *nf.Bootstrap
	}
	if nf.SnapshotThreshold != nil {
		if *nf.SnapshotThreshold < 0 {
			diags = append(diags, attrDiag(f.Body, "snapshot_threshold", "snapshot_threshold must not be negative"))
		} else {
			cfg.SnapshotThreshold = uint64(*nf.SnapshotThreshold)
		}
	}
	dur := func(name string, v *string, dst *time.Duration) {
		if v == nil {
			return
		}
		d, err := time.ParseDuration(*v)
		if err != nil || d <= 0 {
			diags = append(diags, attrDiag(f.Body, name, fmt.Sprintf("%s must be a positive duration like \"500ms\", got %q", name, *v)))
			return
		}
		*dst = d
	}
	dur("heartbeat_timeout", nf.HeartbeatTimeout, &cfg.Timing.HeartbeatTimeout)
	dur("election_timeout", nf.ElectionTimeout, &cfg.Timing.ElectionTimeout)
	dur("leader_lease_timeout", nf.LeaderLeaseTimeout, &cfg.Timing.LeaderLeaseTimeout)
	self := false
	for _, p := range nf.Peers {
		pe := Peer{ID: p.ID, RaftAddr: p.Raft}
		if p.HTTP != nil {
			pe.HTTPAddr = *p.HTTP
		}
		if p.Dial != nil {
			pe.DialAddr = *p.Dial
		}
		if p.ID == cfg.ID {
			self = true
		}
		cfg.Peers = append(cfg.Peers, pe)
	}
	if !self && len(cfg.Peers) > 0 {
		cfg.Peers = append(cfg.Peers, Peer{ID: cfg.ID, RaftAddr: cfg.RaftAddr, HTTPAddr: cfg.HTTPAddr})
	}
	if !diags.HasErrors() {
		if err := cfg.Validate(); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: err.Error(), Subject: f.Body.MissingItemRange().Ptr()})
		}
	}
	return cfg, diags
}

// attrDiag builds an error diagnostic pointing at the named attribute.
func attrDiag(body hcl.Body, name, msg string) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: msg, Subject: body.MissingItemRange().Ptr()}
	if sb, ok := body.(*hclsyntax.Body); ok {
		if a, ok := sb.Attributes[name]; ok {
			d.Subject = a.SrcRange.Ptr()
		}
	}
	return d
}

// LoadNodeConfig reads and parses a node configuration file.
func LoadNodeConfig(path string) (NodeConfig, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return NodeConfig{}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: err.Error()}}
	}
	return ParseNodeConfig(src, path)
}
