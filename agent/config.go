package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

// FileConfig is an agent configuration file (configs/agent.hcl):
//
//	node        = "n1"
//	recommender = "lstm"              # any of `ns-agent bench`'s deployable ones
//	policy      = "policy.hcl"        # default: the embedded policy
//	weights     = "model.nsw"         # default: the embedded weights
//	tick        = "100ms"
//	lease_ttl   = "2s"
//	host   { kind = "hashicorp" }
//	listen { grpc = "unix:///run/ns-agent/n1.sock"  http = "127.0.0.1:9464" }
//	log    { file = "/var/log/ns-agent/n1.jsonl"  max_size_mb = 64  max_backups = 5  stderr = false }
//
// Relative paths are relative to the file's directory.
type FileConfig struct {
	Path        string
	Node        string
	HostKind    policy.HostKind
	HostAddress string
	// HostLive opts a scraped host (consul) in to live apply; HostFragment
	// is the config file it writes for that.
	HostLive     bool
	HostFragment string
	// Etcd servers: their timing as started, leader hand-off (opt-in) and
	// client TLS files.
	HostHeartbeat, HostElection time.Duration
	HostHandoff                 bool
	// HostHandoffCooldown is the least time between two hand-offs
	// anywhere in the cluster (zero: the default, 60s).
	HostHandoffCooldown time.Duration
	HostTLS             *TLSFiles
	// Etcd servers' restart-time advice: how far back its evidence
	// reaches, the least evidence, the least time between changes and
	// the margin the evidence must move past (zero: the defaults).
	AdviceHorizon, AdviceMinEvidence, AdvicePeriod, AdviceEvery time.Duration
	AdviceMargin                                                float64
	Recommender                                                 string
	PolicyFile                                                  string
	WeightsFile                                                 string
	Tick                                                        time.Duration
	LeaseTTL                                                    time.Duration
	GRPC                                                        string // "unix:///path", "unix:path" or "host:port"
	HTTP                                                        string // host:port of /metrics and health; "" for none
	TLS                                                         *TLSFiles
	Socket                                                      SocketOptions
	LogFile                                                     string
	LogMaxMB                                                    int
	LogBackups                                                  int
	LogStderr                                                   bool
	// LogChanges logs decisions only when the decided timeout changes.
	LogChanges bool
	// LogLevel is the level of operational messages on stderr.
	LogLevel string
}

// SocketOptions set the unix socket's mode (default SocketMode) and group
// (default the agent's), like Consul's unix_sockets.
type SocketOptions struct {
	Mode  os.FileMode
	Group string
}

// TLSFiles configure TLS on a TCP gRPC listener.
type TLSFiles struct {
	Cert, Key, ClientCA string
}

type fileAgent struct {
	Node        hcl.Expression `hcl:"node,optional"` // or `run -node`, NS_AGENT_NODE
	Recommender hcl.Expression `hcl:"recommender,optional"`
	Policy      hcl.Expression `hcl:"policy,optional"`
	Weights     hcl.Expression `hcl:"weights,optional"`
	Tick        hcl.Expression `hcl:"tick,optional"`
	LeaseTTL    hcl.Expression `hcl:"lease_ttl,optional"`
	LogLevel    hcl.Expression `hcl:"log_level,optional"`
	Host        []struct {
		Kind      hcl.Expression `hcl:"kind"`
		Address   hcl.Expression `hcl:"address,optional"`
		Live      hcl.Expression `hcl:"live,optional"`
		Fragment  hcl.Expression `hcl:"fragment,optional"`
		Heartbeat hcl.Expression `hcl:"heartbeat_interval,optional"`
		Election  hcl.Expression `hcl:"election_timeout,optional"`
		Handoff   hcl.Expression `hcl:"handoff,optional"`
		HCooldown hcl.Expression `hcl:"handoff_cooldown,optional"`
		AHorizon  hcl.Expression `hcl:"advice_horizon,optional"`
		AEvidence hcl.Expression `hcl:"advice_min_evidence,optional"`
		APeriod   hcl.Expression `hcl:"advice_period,optional"`
		AMargin   hcl.Expression `hcl:"advice_margin,optional"`
		AEvery    hcl.Expression `hcl:"advice_every,optional"`
		CAFile    hcl.Expression `hcl:"ca_file,optional"`
		CertFile  hcl.Expression `hcl:"cert_file,optional"`
		KeyFile   hcl.Expression `hcl:"key_file,optional"`
	} `hcl:"host,block"`
	Listen []struct {
		GRPC        hcl.Expression `hcl:"grpc,optional"`
		HTTP        hcl.Expression `hcl:"http,optional"`
		SocketMode  hcl.Expression `hcl:"socket_mode,optional"`
		SocketGroup hcl.Expression `hcl:"socket_group,optional"`
		TLS         []struct {
			Cert     hcl.Expression `hcl:"cert_file"`
			Key      hcl.Expression `hcl:"key_file"`
			ClientCA hcl.Expression `hcl:"client_ca_file,optional"`
		} `hcl:"tls,block"`
	} `hcl:"listen,block"`
	Log []struct {
		File      hcl.Expression `hcl:"file,optional"`
		MaxMB     hcl.Expression `hcl:"max_size_mb,optional"`
		Backups   hcl.Expression `hcl:"max_backups,optional"`
		Stderr    hcl.Expression `hcl:"stderr,optional"`
		Decisions hcl.Expression `hcl:"decisions,optional"`
	} `hcl:"log,block"`
}

// ParseConfig parses an agent configuration. Every problem is reported
// with its position.
func ParseConfig(src []byte, filename string) (*FileConfig, hcl.Diagnostics) {
	if diags := configs.CheckLimits(src, filename); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	var raw fileAgent
	if d := gohcl.DecodeBody(f.Body, nil, &raw); d.HasErrors() {
		return nil, d
	}
	dir := filepath.Dir(filename)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	cfg := &FileConfig{Path: filename, Recommender: "lstm", HostKind: policy.HostHashicorp, Tick: 100 * time.Millisecond,
		LogMaxMB: 64, LogBackups: 5, LogLevel: "info"}
	var dec configs.Decoder
	str := func(e hcl.Expression, name string, dst *string) bool {
		if v, ok := dec.Value(e, name, cty.String); ok {
			*dst = v.AsString()
			return true
		}
		return false
	}
	// node may be left out of the file and given by `run -node` or
	// NS_AGENT_NODE (Kubernetes' downward API); written, it must be valid.
	_, hasNode := f.Body.(*hclsyntax.Body).Attributes["node"]
	if !hasNode {
		// run checks that it got one
	} else if !str(raw.Node, "node", &cfg.Node) || cfg.Node == "" {
		dec.Errf(raw.Node.Range(), "node is required: the host node's name, as in its logs")
	} else if !validNode(cfg.Node) {
		dec.Errf(raw.Node.Range(), "node %q: use at most %d letters, digits, '.', '_' or '-' (it names the socket and the log)",
			short(cfg.Node), maxNodeName)
	}
	if str(raw.Recommender, "recommender", &cfg.Recommender) {
		if _, err := model.New(cfg.Recommender, model.Options{}); err != nil {
			dec.Errf(raw.Recommender.Range(), "%v", err)
		}
	}
	if str(raw.Policy, "policy", &cfg.PolicyFile) {
		cfg.PolicyFile = rel(cfg.PolicyFile)
	}
	if str(raw.Weights, "weights", &cfg.WeightsFile) {
		cfg.WeightsFile = rel(cfg.WeightsFile)
	}
	if d, ok := dec.Duration(raw.Tick, "tick", true); ok {
		if d < MinTick || d > MaxTick {
			// The host refuses a tick outside this, so it would never link.
			dec.Errf(raw.Tick.Range(), "tick %s is outside %s..%s", d, MinTick, MaxTick)
		} else {
			cfg.Tick = d
		}
	}
	if d, ok := dec.Duration(raw.LeaseTTL, "lease_ttl", true); ok {
		cfg.LeaseTTL = d
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = max(time.Second, 10*cfg.Tick)
	} else if cfg.LeaseTTL < 2*cfg.Tick {
		dec.Errf(raw.LeaseTTL.Range(), "lease_ttl %s must be at least two ticks (%s): a single late sample would drop the lease", cfg.LeaseTTL, 2*cfg.Tick)
	} else if cfg.LeaseTTL > MaxLeaseTTL {
		dec.Errf(raw.LeaseTTL.Range(), "lease_ttl %s is above %s: a host whose agent died would keep its decision that long", cfg.LeaseTTL, MaxLeaseTTL)
	}
	if len(raw.Host) > 1 {
		dec.Errf(f.Body.MissingItemRange(), "only one host block is allowed")
	}
	for _, h := range raw.Host[:min(1, len(raw.Host))] {
		var kind string
		if str(h.Kind, "host.kind", &kind) {
			if cfg.HostKind = policy.HostKind(kind); !cfg.HostKind.Valid() {
				var known []string
				for _, k := range policy.HostKinds() {
					known = append(known, string(k))
				}
				dec.Errf(h.Kind.Range(), "host.kind %q is not one of %s", kind, strings.Join(known, ", "))
			}
		}
		str(h.Address, "host.address", &cfg.HostAddress)
		if v, ok := dec.Bool(h.Live, "host.live"); ok {
			cfg.HostLive = v
		}
		if str(h.Fragment, "host.fragment", &cfg.HostFragment) {
			cfg.HostFragment = rel(cfg.HostFragment)
		}
		if d, ok := dec.Duration(h.Heartbeat, "host.heartbeat_interval", true); ok {
			cfg.HostHeartbeat = d
		}
		if d, ok := dec.Duration(h.Election, "host.election_timeout", true); ok {
			cfg.HostElection = d
		}
		if v, ok := dec.Bool(h.Handoff, "host.handoff"); ok {
			cfg.HostHandoff = v
			if v && cfg.HostKind == policy.HostEtcdRaft {
				dec.Errf(h.Handoff.Range(), "host.handoff applies to etcd and Consul servers and hashicorp/raft nodes, not %s", cfg.HostKind)
			}
		}
		if d, ok := dec.Duration(h.HCooldown, "host.handoff_cooldown", true); ok {
			cfg.HostHandoffCooldown = d
		}
		if d, ok := dec.Duration(h.AHorizon, "host.advice_horizon", true); ok {
			cfg.AdviceHorizon = d
		}
		if d, ok := dec.Duration(h.AEvidence, "host.advice_min_evidence", true); ok {
			cfg.AdviceMinEvidence = d
		}
		if d, ok := dec.Duration(h.APeriod, "host.advice_period", true); ok {
			cfg.AdvicePeriod = d
		}
		if d, ok := dec.Duration(h.AEvery, "host.advice_every", true); ok {
			cfg.AdviceEvery = d
		}
		if v, ok := dec.Number(h.AMargin, "host.advice_margin", 0.01, 10); ok {
			cfg.AdviceMargin = v
		}
		for _, e := range []hcl.Expression{h.AHorizon, h.AEvidence, h.APeriod, h.AMargin, h.AEvery} {
			if !configs.Absent(e) && cfg.HostKind != policy.HostEtcd {
				dec.Errf(e.Range(), "host.advice_* applies to etcd servers, not %s", cfg.HostKind)
				break
			}
		}
		var ca, cert, key string
		str(h.CAFile, "host.ca_file", &ca)
		str(h.CertFile, "host.cert_file", &cert)
		str(h.KeyFile, "host.key_file", &key)
		if ca != "" || cert != "" || key != "" {
			cfg.HostTLS = &TLSFiles{Cert: rel(cert), Key: rel(key), ClientCA: rel(ca)}
			if (cert == "") != (key == "") {
				dec.Errf(h.CertFile.Range(), "host.cert_file and host.key_file go together")
			}
		}
		if cfg.HostLive && cfg.HostKind != policy.HostConsul {
			dec.Errf(h.Live.Range(), "host.live applies to consul; %s hosts link to the agent and apply live already", cfg.HostKind)
		}
		if cfg.HostLive && cfg.HostFragment == "" {
			dec.Errf(h.Live.Range(), "host.live needs host.fragment: the file in Consul's config dir that ns-agent writes raft_multiplier into")
		}
	}
	cfg.GRPC = defaultGRPC(cfg.Node)
	for _, l := range raw.Listen[:min(1, len(raw.Listen))] {
		str(l.GRPC, "listen.grpc", &cfg.GRPC)
		str(l.HTTP, "listen.http", &cfg.HTTP)
		var mode string
		if str(l.SocketMode, "listen.socket_mode", &mode) {
			m, err := strconv.ParseUint(mode, 8, 32)
			switch {
			case err != nil || m > 0o777:
				dec.Errf(l.SocketMode.Range(), "listen.socket_mode %q is not an octal file mode like \"0660\"", mode)
			case m&0o002 != 0:
				dec.Errf(l.SocketMode.Range(), "listen.socket_mode %s lets every local user drive the host; use 0660 and socket_group", mode)
			case m&0o600 != 0o600:
				dec.Errf(l.SocketMode.Range(), "listen.socket_mode %s: the agent's own user needs read and write", mode)
			default:
				cfg.Socket.Mode = os.FileMode(m)
			}
		}
		str(l.SocketGroup, "listen.socket_group", &cfg.Socket.Group)
		if (cfg.Socket.Mode != 0 || cfg.Socket.Group != "") && !strings.HasPrefix(cfg.GRPC, "unix:") {
			dec.Errf(l.GRPC.Range(), "listen.socket_mode and socket_group apply to a unix socket, not %s", cfg.GRPC)
		}
		for _, t := range l.TLS[:min(1, len(l.TLS))] {
			cfg.TLS = &TLSFiles{}
			str(t.Cert, "tls.cert_file", &cfg.TLS.Cert)
			str(t.Key, "tls.key_file", &cfg.TLS.Key)
			str(t.ClientCA, "tls.client_ca_file", &cfg.TLS.ClientCA)
			cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.ClientCA = rel(cfg.TLS.Cert), rel(cfg.TLS.Key), rel(cfg.TLS.ClientCA)
			if strings.HasPrefix(cfg.GRPC, "unix:") {
				dec.Errf(t.Cert.Range(), "tls applies to a TCP listener; listen.grpc is the unix socket %s", cfg.GRPC)
			}
		}
		if strings.HasPrefix(cfg.GRPC, "unix:") && strings.TrimPrefix(strings.TrimPrefix(cfg.GRPC, "unix://"), "unix:") == "" {
			dec.Errf(l.GRPC.Range(), "listen.grpc %q names no socket path", cfg.GRPC)
		}
	}
	if str(raw.LogLevel, "log_level", &cfg.LogLevel) {
		switch cfg.LogLevel {
		case "trace", "debug", "info", "warn", "error":
		default:
			dec.Errf(raw.LogLevel.Range(), "log_level %q is not one of trace, debug, info, warn, error", short(cfg.LogLevel))
		}
	}
	stderrSet := false
	for _, l := range raw.Log[:min(1, len(raw.Log))] {
		if str(l.File, "log.file", &cfg.LogFile) {
			cfg.LogFile = rel(cfg.LogFile)
		}
		var which string
		if str(l.Decisions, "log.decisions", &which) {
			switch which {
			case "all":
			case "changes":
				cfg.LogChanges = true
			default:
				dec.Errf(l.Decisions.Range(), "log.decisions %q is not \"all\" or \"changes\"", short(which))
			}
		}
		if v, ok := dec.Number(l.MaxMB, "log.max_size_mb", 1, 1<<20); ok {
			cfg.LogMaxMB = int(v)
		}
		if v, ok := dec.Number(l.Backups, "log.max_backups", 0, 1000); ok {
			cfg.LogBackups = int(v)
		}
		if v, ok := dec.Bool(l.Stderr, "log.stderr"); ok {
			cfg.LogStderr, stderrSet = v, true
		}
	}
	if !stderrSet {
		// Decisions go to the file when there is one, to stderr otherwise,
		// never to both unless asked.
		cfg.LogStderr = cfg.LogFile == ""
	}
	return cfg, dec.Diags
}

// SetNode names the host node from outside the file (`run -node`, or
// NS_AGENT_NODE from Kubernetes' downward API), replacing the file's
// node; a default socket path follows the new name.
func (c *FileConfig) SetNode(node string) {
	if c.GRPC == defaultGRPC(c.Node) {
		c.GRPC = defaultGRPC(node)
	}
	c.Node = node
}

func defaultGRPC(node string) string {
	return "unix://" + filepath.Join(DefaultSocketDir(), node+".sock")
}

// LoadConfig reads and parses an agent configuration file.
func LoadConfig(path string) (*FileConfig, hcl.Diagnostics) {
	src, err := configs.ReadFile(path, configs.MaxFileBytes)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: %v", path, err)}}
	}
	return ParseConfig(src, path)
}

// Bounds of the agent's own timing: a tick outside MinTick..MaxTick is
// refused by the host link, and a lease past MaxLeaseTTL would leave a
// host on a dead agent's decision for too long.
const (
	MinTick     = time.Millisecond
	MaxTick     = time.Minute
	MaxLeaseTTL = 10 * time.Minute
)

const maxNodeName = 128

func validNode(s string) bool {
	if len(s) > maxNodeName {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return s != "." && s != ".."
}

// short cuts a value for an error message.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
