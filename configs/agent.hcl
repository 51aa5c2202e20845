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

# How often the host sends a sample and gets a decision.
tick = "100ms"

# Without a fresh decision for this long, the node returns to its own
# configured timing (the agent died, hung or lost its socket).
lease_ttl = "1s"

host {
  # hashicorp: a Go service on hashicorp/raft linked with
  # adapter/hashicorp; etcd-raft: a go.etcd.io/raft embedder.
  kind = "hashicorp"
}

listen {
  # The host connects here. A unix socket by default; "host:port" for
  # TCP, with an optional tls { cert_file key_file client_ca_file } block.
  grpc = "unix:///run/ns-agent/n1.sock"
  # /metrics (Prometheus), /livez, /readyz, /healthz. Bound to loopback.
  http = "127.0.0.1:9464"
}

log {
  # One JSON line per decision, rotated by size.
  file        = "/var/log/ns-agent/n1.decisions.jsonl"
  max_size_mb = 64
  max_backups = 5
  stderr      = false
}
