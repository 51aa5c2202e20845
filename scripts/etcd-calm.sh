#!/usr/bin/env bash
# The calm, loaded machine: a calm 3-member etcd cluster on loopback with
# an agent (ns-agent run, hand-off on) beside each member for a while
# (default 10m), on whatever load the machine has. Prints each agent's
# hand-offs and advice changes, and the advice in force at the end.
#
#   scripts/etcd-calm.sh [DURATION] [MIN_EVIDENCE]     # e.g. 10m 1m
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10m}"
MINEV="${2:-1m}"
BIN=$(scripts/etcd-build.sh | tail -1)
WORK=$(mktemp -d)
go build -o "$WORK/ns-agent" ./cmd/ns-agent
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
secs=$(( $(date -d "1970-01-01 00:00:00 UTC + $(echo "$DUR" | sed 's/m/ minutes /;s/s$/ seconds/')" +%s) ))
"$WORK/ns-agent" etcd-cluster -etcd "$BIN" -members 3 -for "$((secs + 60))s" > "$WORK/cluster.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  [ "$(grep -c 'client http' "$WORK/cluster.out" || true)" = 3 ] && break
  sleep 0.5
done
i=0
while read -r name url _; do
  i=$((i + 1))
  cat > "$WORK/$name.hcl" <<HCL
node = "$name"
host {
  kind = "etcd"
  address = "$url"
  handoff = true
  advice_min_evidence = "$MINEV"
}
listen { grpc = "unix://$WORK/$name.sock" }
log {
  file = "$WORK/$name.jsonl"
  stderr = false
}
HCL
  "$WORK/ns-agent" run -config "$WORK/$name.hcl" > /dev/null 2>&1 &
  pids+=($!)
done < <(grep 'client http' "$WORK/cluster.out" | sed 's/^ *//;s/client //')
echo "3 members, an agent beside each (hand-off on, advice after $MINEV of evidence), for $DUR; logs in $WORK"
sleep "$secs"
for f in "$WORK"/m*.jsonl; do
  n=$(basename "$f" .jsonl)
  moves=$(grep -c 'moved leadership to' "$f" || true)
  planned=$(grep -c 'hand-off planned to' "$f" || true)
  flags=$(grep '"@message":"advice"' "$f" | grep -o -- '--heartbeat-interval=[0-9]* --election-timeout=[0-9]*' | uniq | wc -l)
  last=$(grep '"@message":"advice"' "$f" | tail -1 | sed 's/.*"advice":"\([^"]*\)".*/\1/')
  echo "$n: $moves hand-offs, $planned planned; advice logged $(grep -c '"@message":"advice"' "$f") times, $((flags > 0 ? flags - 1 : 0)) changes of the flags; in force: $last"
done
