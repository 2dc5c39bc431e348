#!/usr/bin/env bash
# HTTP/2 through Gatehouse against HTTP/2 straight to the service, with Debian's h2load
# (apt-get install nghttp2-client), on 127.0.0.1 only:
#
#   direct     h2load → the service (h2c)
#   via-h2c    h2load → Gatehouse (h2c listener) → the service over h2c (services.*.protocol: h2c)
#   via-http1  h2load → Gatehouse (h2c listener) → the service over HTTP/1.1 (the default)
#
#   bench/h2-compare.sh [seconds] [clients] [streams per client]   (defaults 10, 10, 10)
#   GATEWAY_DIST=dir runs the gateway from another build (an A/B of two commits)
#
# Each target gets WARMUP (2) seconds of load, then `seconds` measured, with h2load's bounded
# duration (-D). The gateway runs pinned to cpu0, the service and h2load to cpu1 (taskset), as
# bench/paired.sh does, so the gateway's CPU is its own. Prints requests/s, mean time per request
# and the gateway's CPU µs per request for each, and the ratios against `direct`. Needs a build
# (npx tsc -p .), h2load and taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-10}; C=${2:-10}; M=${3:-10}; WARMUP=${WARMUP:-2}
for c in h2load taskset; do command -v $c >/dev/null || { echo "h2-compare.sh: $c is missing (apt-get install nghttp2-client util-linux)" >&2; exit 2; }; done
[ -f dist/bench/h2-upstream.js ] || { echo "h2-compare.sh: no build (npx tsc -p .)" >&2; exit 2; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)

taskset -c 1 node dist/bench/h2-upstream.js > "$tmp/up" & pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/up" ] && break; sleep 0.1; done
read -r _ H2 _ H1 < "$tmp/up"

gateway() { # name protocol url -> pid, port in $tmp/name.port
  local port admin; port=$(free_port); admin=$(free_port)
  cat > "$tmp/$1.yaml" <<YAML
workers: 1
accessLog: false
metrics: { enabled: false }
log: { level: warn }
listen: [{ port: $port, host: 127.0.0.1, http2: true }]
admin: { port: $admin, host: 127.0.0.1 }
server: { maxRequestsPerSocket: 0 }
services:
  up: { protocol: $2, targets: [{ url: "$3" }] }
routes:
  - { name: all, match: { paths: ["/*"] }, service: up }
YAML
  taskset -c 0 node "${GATEWAY_DIST:-dist}/src/cli/main.js" start --config "$tmp/$1.yaml" > "$tmp/$1.out" 2>&1 & pids+=($!)
  echo "$port" > "$tmp/$1.port"
  for _ in $(seq 100); do curl -sf --http2-prior-knowledge -o /dev/null "http://127.0.0.1:$port/items/42" && return 0; sleep 0.1; done
  echo "h2-compare.sh: gateway $1 did not answer" >&2; cat "$tmp/$1.out" >&2; exit 1
}

measure() { # name url [pid]
  taskset -c 1 h2load -D "$WARMUP" -c "$C" -m "$M" "$2" > /dev/null
  local c0=0; [ -n "${3:-}" ] && c0=$(cpu "$3")
  taskset -c 1 h2load -D "$D" -c "$C" -m "$M" "$2" > "$tmp/$1.h2load"
  local c1=0; [ -n "${3:-}" ] && c1=$(cpu "$3")
  local rps mean ok
  rps=$(awk '/^finished in/ {print $4}' "$tmp/$1.h2load")
  mean=$(awk '/^time for request:/ {print $6}' "$tmp/$1.h2load")
  ok=$(awk '/^status codes:/ {print $3}' "$tmp/$1.h2load")
  local done; done=$(awk '/^requests:/ {print $8}' "$tmp/$1.h2load")
  local us="-"; [ -n "${3:-}" ] && us=$(awk -v c=$((c1 - c0)) -v t="$tick" -v n="$done" 'BEGIN { printf "%.1f", c * 1e6 / t / n }')
  echo "$1 $rps $mean $ok $done $us"
}

gateway via-h2c h2c "http://127.0.0.1:$H2"; gh2=${pids[-1]}
gateway via-http1 http1 "http://127.0.0.1:$H1"; gh1=${pids[-1]}
{
  measure direct "http://127.0.0.1:$H2/items/42"
  measure via-h2c "http://127.0.0.1:$(cat "$tmp/via-h2c.port")/items/42" "$gh2"
  measure via-http1 "http://127.0.0.1:$(cat "$tmp/via-http1.port")/items/42" "$gh1"
} > "$tmp/results"
echo "h2load -c $C -m $M, ${D}s measured after ${WARMUP}s (node $(node --version), $(h2load --version | head -1))"
awk 'NR == 1 { base = $2 }
  { printf "%-10s %9.0f req/s  mean %-8s  2xx %s of %s  gateway CPU %s µs/req  throughput %.2fx direct\n", $1, $2, $3, $4, $5, $6, $2 / base }' "$tmp/results"
# Anything but 2xx is a failed run: show h2load's own summary.
for f in "$tmp"/*.h2load; do grep -q '^status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx' "$f" && grep -q ' 0 failed, 0 errored' "$f" || { echo "$(basename "$f" .h2load): errors"; grep -E '^(requests|status codes):' "$f"; }; done
