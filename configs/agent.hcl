# ns-agent configuration for the agent beside one Raft node.
# Run it with:  ns-agent run -config configs/agent.hcl
# Relative paths are relative to this file. Only `node` is required.

# The host node's Raft server ID; it names the node in logs and metrics.
node = "n1"

# Which strategy proposes timeouts: lstm (the embedded model), linucb,
# jacobson, phi, static or random. The policy bounds every proposal.
recommender = "lstm"

# Safety bounds and rules (see docs/policy.md); default: the embedded
# policy (configs/policies/default.hcl). SIGHUP re-reads it.
# policy = "policies/wan.hcl"

# LSTM weights written by `ns-agent train`; default: the embedded ones.
# SIGHUP re-reads them.
# weights = "/etc/ns-agent/model.nsw"

# How often the host sends a sample and gets a decision (1ms to 1m).
tick = "100ms"

# Without a fresh decision for this long, the node returns to its own
# configured timing (the agent died, hung or lost its socket). At least
# two ticks, at most 10m.
lease_ttl = "1s"

# Operational messages (start, sessions, reloads, log trouble) go to
# stderr at this level: trace, debug, info, warn or error.
log_level = "info"

host {
  # hashicorp: a Go service on hashicorp/raft linked with
  # adapter/hashicorp; etcd-raft: a go.etcd.io/raft embedder whose tick
  # driver links with etcd.Connect (examples/etcdraft).
  kind = "hashicorp"
  # Leader hand-off (hashicorp, consul and etcd hosts; off by default):
  # a leader degrading on its own figures hands leadership to a follower
  # that is no worse, announced on Watch first, at most once per cooldown
  # cluster-wide. hashicorp/raft nodes also enable it in their adapter
  # (hashicorp.HandoffConfig, ns-agent node -handoff).
  # handoff          = true
  # handoff_cooldown = "60s"
}

listen {
  # The host connects here. A unix socket by default; "host:port" for
  # TCP, with an optional tls { cert_file key_file client_ca_file } block
  # (without client_ca_file any client gets in: the agent warns). The
  # socket's directory must be the agent's own (created 0750 if missing,
  # not writable by others); an existing file that is not a socket is
  # never replaced. Default: TMPDIR/ns-agent-UID/NODE.sock. One host
  # session at a time: a second connection is refused, never displaces it.
  grpc = "unix:///run/ns-agent/n1.sock"
  # The socket's mode whatever the umask (never world-writable), and its
  # group: the host's user must be in it when it runs as another user.
  socket_mode = "0660"
  # socket_group = "raft"
  # /metrics (Prometheus), /livez, /readyz, /healthz. Bound to loopback.
  http = "127.0.0.1:9464"
}

log {
  # One JSON line per decision, rotated by size into file.1 … file.N.
  # Records are written whole or not at all; a torn last line is cut off
  # at start. Write failures show in ns_agent_log_write_errors_total, make
  # /readyz fail and are said on stderr; what rotation deletes is counted
  # in ns_agent_log_rotated_away_bytes_total and said on stderr.
  file        = "/var/log/ns-agent/n1.decisions.jsonl"
  max_size_mb = 64
  max_backups = 5
  # Copy the decisions to stderr too (default: only without a file).
  stderr      = false
  # "all", or "changes": a record only when the decided timeout changes.
  decisions   = "all"
}
