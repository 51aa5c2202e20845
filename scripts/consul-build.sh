#!/usr/bin/env bash
# Builds a real Consul server, v1.16.1 (the last MPL-2.0 release line),
# from the Go module proxy alone, in a throw-away wrapper module, and
# caches the binary. Prints the binary's path on its last line.
#
#   scripts/consul-build.sh            # → $NSRAFT_CACHE/consul-v1.16.1/consul
#
# Consul's own go.mod replaces its nested modules (api, sdk, …) with local
# directories, so `go install` cannot build it; the wrapper requires them at
# the versions Consul v1.16.1 names instead. Two of Consul's dependencies
# are not in the checksum database: hcp-sdk-go is verified by Consul's own
# go.sum (seeded below); consul/envoyextensions v0.4.1 is exempted with
# GONOSUMDB and otherwise trusted as served by the module proxy.
set -euo pipefail
VERSION=v1.16.1
CACHE="${NSRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsraft}"
OUT="$CACHE/consul-$VERSION"
# The version is captured whole before it is matched: piping it into
# `grep -q` under pipefail fails whenever grep exits before consul has
# written everything (SIGPIPE), which rebuilt a good binary at random.
if [ -x "$OUT/consul" ]; then
  have=$("$OUT/consul" version 2>/dev/null || true)
  case "$have" in
  *"Consul ${VERSION}"*) echo "$OUT/consul"; exit 0 ;;
  esac
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/hashicorp/consul/envoyextensions"
export GOFLAGS=-mod=mod
MOD="$(go env GOMODCACHE)"
go mod download "github.com/hashicorp/consul@$VERSION"
install -m 0644 "$MOD/github.com/hashicorp/consul@$VERSION/main.go" main.go
install -m 0644 "$MOD/github.com/hashicorp/consul@$VERSION/go.sum" go.sum
cat > go.mod <<'MOD'
module consulwrapper

go 1.20

exclude (
	github.com/hashicorp/go-msgpack v1.1.5
	github.com/hashicorp/go-msgpack v1.1.6
)
MOD
go get "github.com/hashicorp/consul@$VERSION" \
  github.com/hashicorp/consul/api@v1.24.0 github.com/hashicorp/consul/sdk@v0.14.1 \
  github.com/hashicorp/consul/proto-public@v0.4.1 github.com/hashicorp/consul/envoyextensions@v0.4.1 \
  github.com/hashicorp/consul/troubleshoot@v0.3.1 >&2
go mod tidy >&2
mkdir -p "$OUT"
go build -o "$OUT/consul.tmp" . >&2
mv "$OUT/consul.tmp" "$OUT/consul"
"$OUT/consul" version >&2
echo "$OUT/consul"
