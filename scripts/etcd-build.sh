#!/usr/bin/env bash
# Builds a real etcd server, the newest v3.5 patch the Go module proxy
# serves (or $ETCD_VERSION), from the module proxy alone, in a throw-away
# wrapper module whose main calls etcdmain.Main, and caches the binary.
# Prints the binary's path on its last line.
#
#   scripts/etcd-build.sh            # → $NSRAFT_CACHE/etcd-v3.5.N/etcd
#
# `go install go.etcd.io/etcd/server/v3` cannot build it: etcd's go.mod
# files carry replace directives.
set -euo pipefail
if [ -z "${ETCD_VERSION:-}" ]; then
  ETCD_VERSION=$(cd "$(mktemp -d)" && go list -m -versions go.etcd.io/etcd/server/v3 | tr ' ' '\n' | grep '^v3\.5\.[0-9]*$' | sort -V | tail -1)
fi
CACHE="${NSRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsraft}"
OUT="$CACHE/etcd-$ETCD_VERSION"
# Captured whole, then matched: `| grep -q` under pipefail can fail by
# SIGPIPE on a good binary and trigger a needless rebuild.
if [ -x "$OUT/etcd" ]; then
  have=$("$OUT/etcd" --version 2>/dev/null || true)
  case "$have" in
  *"etcd Version: ${ETCD_VERSION#v}"*) echo "$OUT/etcd"; exit 0 ;;
  esac
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cat > main.go <<'GO'
// Command etcd is etcd's server, built from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
go mod init etcdwrapper >&2
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
go mod tidy >&2
mkdir -p "$OUT"
go build -o "$OUT/etcd.tmp" . >&2
mv "$OUT/etcd.tmp" "$OUT/etcd"
"$OUT/etcd" --version >&2
echo "$OUT/etcd"
