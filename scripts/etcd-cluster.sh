#!/usr/bin/env bash
# Builds etcd (scripts/etcd-build.sh, cached) and starts an N-member etcd
# cluster on loopback, each member's peer listener behind its own toxiproxy
# proxy. Extra arguments go to `ns-agent etcd-cluster` (e.g. -for 10s,
# -latency 50ms).
#
#   scripts/etcd-cluster.sh 3
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-3}"
shift || true
BIN=$(scripts/etcd-build.sh | tail -1)
exec go run ./cmd/ns-agent etcd-cluster -etcd "$BIN" -members "$N" "$@"
