#!/usr/bin/env bash
# gRPC through Gatehouse, with Debian's h2load (apt-get install nghttp2-client), on 127.0.0.1 only:
#
#   direct       h2load → the gRPC service (@grpc/grpc-js, h2c): unary Echo calls
#   via-grpc     h2load → Gatehouse (h2c listener) → the gRPC service over h2c: the same calls
#   via-plain    h2load → Gatehouse → an HTTP/2 service (bench/h2-upstream.ts): a plain POST of
#                the same bytes, a plain HTTP proxied request beside the gRPC one
#   via-json     h2load → Gatehouse → the gRPC service: POST /v1/echo {"text":"hello"} transcoded
#                (grpc-transcode, from test/fixtures/echo.proto) into the same call, and back to JSON
#   via-web      h2load → Gatehouse → the gRPC service: the same call in gRPC-Web (grpc-web policy)
#
#   bench/grpc-compare.sh [seconds] [clients] [streams per client]   (defaults 10, 10, 10)
#
# As bench/h2-compare.sh: WARMUP (2) seconds of load, then `seconds` measured with h2load's
# bounded duration (-D); the gateway pinned to cpu0, services and h2load to cpu1. Prints requests/s
# and the gateway's CPU µs per request for each. Needs a build (npx tsc -p .), h2load and taskset,
# and the dev dependencies (@grpc/grpc-js, @grpc/proto-loader).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-10}; C=${2:-10}; M=${3:-10}; WARMUP=${WARMUP:-2}
for c in h2load taskset; do command -v $c >/dev/null || { echo "grpc-compare.sh: $c is missing (apt-get install nghttp2-client util-linux)" >&2; exit 2; }; done
[ -f dist/bench/grpc-upstream.js ] || { echo "grpc-compare.sh: no build (npx tsc -p .)" >&2; exit 2; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)

# One gRPC message (uncompressed, 7 bytes): EchoRequest { text: "hello" }.
printf '\x00\x00\x00\x00\x07\x0a\x05hello' > "$tmp/call.bin"
printf '{"text":"hello"}' > "$tmp/call.json"
taskset -c 1 node dist/bench/grpc-upstream.js > "$tmp/grpc.port" & pids+=($!)
taskset -c 1 node dist/bench/h2-upstream.js > "$tmp/h2" & pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/grpc.port" ] && [ -s "$tmp/h2" ] && break; sleep 0.1; done
GRPC=$(cat "$tmp/grpc.port"); read -r _ H2 _ _ < "$tmp/h2"

port=$(free_port); admin=$(free_port)
cat > "$tmp/gw.yaml" <<YAML
workers: 1
accessLog: false
metrics: { enabled: false }
log: { level: warn }
listen: [{ port: $port, host: 127.0.0.1, http2: true }]
admin: { port: $admin, host: 127.0.0.1 }
server: { maxRequestsPerSocket: 0 }
services:
  echo: { protocol: h2c, targets: [{ url: "http://127.0.0.1:$GRPC" }] }
  plain: { protocol: h2c, targets: [{ url: "http://127.0.0.1:$H2" }] }
routes:
  - { name: grpc, match: { grpc: { service: gatehouse.test.Echo } }, service: echo }
  - { name: plain, match: { paths: ["/plain/*"] }, service: plain }
  - name: json
    match: { paths: ["/v1/echo"] }
    service: echo
    policies:
      - type: grpc-transcode
        protos: [test/fixtures/echo.proto]
        services: [gatehouse.test.Echo]
        rules: [{ selector: gatehouse.test.Echo.Unary, post: /v1/echo, body: "*" }]
  - { name: web, match: { paths: ["/gatehouse.test.Echo/*"] }, service: echo, policies: [{ type: grpc-web }] }
YAML
taskset -c 0 node dist/src/cli/main.js start --config "$tmp/gw.yaml" > "$tmp/gw.out" 2>&1 & gw=$!; pids+=($gw)
for _ in $(seq 100); do curl -sf --http2-prior-knowledge -o /dev/null "http://127.0.0.1:$port/plain/x" && break; sleep 0.1; done

GRPC_HEADERS=(-H 'content-type: application/grpc' -H 'te: trailers')
measure() { # name url pid [h2load options…]
  local name=$1 url=$2 pid=$3; shift 3
  local body=${BODY:-$tmp/call.bin}
  taskset -c 1 h2load -D "$WARMUP" -c "$C" -m "$M" -d "$body" "$@" "$url" > /dev/null
  local c0=0; [ "$pid" != - ] && c0=$(cpu "$pid")
  taskset -c 1 h2load -D "$D" -c "$C" -m "$M" -d "$body" "$@" "$url" > "$tmp/$name.h2load"
  local c1=0; [ "$pid" != - ] && c1=$(cpu "$pid")
  local rps done us="-"
  rps=$(awk '/^finished in/ {print $4}' "$tmp/$name.h2load")
  done=$(awk '/^requests:/ {print $8}' "$tmp/$name.h2load")
  [ "$pid" != - ] && us=$(awk -v c=$((c1 - c0)) -v t="$tick" -v n="$done" 'BEGIN { printf "%.1f", c * 1e6 / t / n }')
  printf '%-10s %9.0f req/s  %s answered  gateway CPU %s µs/req\n' "$name" "$rps" "$done" "$us"
  grep -q ' 0 failed, 0 errored' "$tmp/$name.h2load" || { echo "$name: errors"; grep -E '^(requests|status codes):' "$tmp/$name.h2load"; }
}
echo "h2load -c $C -m $M, ${D}s measured after ${WARMUP}s (node $(node --version), $(h2load --version | head -1))"
measure direct "http://127.0.0.1:$GRPC/gatehouse.test.Echo/Unary" - "${GRPC_HEADERS[@]}"
measure via-grpc "http://127.0.0.1:$port/gatehouse.test.Echo/Unary" "$gw" "${GRPC_HEADERS[@]}"
measure via-plain "http://127.0.0.1:$port/plain/items/42" "$gw" -H 'content-type: application/octet-stream'
BODY="$tmp/call.json" measure via-json "http://127.0.0.1:$port/v1/echo" "$gw" -H 'content-type: application/json'
measure via-web "http://127.0.0.1:$port/gatehouse.test.Echo/Unary" "$gw" -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1'
