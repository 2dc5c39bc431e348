#!/usr/bin/env bash
# The cost of a composite route (docs/aggregation.md) against the same three calls made by the
# client itself through a plain proxy route. Two gateways run at once, pinned to cpu0, each under
# its own wrk (-t1 -c50) on cpu1 with the bench upstream, as bench/paired.sh does:
#   A: bench/configs/quiet.yaml, loaded with three different paths in turn (the client's three calls);
#   B: bench/configs/compose.yaml, one composite request making the same three calls in parallel.
# Prints per round: gateway CPU µs per proxied request (×3 = the client's three calls), per
# composite request, and their ratio; and the client's latency (wrk's average) of each.
#
#   bench/compose.sh [seconds] [rounds]        (defaults: 10, 3; needs wrk, taskset and npx tsc -p .)
#
# BATCH=1 measures a batch route instead (bench/configs/batch.yaml): one POST /batch of the three
# requests, each dispatched in process to the plain route.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-10}; ROUNDS=${2:-3}; WARMUP=${WARMUP:-5}
for c in wrk taskset; do command -v $c >/dev/null || { echo "compose.sh: $c is missing (apt-get install wrk util-linux)" >&2; exit 2; }; done
[ -f dist/src/cli/main.js ] || { echo "compose.sh: no build (npx tsc -p .)" >&2; exit 2; }
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
cat > "$tmp/batch.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '[{"path":"/a/items/42"},{"path":"/b/items/42"},{"path":"/c/items/42"}]'
LUA
cat > "$tmp/three.lua" <<'LUA'
-- The client's own three calls, in turn on each connection.
local paths = { "/a/items/42", "/b/items/42", "/c/items/42" }
local i = 0
request = function()
  i = i % 3 + 1
  return wrk.format("GET", paths[i])
end
LUA
PORT=$(free_port) taskset -c 1 node dist/bench/upstream.js > "$tmp/up.port" & pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/up.port" ] && break; sleep 0.1; done
export UPSTREAM_URL="http://127.0.0.1:$(cat "$tmp/up.port")"
start() { # config name -> pid; base url in $tmp/name.url
  local port admin; port=$(free_port); admin=$(free_port)
  GH_PORT=$port GH_ADMIN_PORT=$admin taskset -c 0 node dist/src/cli/main.js start --config "$1" > "$tmp/$2.out" 2>&1 &
  echo "http://127.0.0.1:$port" > "$tmp/$2.url"; echo $!
}
tick=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
  if [ "${BATCH:-0}" = 1 ]; then cb=bench/configs/batch.yaml; pathb=/batch; sb=(-s "$tmp/batch.lua"); else cb=bench/configs/compose.yaml; pathb=/items/42; sb=(); fi
  pa=$(start bench/configs/quiet.yaml proxy); pb=$(start "$cb" composite); pids+=("$pa" "$pb")
  ua=$(cat "$tmp/proxy.url"); ub=$(cat "$tmp/composite.url")$pathb
  for u in "$ua/a/items/42" "$(cat "$tmp/composite.url")/a/items/42"; do
    ok=0; for _ in $(seq 100); do curl -sf -o /dev/null "$u" && { ok=1; break; }; sleep 0.1; done
    [ $ok = 1 ] || { echo "compose.sh: no 2xx from $u" >&2; cat "$tmp/proxy.out" "$tmp/composite.out" >&2; exit 1; }
  done
  if [ "${BATCH:-0}" = 1 ]; then
    curl -sf -H 'content-type: application/json' -d '[{"path":"/a/items/42"},{"path":"/b/items/42"},{"path":"/c/items/42"}]' "$ub" | grep -q '^\[{"status":200' || { echo "compose.sh: the batch's answer is not three entries" >&2; exit 1; }
  else
    curl -sf "$ub" | grep -q '"a":{' || { echo "compose.sh: the composite's answer is not {a,b,c}" >&2; exit 1; }
  fi
  load() { taskset -c 1 wrk -t1 -c50 -d"$1s" -s "$tmp/three.lua" "$ua" > "$2" & local w=$!; taskset -c 1 wrk -t1 -c50 -d"$1s" "${sb[@]}" "$ub" > "$3"; wait $w; }
  load "$WARMUP" /dev/null /dev/null
  a0=$(cpu "$pa"); b0=$(cpu "$pb")
  load "$D" "$tmp/wa" "$tmp/wb"
  a1=$(cpu "$pa"); b1=$(cpu "$pb")
  kill "$pa" "$pb"; wait "$pa" "$pb" 2>/dev/null || true
  for s in a b; do grep -q "Non-2xx\|Socket errors" "$tmp/w$s" && { echo "round $r: errors at $s:"; grep -h "Non-2xx\|Socket errors" "$tmp/w$s"; }; done
  ra=$(awk '/requests in/{print $1}' "$tmp/wa"); rb=$(awk '/requests in/{print $1}' "$tmp/wb")
  la=$(awk '/Latency/{print $2; exit}' "$tmp/wa"); lb=$(awk '/Latency/{print $2; exit}' "$tmp/wb")
  awk -v r="$r" -v ra="$ra" -v rb="$rb" -v ca="$((a1 - a0))" -v cb="$((b1 - b0))" -v t="$tick" -v la="$la" -v lb="$lb" -v K="$([ "${BATCH:-0}" = 1 ] && echo batch || echo composite)" 'BEGIN {
    ua = ca * 1e6 / t / ra; ub = cb * 1e6 / t / rb
    printf "round %d: proxied %d req, %.1f CPU µs/req (x3 = %.1f), latency %s | %s %d req, %.1f CPU µs/req, latency %s | %s / three proxied: %.2f\n", r, ra, ua, 3 * ua, la, K, rb, ub, lb, K, ub / (3 * ua) }'
done
