#!/usr/bin/env bash
# What an agent costs beside its member: a calm 3-member etcd cluster on
# loopback with an agent (ns-agent run, hand-off on) beside each; after a
# warm-up, the CPU time (utime + stime from /proc/<pid>/stat) each agent
# and each etcd member used over a measured interval, in % of one core.
#
#   scripts/etcd-agent-cpu.sh [MEASURE] [AGENT_BINARY] [AGENTS]
#   # e.g. 60s, a prebuilt ns-agent, and "none" to measure the members alone
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-60s}"; SECS="${SECS%s}"
AGENT="${2:-}"
WITH="${3:-agents}"
BIN=$(scripts/etcd-build.sh | tail -1)
WORK=$(mktemp -d)
if [ -z "$AGENT" ]; then
  AGENT="$WORK/ns-agent"
  go build -o "$AGENT" ./cmd/ns-agent
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
"$AGENT" etcd-cluster -etcd "$BIN" -members 3 -for "$((SECS + 120))s" > "$WORK/cluster.out" 2>&1 &
cluster=$!
pids+=("$cluster")
for _ in $(seq 1 120); do
  [ "$(grep -c 'client http' "$WORK/cluster.out" || true)" = 3 ] && break
  sleep 0.5
done
agents=()
names=()
if [ "$WITH" != none ]; then
  while read -r name url _; do
    cat > "$WORK/$name.hcl" <<HCL
node = "$name"
host {
  kind = "etcd"
  address = "$url"
  handoff = true
}
listen { grpc = "unix://$WORK/$name.sock" }
log {
  file = "$WORK/$name.jsonl"
  stderr = false
}
HCL
    "$AGENT" run -config "$WORK/$name.hcl" > "$WORK/$name.out" 2>&1 &
    pids+=($!)
    agents+=($!)
    names+=("$name")
  done < <(grep 'client http' "$WORK/cluster.out" | sed 's/^ *//;s/client //')
fi
members=($(pgrep -P "$cluster" -x etcd || true))
sleep 20 # warm-up
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
declare -A before
for p in "${agents[@]}" "${members[@]}"; do before[$p]=$(ticks "$p"); done
sleep "$SECS"
i=0
for p in "${agents[@]}"; do
  echo "agent ${names[$i]} (pid $p): $(awk -v a="${before[$p]}" -v b="$(ticks "$p")" -v hz="$hz" -v s="$SECS" 'BEGIN{printf "%.2f%% of a core", 100*(b-a)/hz/s}')"
  i=$((i + 1))
done
for p in "${members[@]}"; do
  echo "etcd member (pid $p): $(awk -v a="${before[$p]}" -v b="$(ticks "$p")" -v hz="$hz" -v s="$SECS" 'BEGIN{printf "%.2f%% of a core", 100*(b-a)/hz/s}')"
done
echo "over ${SECS}s after 20s of warm-up, load average $(cut -d' ' -f1-3 /proc/loadavg); logs in $WORK"
