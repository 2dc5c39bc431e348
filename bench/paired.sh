#!/usr/bin/env bash
# Paired comparison of two Gatehouse configs: both gateways run at the same time, pinned to the
# same CPU (cpu0), each under its own wrk (-t1 -c50) on cpu1 with the bench upstream. Whatever
# else the machine does (a shared VM's neighbours, CPU frequency) hits both alike, so their ratio
# holds still where sequential runs drift by 10-20 %. A control run of a config against itself
# gives 1.00 ± 0.02 on the development VM.
#
#   bench/paired.sh [A.yaml] [B.yaml] [seconds] [rounds]   (defaults: bench/configs/quiet.yaml,
#                                                            bench/configs/observed.yaml, 10, 3)
#
# Prints per round: requests and gateway CPU µs per request of each, and B/A ratios. Needs wrk and
# taskset (apt-get install wrk util-linux; perf-compare installs them too) and a build (npx tsc).
# Configs get GH_PORT, GH_ADMIN_PORT, UPSTREAM_URL and ACCESS_LOG from the environment.
#
# Two builds of the same config (did a change help?): copy the old build inside the repo and name
# it, e.g. `cp -r dist dist-old; <change>; npx tsc -p .; A_DIST=dist-old bench/paired.sh X.yaml X.yaml`.
# A_DIST and B_DIST default to dist.
#
# MODE=steady (the default): after a 2 s cold-start run, one wrk run per gateway and round,
# WARMUP + seconds + 3 s long; the requests of the middle `seconds` are counted at the upstream
# (each gateway's requests carry its own path prefix, /a/ or /b/) with the gateway's CPU over the
# same span. So a config must send every request to the upstream once (a retry counts twice, a
# request the gateway answers itself not at all). No connection opens or closes inside the
# measured span: wrk's 50 connections closing at once abort 50 requests, and V8 then drops and
# recompiles code that had not seen those paths, more of it the more code a config runs
# (--trace-deopt lists the deopts; perf put compiling at 11 µs a request in `observed` and 5 in
# `quiet` in a 10 s run after a 20 s warm-up, under 1 in this mode).
# MODE=runs measures separate wrk runs instead (connections open at the start of the measured run
# and close at its end; wrk's answers are counted), as this script did before.
# WARMUP (seconds, default 5 in runs mode, 20 in steady mode) is load before the measured span.
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:-bench/configs/quiet.yaml}; B=${2:-bench/configs/observed.yaml}; D=${3:-10}; ROUNDS=${4:-3}
for c in wrk taskset; do command -v $c >/dev/null || { echo "paired.sh: $c is missing (apt-get install wrk util-linux)" >&2; exit 2; }; done
A_DIST=${A_DIST:-dist}; B_DIST=${B_DIST:-dist}; MODE=${MODE:-steady}
# REQ_QUERY: a query string for every request (e.g. an API key for bench/configs/keyed.yaml).
# REQ_BODY: every request is a POST of this JSON body (e.g. a GraphQL operation for
# bench/configs/graphql.yaml).
if [ "$MODE" = steady ]; then WARMUP=${WARMUP:-20}; else WARMUP=${WARMUP:-5}; fi
for d in "$A_DIST" "$B_DIST"; do [ -f "$d/src/cli/main.js" ] || { echo "paired.sh: no build in $d (npx tsc -p .)" >&2; exit 2; }; done
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; } # utime+stime in clock ticks

PORT=$(free_port) taskset -c 1 node dist/bench/upstream.js > "$tmp/up.port" & pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/up.port" ] && break; sleep 0.1; done
export UPSTREAM_URL="http://127.0.0.1:$(cat "$tmp/up.port")"
start() { # config, name, build -> pid; url in $tmp/name.url
  local port admin; port=$(free_port); admin=$(free_port)
  GH_PORT=$port GH_ADMIN_PORT=$admin ACCESS_LOG="$tmp/$2-access.log" taskset -c 0 node "$3/src/cli/main.js" start --config "$1" > "$tmp/$2.out" 2>&1 &
  echo "http://127.0.0.1:$port/$2/items/42${REQ_QUERY:+?$REQ_QUERY}" > "$tmp/$2.url"; echo $!
}
# load SECONDS OUT_A OUT_B: both gateways under their own wrk at once ($ua, $ub of the round)
WRK_SCRIPT=(); PROBE=()
if [ -n "${REQ_BODY:-}" ]; then
  node -e 'const b=process.argv[1]; console.log(`wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(b)}`)' "$REQ_BODY" > "$tmp/post.lua"
  WRK_SCRIPT=(-s "$tmp/post.lua"); PROBE=(-X POST -H 'content-type: application/json' --data-binary "$REQ_BODY")
fi
load() { taskset -c 1 wrk -t1 -c50 -d"$1s" "${WRK_SCRIPT[@]}" "$ua" > "$2" & local w=$!; taskset -c 1 wrk -t1 -c50 -d"$1s" "${WRK_SCRIPT[@]}" "$ub" > "$3"; wait $w; }
tick=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
  pa=$(start "$A" a "$A_DIST"); pb=$(start "$B" b "$B_DIST"); pids+=("$pa" "$pb")
  ua=$(cat "$tmp/a.url"); ub=$(cat "$tmp/b.url")
  for u in "$ua" "$ub"; do
    ok=0; for _ in $(seq 100); do curl -sf -o /dev/null "${PROBE[@]}" "$u" && { ok=1; break; }; sleep 0.1; done
    [ $ok = 1 ] || { echo "paired.sh: no 2xx from $u after 10 s (does the config route /a/* and /b/* to the upstream?)" >&2; cat "$tmp/a.out" "$tmp/b.out" >&2; exit 1; }
  done
  if [ "$MODE" = steady ]; then
    count() { curl -sf "$UPSTREAM_URL/__count/$1"; }
    count a > /dev/null; count b > /dev/null # starts the upstream's count of each prefix
    # A short first run takes the cold start (both gateways compiling while 50 connections wait:
    # answers of over a second, wrk's 2 s timeouts now and then), so the long run's figures don't.
    load 2 /dev/null /dev/null
    load $((WARMUP + D + 3)) "$tmp/wa" "$tmp/wb" & wl=$!
    sleep "$WARMUP"
    a0=$(cpu "$pa"); b0=$(cpu "$pb"); na0=$(count a); nb0=$(count b)
    sleep "$D"
    a1=$(cpu "$pa"); b1=$(cpu "$pb"); na1=$(count a); nb1=$(count b)
    wait $wl
    ra=$((na1 - na0)); rb=$((nb1 - nb0))
  else
    load "$WARMUP" /dev/null /dev/null
    a0=$(cpu "$pa"); b0=$(cpu "$pb")
    load "$D" "$tmp/wa" "$tmp/wb"
    a1=$(cpu "$pa"); b1=$(cpu "$pb")
    ra=$(awk '/requests in/{print $1}' "$tmp/wa"); rb=$(awk '/requests in/{print $1}' "$tmp/wb")
  fi
  kill "$pa" "$pb"; wait "$pa" "$pb" 2>/dev/null || true
  if [ "${ra:-0}" -le 0 ] || [ "${rb:-0}" -le 0 ]; then echo "paired.sh: round $r counted no requests (a: ${ra:-none}, b: ${rb:-none})" >&2; exit 1; fi
  for s in a b; do
    if grep -q "Non-2xx\|Socket errors" "$tmp/w$s"; then echo "round $r: errors at $s ($([ $s = a ] && basename "$A" || basename "$B")):"; grep -h "Non-2xx\|Socket errors" "$tmp/w$s"; fi
  done
  awk -v r="$r" -v ra="$ra" -v rb="$rb" -v ca="$((a1 - a0))" -v cb="$((b1 - b0))" -v t="$tick" -v A="$(basename "$A")" -v B="$(basename "$B")" 'BEGIN {
    ua = ca * 1e6 / t / ra; ub = cb * 1e6 / t / rb
    printf "round %d: %s %d req, %.1f CPU µs/req | %s %d req, %.1f CPU µs/req | B/A throughput %.3f, CPU/req %.3f\n", r, A, ra, ua, B, rb, ub, rb / ra, ub / ua }'
done
