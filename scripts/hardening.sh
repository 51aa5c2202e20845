#!/usr/bin/env bash
# Re-runs the hostile-operator table of docs/hardening.md against an
# ns-agent binary: every row that a shell can reproduce, with what happened
# (exit code, first line of output, wall time and peak RSS). The rows that
# need a host, a flood or a patched weights file are go tests; with -tests
# the script runs those too.
#
#   scripts/hardening.sh [-tests] [BINARY]     (default: builds ./cmd/ns-agent)
set -uo pipefail
cd "$(dirname "$0")/.."
tests=0
if [ "${1:-}" = "-tests" ]; then tests=1; shift; fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
chmod 700 "$work"
bin=${1:-}
if [ -z "$bin" ]; then
  bin="$work/ns-agent"
  go build -o "$bin" ./cmd/ns-agent || exit 1
fi

# measure NAME CMD...: runs CMD, prints exit code, wall time, peak RSS and
# the first line of its output.
measure() {
  local name=$1; shift
  local out="$work/out" tm="$work/time"
  /usr/bin/time -f '%e %M' -o "$tm" "$@" >"$out" 2>&1
  local rc=$?
  read -r secs kb < <(tail -1 "$tm") 2>/dev/null || { secs=?; kb=?; }
  case $kb in ''|*[!0-9]*) kb=?;; esac
  [ "$kb" != "?" ] && kb=$((kb / 1024))
  printf '%-44s exit %s, %ss, %s MB: %s\n' "$name" "$rc" "$secs" "$kb" \
    "$(grep -v -e '^\s*$' -e '^{"@level":"info"' "$out" | head -1 | cut -c1-150)"
}

# A good agent configuration in $work/NAME/, with the policy and listen
# lines given.
agent_conf() { # dir policy-line listen-lines
  mkdir -p "$1"; chmod 700 "$1"
  printf 'node = "n1"\n%s\nlisten {\n%s\n  http = "127.0.0.1:0"\n}\nlog {\n  file = "%s/d.jsonl"\n  stderr = false\n}\n' \
    "${2:-}" "${3:-  grpc = \"unix://$1/n1.sock\"}" "$1" >"$1/a.hcl"
}

# start_agent DIR: starts `run` in the background and waits for its socket
# or its exit; sets pid.
start_agent() {
  "$bin" run -config "$1/a.hcl" >"$1/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "ready:" "$1/out" 2>/dev/null && return 0
    kill -0 $pid 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

echo "== parsing: size, depth, FIFOs"
python3 -c "print('name = \"deep\"\nx = ' + '('*100000 + '1' + ')'*100000)" >"$work/parens-100k.hcl"
python3 -c "print('name = \"deep\"\nx = ' + '('*30000 + '1' + ')'*30000)" >"$work/parens-30k.hcl"
python3 -c "
import sys
with open('$work/comment-200mb.hcl', 'w') as f:
    line = '# ' + 'x' * 1022 + '\n'
    for _ in range(200 * 1024): f.write(line)"
measure "validate: 100,000 nested parens (200 KB)" "$bin" validate "$work/parens-100k.hcl"
measure "validate: 30,000 nested parens (60 KB)" "$bin" validate "$work/parens-30k.hcl"
measure "validate: 200 MB comment-only file" "$bin" validate "$work/comment-200mb.hcl"
rm -f "$work/comment-200mb.hcl"
mkfifo "$work/fifo.hcl"
measure "validate: a FIFO as the policy" timeout 10 "$bin" validate "$work/fifo.hcl"
agent_conf "$work/fifo" "policy = \"$work/fifo.hcl\""
measure "run: a FIFO as the policy" timeout 10 "$bin" run -config "$work/fifo/a.hcl"
agent_conf "$work/deep" "policy = \"$work/parens-30k.hcl\""
measure "run: 30,000 nested parens as the policy" "$bin" run -config "$work/deep/a.hcl"

echo "== SIGHUP with a broken policy"
cp configs/policies/default.hcl "$work/pol.hcl"
agent_conf "$work/hup" "policy = \"$work/pol.hcl\""
if start_agent "$work/hup"; then
  for bad in parens-100k parens-30k; do
    cp "$work/$bad.hcl" "$work/pol.hcl"
    kill -HUP $pid; sleep 2
    if kill -0 $pid 2>/dev/null; then
      printf '%-44s still running; %s\n' "SIGHUP: $bad" "$(grep -c 'reload failed' "$work/hup/out") reload(s) refused so far"
    else
      printf '%-44s DIED: %s\n' "SIGHUP: $bad" "$(tail -3 "$work/hup/out")"
    fi
  done
  grep -o '"error":"[^"]\{0,120\}' "$work/hup/out" | head -2 | sed 's/^/    /'
  kill -TERM $pid; wait $pid
  printf '%-44s exit %s after SIGTERM\n' "" $?
else
  echo "agent did not start: $(cat "$work/hup/out")"
fi

echo "== agent configuration mistakes"
for body in 'tick = "1ns"' 'tick = "100000h"' 'lease_ttl = "1000h"' 'listen {
  grpc = "127.0.0.1:0"
  tls {
    cert_file = "c.pem"
    key_file  = "k.pem"
  }
}'; do
  printf 'node = "n1"\n%s\n' "$body" >"$work/bad.hcl"
  label="validate: $(echo "$body" | head -1)"
  case $body in *tls*) label="validate: tls without client_ca_file";; esac
  measure "$label" "$bin" validate "$work/bad.hcl"
done
printf 'listen {\n  grpc = "unix://%s/x.sock"\n}\n' "$work" >"$work/nonode.hcl"
measure "run: a config with no node" "$bin" run -config "$work/nonode.hcl"
printf 'name = "lease"\nbounds {\n  election_min = "100ms"\n  election_max = "5s"\n}\nhost {\n  kind = "hashicorp"\n  leader_lease_timeout = "1ms"\n}\n' >"$work/lease.hcl"
measure "validate: leader_lease_timeout = 1ms" "$bin" validate "$work/lease.hcl"

echo "== sockets"
mkdir -p "$work/sock"; chmod 700 "$work/sock"
echo "raft log" >"$work/sock/raft.db"
agent_conf "$work/sock" "" "  grpc = \"unix://$work/sock/raft.db\""
measure "run: listen.grpc at an existing file" "$bin" run -config "$work/sock/a.hcl"
printf '%-44s %s\n' "" "raft.db afterwards: $(cat "$work/sock/raft.db")"
for u in 000 022 077; do
  agent_conf "$work/umask$u"
  (umask $u; exec "$bin" run -config "$work/umask$u/a.hcl" >"$work/umask$u/out" 2>&1) &
  pid=$!
  for _ in $(seq 100); do [ -S "$work/umask$u/n1.sock" ] && break; sleep 0.1; done
  printf '%-44s socket mode %s, directory %s\n' "run under umask $u" \
    "$(stat -c %a "$work/umask$u/n1.sock" 2>/dev/null || echo none)" "$(stat -c %a "$work/umask$u")"
  kill $pid; wait $pid 2>/dev/null
done
shared=$(mktemp -d); chmod 1777 "$shared"
agent_conf "$work/shared" "" "  grpc = \"unix://$shared/n1.sock\""
measure "run: socket in a world-writable directory" "$bin" run -config "$work/shared/a.hcl"
rmdir "$shared"
mkdir -p "$work/tls"; chmod 700 "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$work/tls/k.pem" -out "$work/tls/c.pem" -days 1 >/dev/null 2>&1
agent_conf "$work/tls" "" '  grpc = "127.0.0.1:0"
  tls {
    cert_file = "c.pem"
    key_file  = "k.pem"
  }'
if [ -s "$work/tls/c.pem" ] && start_agent "$work/tls"; then
  printf '%-44s %s\n' "run: tls without client_ca_file" "$(grep -o 'listen.grpc has tls without client_ca_file[^;]*' "$work/tls/out" | head -1)"
  kill $pid; wait $pid
else
  printf '%-44s %s\n' "run: tls without client_ca_file" "not run (openssl or the agent: $(head -2 "$work/tls/out" 2>/dev/null))"
fi

echo "== the decision log"
mkdir -p "$work/log"; chmod 700 "$work/log"; echo "a file" >"$work/log/notadir"
printf 'node = "n1"\nlisten {\n  grpc = "unix://%s/log/n1.sock"\n}\nlog {\n  file = "%s/log/notadir/d.jsonl"\n  stderr = true\n}\n' "$work" "$work" >"$work/log/a.hcl"
measure "run: log directory unusable" "$bin" run -config "$work/log/a.hcl"

if [ $tests = 1 ]; then
  echo "== the rows that need a host, a flood or a crafted file (go test)"
  go test -count=1 -run 'TestHostileFilesAreErrors|TestLeaderLeaseBelowHashicorpLimit|TestGovernorResync|TestGovernorFloodCannotRushDecreases|TestFutureSampleIsStale|TestBadTelemetryHoldsLastSafeValue|TestGovernorCountsCalmTime' ./policy
  go test -count=1 -run 'TestHugeWeightsAreRefused|TestWeightsRoundTripAndErrors' ./model
  go test -count=1 -run 'TestReadFileBoundsSize|TestReadFileRefusesFIFOWithoutBlocking|TestCheckLimits' ./configs
  go test -count=1 -run 'TestHostStringsAreBounded|TestLivePagesAreCapped|TestWatchStreamsAreCapped|TestSecondConnectDoesNotDisplaceTheHost|TestStepLimitsFollowTheHostsValue|TestSocket|TestListen|TestDashboardControlsRefuseOtherSites|TestLoopbackOnly|TestRecordLog|TestLog|TestNonFiniteTelemetryIsLogged|TestDecisionLogRotates|TestReloadKeepsOldPolicyOnError|TestBadAgentConfigIsPositioned' ./agent
fi
