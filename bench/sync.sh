#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sync: how soon a change reaches a destination, and how fast one
# destination drains the ledger, each beside a baseline measured in the same
# run. Usage: bench/sync.sh BUILD_DIR [EVENTS]   (EVENTS default 100000)
#
# 1. Change → webhook at 1 000 events/s. cpmd (a fresh data directory,
#    `cpm seed bench/population-seed.json`, --outbound-allow=127.0.0.1/32)
#    takes consent POSTs (one decision, a new subject each) from
#    bench/sync_load.mjs at a steady RATE for RUN_SECONDS: keep-alive, up to
#    INFLIGHT requests outstanding, each issued at its wall-clock slot; the
#    rate actually achieved is shown. The baseline is that load with no
#    destination: the write latency alone (request → 201, the commit
#    included), run before and after the sync run, the better p99 kept. Then
#    a webhook destination points at bench/sync_receiver.mjs (Node, answers
#    204), and after a warm-up the same load runs again: the receiver
#    records now − the CloudEvent's `time` (when cpmd recorded the event,
#    same clock) for every delivery; cpmd's own view is the
#    cpm_sync_acknowledged_after_seconds histogram from /metrics, taken
#    before and after the run and subtracted. Target: p99 ≤ 100 ms.
# 2. One webhook destination's throughput. A second fresh cpmd takes EVENTS
#    consent events (POSTs of four decisions, a new subject each, 64 in
#    flight); nginx answers `return 204` on /hook. A destination created with
#    "from_seq": 1 is timed from its POST until GET /v1/destinations/{id}
#    shows its cursor at the ledger's end (lag_events 0): delivered events/s,
#    and the longest the cursor stood still meanwhile ("stall").
#    Baseline: wrk -t2 -c32 POSTing the body of a real delivery (with the
#    webhook headers) to the same nginx location for WRK_SECONDS, before and
#    after, the better kept: the receiver's own capacity with as many
#    requests in flight as cpmd's 32 lanes. Target: ≥ 10 000 events/s.
# 3. JetStream publish with acks. nats-server -js on a free loopback port, a
#    temporary store; stream CPM over cpm.> (cpmd never creates streams) and
#    BASE over base.>. A `kind: "nats"` destination with "from_seq": 1 over
#    the same events is timed the same way. Baseline: cpm-bench-nats-pub
#    (bench/sync_nats_pub.c: nats.c's async publish with an ack handler, as
#    cpmd publishes) sending EVENTS messages of the same body to BASE, each
#    with its own Nats-Msg-Id, at most NATS_WINDOW acks outstanding (as
#    cpmd's 32 lanes), before and after, the better kept; and once with
#    NATS_WINDOW_WIDE outstanding (the server's capacity). No target is set;
#    the ratio is shown.
#
# Needs node >= 20, wrk, nginx, nats-server and the nats npm package in
# tests/node_modules (`make test` and `make bench` install both;
# sync_nats.mjs makes the streams with it). A measurement, not a test: it
# exits 0 whatever the figures, and non-zero only when it could not measure
# (or a delivery went missing). Everything it starts is stopped on exit and
# its temporary directory removed.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly RATE=1000 RUN_SECONDS=20 WARMUP_SECONDS=3 INFLIGHT=32
readonly FILL_DECISIONS=4 FILL_INFLIGHT=64
readonly WRK_THREADS=2 WRK_CONNECTIONS=32 WRK_SECONDS=5
readonly NATS_WINDOW=32 NATS_WINDOW_WIDE=256
readonly TARGET_P99_MS=100 TARGET_WEBHOOK_EPS=10000
readonly START_TIMEOUT_S=10 STOP_TIMEOUT_S=15 # lib.sh's stop() reads STOP_TIMEOUT_S
readonly HOST=127.0.0.1

usage() {
  echo "usage: bench/sync.sh BUILD_DIR [EVENTS]   (BUILD_DIR holds cpm and cpmd; EVENTS default 100000)" >&2
  exit 2
}

(($# == 1 || $# == 2)) || usage
build=$1
events=${2:-100000}
[[ $events =~ ^[1-9][0-9]*$ ]] || usage
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cpm_bin=$build/cpm
cpmd_bin=$build/cpmd
[[ -x $cpm_bin && -x $cpmd_bin ]] || die "no cpm and cpmd in '$build' (run \`make build\` first)"
pub_bin=$(bench_tool "$build" cpm-bench-nats-pub)
for f in sync_load.mjs sync_receiver.mjs sync_nats.mjs sync_post.lua population-seed.json; do
  [[ -f $here/$f ]] || die "missing $here/$f"
done
if ! command -v node >/dev/null 2>&1 ||
  ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
  die "Node.js >= 20 is needed"
fi
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (scripts/deps.sh bench)"
command -v curl >/dev/null 2>&1 || die "curl is not installed (scripts/deps.sh bench)"
command -v nats-server >/dev/null 2>&1 || die "nats-server is not installed (scripts/deps.sh test)"
[[ -d $here/../tests/node_modules/nats ]] ||
  die "the nats npm package is missing: (cd tests && npm ci), or \`make test\` once"
nginx_bin=$(find_nginx)
[[ -n $nginx_bin ]] || die "nginx is not installed (scripts/deps.sh bench)"

bench_tmp
receiver_pid=
nats_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
sync_cleanup() {
  stop "$receiver_pid"
  stop "$nats_pid"
  bench_cleanup
}
trap sync_cleanup EXIT

# The value of KEY in a "CPM_RESULT key=value …" line.
field() {
  awk -v k="$2" '{ for (i = 2; i <= NF; i++) { n = index($i, "=");
    if (substr($i, 1, n - 1) == k) print substr($i, n + 1) } }' <<<"$1"
}

# Runs a helper (node FILE ARGS…) and prints its CPM_RESULT line; dies when it fails.
result_of() {
  local out
  out=$(CPM_BENCH_KEY=$key node "$@") || die "node $(basename "$1") $2 failed"
  grep '^CPM_RESULT ' <<<"$out" || die "node $(basename "$1") $2 printed no result: $out"
}
load() { result_of "$here/sync_load.mjs" "$@"; }
natsc() { result_of "$here/sync_nats.mjs" "$@"; }

# A fresh data directory $1 (init, seed), and cpmd on it; sets key.
start_cpmd() {
  local dir=$1
  "$cpm_bin" init --data "$dir" >"$tmp/admin-key" 2>"$tmp/init.log" || {
    cat "$tmp/init.log" >&2
    die "cpm init failed"
  }
  "$cpm_bin" seed --data "$dir" "$here/population-seed.json" >"$tmp/seed.log" 2>&1 || {
    cat "$tmp/seed.log" >&2
    die "cpm seed failed"
  }
  key=$(head -n 1 "$tmp/admin-key")
  [[ -n $key ]] || die "cpm init printed no admin key"
  start_cpmd_timed "$dir" "$tmp/cpmd-$(basename "$dir").log" "$START_TIMEOUT_S" \
    --outbound-allow=127.0.0.1/32
}

# Waits (10 ms steps) up to $2 seconds for file $1 to hold a line.
wait_file() {
  local i
  for ((i = 0; i < $2 * 100; i++)); do
    [[ -s $1 ]] && return 0
    sleep 0.01
  done
  return 1
}

paced() { load paced "$cpmd_port" "$RATE" "$1" "$INFLIGHT" "$2"; }

# "p50 p90 p99 max" of a paced result, in ms.
latencies() { echo "$(field "$1" p50_ms) $(field "$1" p90_ms) $(field "$1" p99_ms) $(field "$1" max_ms)"; }

show_paced() {
  local p50 p90 p99 max bad=$(($(field "$2" non201) + $(field "$2" errors)))
  read -r p50 p90 p99 max < <(latencies "$2")
  printf '  %-28s %6s/s achieved (%s late), write p50 %s p90 %s p99 %s max %s ms%s\n' "$1" \
    "$(field "$2" rate)" "$(field "$2" late)" "$p50" "$p90" "$p99" "$max" \
    "$( ((bad > 0)) && echo "  ($(field "$2" non201) non-201, $(field "$2" errors) errors)")" >&2
}

smaller() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? a : b }'; }
larger() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print 0 }'; }

echo "sync benchmark: $(nproc) cores, loopback, data in ${TMPDIR:-/tmp}; $events events for the" \
  "throughput runs; load average $(cut -d ' ' -f 1-3 /proc/loadavg) (anything else busy skews the figures)" >&2

# ---- 1. change → webhook at RATE events/s ----

start_cpmd "$tmp/live"
node "$here/sync_receiver.mjs" "$tmp/receiver.port" "$tmp/sample.json" 2>"$tmp/receiver.log" &
receiver_pid=$!
wait_file "$tmp/receiver.port" 10 || die "the receiver did not start: $(cat "$tmp/receiver.log")"
receiver_port=$(cat "$tmp/receiver.port")
echo "1. change -> webhook: cpmd on :$cpmd_port, receiver on :$receiver_port;" \
  "$RATE consents/s for ${RUN_SECONDS}s, $INFLIGHT in flight at most" >&2

echo "  warm-up without a destination (${WARMUP_SECONDS}s)" >&2
paced "$WARMUP_SECONDS" w0 >/dev/null
base_a=$(paced "$RUN_SECONDS" b1)
show_paced "no destination (baseline)" "$base_a"

load drain "$cpmd_port" "{\"id\":\"live\",\"name\":\"Live\",\"kind\":\"webhook\",\"endpoint\":\"http://$HOST:$receiver_port/hook\"}" >/dev/null
echo "  destination 'live' created; warm-up with it (${WARMUP_SECONDS}s)" >&2
paced "$WARMUP_SECONDS" w1 >/dev/null
load wait "$cpmd_port" live >/dev/null
load histogram "$cpmd_port" live >"$tmp/histogram-before"
curl -fsS -X POST "http://$HOST:$receiver_port/reset" || die "cannot reset the receiver"
sync_run=$(paced "$RUN_SECONDS" s1)
show_paced "webhook 'live' (sync run)" "$sync_run"
load wait "$cpmd_port" live >/dev/null
received=$(curl -fsS "http://$HOST:$receiver_port/stats") || die "cannot read the receiver's figures"
histogram=$(load histogram "$cpmd_port" live "$tmp/histogram-before")
jget() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$received" "$1"; }
recv_count=$(jget unique)
recv_dups=$(jget duplicates)
recv_unsigned=$(jget unsigned)
recv_p50=$(jget p50_ms)
recv_p90=$(jget p90_ms)
recv_p99=$(jget p99_ms)
recv_max=$(jget max_ms)
printf '  %-28s %s deliveries: p50 %s p90 %s p99 %s max %s ms (now - CloudEvent time)\n' \
  "receiver" "$recv_count" "$recv_p50" "$recv_p90" "$recv_p99" "$recv_max" >&2
printf '  %-28s %s acks: %s %% within 100 ms, p99 in the bucket <= %s s, mean %s ms\n' \
  "cpmd's histogram" "$(field "$histogram" count)" "$(field "$histogram" share_le_100ms)" \
  "$(field "$histogram" p99_le_s)" "$(field "$histogram" mean_ms)" >&2
sent_ok=$(field "$sync_run" ok)
((recv_count >= sent_ok)) ||
  die "the receiver has $recv_count distinct events of the $sent_ok recorded in the run: deliveries are missing"

load delete "$cpmd_port" live >/dev/null
base_b=$(paced "$RUN_SECONDS" b2)
show_paced "no destination (again)" "$base_b"
stop "$receiver_pid"
receiver_pid=
stop "$cpmd_pid"
cpmd_pid=
errors_live=$(grep -c 'level=error' "$tmp/cpmd-live.log" || true)
base_p99=$(smaller "$(field "$base_a" p99_ms)" "$(field "$base_b" p99_ms)")
base_line=$base_a
[[ $base_p99 == "$(field "$base_b" p99_ms)" ]] && base_line=$base_b

# ---- 2. one webhook destination's throughput ----

start_cpmd "$tmp/store"
echo "2. webhook throughput: cpmd on :$cpmd_port; recording $events events" \
  "($FILL_DECISIONS decisions a request, $FILL_INFLIGHT in flight)" >&2
fill=$(load fill "$cpmd_port" "$events" "$FILL_DECISIONS" "$FILL_INFLIGHT" f)
(($(field "$fill" non201) + $(field "$fill" errors) == 0)) || die "recording failed: $fill"
echo "  recorded in $(field "$fill" seconds) s ($(field "$fill" events_per_s) events/s)" >&2
start_nginx "        location /hook {
            return 204;
        }"
echo "  nginx on :$nginx_port; baseline: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS POST (${WRK_SECONDS}s)" >&2
read -r wrk_a wrk_a_p99 wrk_a_err < <(CPM_SYNC_BODY=$tmp/sample.json wrk_measure "$WRK_SECONDS" \
  "http://$HOST:$nginx_port/hook" -s "$here/sync_post.lua")
echo "  wrk -> nginx 204: $wrk_a req/s (p99 $wrk_a_p99 ms, $wrk_a_err errors)" >&2
echo "  destination 'bench' from seq 1 -> nginx" >&2
webhook=$(load drain "$cpmd_port" "{\"id\":\"bench\",\"name\":\"Bench\",\"kind\":\"webhook\",\"endpoint\":\"http://$HOST:$nginx_port/hook\",\"from_seq\":1}")
webhook_delivered=$(field "$webhook" delivered)
webhook_s=$(field "$webhook" seconds)
webhook_eps=$(per_s "$webhook_delivered" "$webhook_s")
echo "  cursor at seq $(field "$webhook" cursor_seq) after $webhook_s s: $webhook_delivered delivered" \
  "($webhook_eps events/s), $(field "$webhook" failed) failed; longest stall" \
  "$(field "$webhook" max_stall_ms) ms" >&2
((webhook_delivered == events)) || die "'bench' delivered $webhook_delivered of $events events"
read -r wrk_b wrk_b_p99 wrk_b_err < <(CPM_SYNC_BODY=$tmp/sample.json wrk_measure "$WRK_SECONDS" \
  "http://$HOST:$nginx_port/hook" -s "$here/sync_post.lua")
echo "  wrk -> nginx 204 again: $wrk_b req/s (p99 $wrk_b_p99 ms, $wrk_b_err errors)" >&2
wrk_best=$(larger "$wrk_a" "$wrk_b")
load delete "$cpmd_port" bench >/dev/null

# ---- 3. JetStream publish with acks ----

for ((attempt = 0; attempt < 20; attempt++)); do
  nats_port=$((20000 + RANDOM % 40000))
  listening "$nats_port" && continue
  nats-server -js -a "$HOST" -p "$nats_port" -sd "$tmp/nats" >"$tmp/nats.log" 2>&1 &
  nats_pid=$!
  for ((i = 0; i < 1000; i++)); do
    listening "$nats_port" && break
    kill -0 "$nats_pid" 2>/dev/null || break
    sleep 0.01
  done
  listening "$nats_port" && break
  stop "$nats_pid"
  nats_pid=
done
[[ -n $nats_pid ]] || die "nats-server did not start: $(tail -n 5 "$tmp/nats.log")"
nats_url=nats://$HOST:$nats_port
natsc stream "$nats_url" CPM 'cpm.>' >/dev/null
natsc stream "$nats_url" BASE 'base.>' >/dev/null
echo "3. JetStream: nats-server on :$nats_port (stream CPM over cpm.>, BASE over base.>);" \
  "baseline: $events acked publishes (nats.c), $NATS_WINDOW outstanding" >&2
publish() {
  local out
  out=$("$pub_bin" "$nats_url" base.consent.given BASE "$events" "$1" "$tmp/sample.json") ||
    die "cpm-bench-nats-pub failed: $out"
  grep '^CPM_RESULT ' <<<"$out"
}
pub_a=$(publish "$NATS_WINDOW")
echo "  nats.c: $(field "$pub_a" msgs_per_s) msg/s" >&2
echo "  destination 'js' from seq 1 -> stream CPM" >&2
js=$(load drain "$cpmd_port" "{\"id\":\"js\",\"name\":\"JS\",\"kind\":\"nats\",\"endpoint\":\"$nats_url\",\"stream\":\"CPM\",\"from_seq\":1}")
js_delivered=$(field "$js" delivered)
js_s=$(field "$js" seconds)
js_eps=$(per_s "$js_delivered" "$js_s")
echo "  cursor at seq $(field "$js" cursor_seq) after $js_s s: $js_delivered delivered" \
  "($js_eps events/s), $(field "$js" failed) failed; longest stall $(field "$js" max_stall_ms) ms" >&2
in_stream=$(field "$(natsc count "$nats_url" CPM)" messages)
((js_delivered == events && in_stream == events)) ||
  die "'js' delivered $js_delivered of $events events; stream CPM holds $in_stream"
pub_b=$(publish "$NATS_WINDOW")
echo "  nats.c again: $(field "$pub_b" msgs_per_s) msg/s" >&2
pub_best=$(larger "$(field "$pub_a" msgs_per_s)" "$(field "$pub_b" msgs_per_s)")
pub_wide=$(field "$(publish "$NATS_WINDOW_WIDE")" msgs_per_s)
echo "  nats.c, $NATS_WINDOW_WIDE outstanding: $pub_wide msg/s" >&2
stop "$cpmd_pid"
cpmd_pid=
errors_store=$(grep -c 'level=error' "$tmp/cpmd-store.log" || true)

# ---- the table ----

verdict() { awk -v ok="$1" 'BEGIN { print ok ? "meets" : "below" }'; }
body_bytes=$(wc -c <"$tmp/sample.json")
echo
echo "Sync (bench/sync.sh): $RATE events/s for ${RUN_SECONDS}s; $events events drained; CloudEvent body $body_bytes bytes"
printf '%-36s %-36s %-42s %6s  %s\n' figure measured "baseline, same run" ratio target
printf '%-36s %-36s %-42s %6s  %s\n' "change -> webhook received" \
  "p50 $recv_p50 p90 $recv_p90 p99 $recv_p99 ms" \
  "write alone: p50 $(field "$base_line" p50_ms) p99 $base_p99 ms" - \
  "p99 <= $TARGET_P99_MS ms: $(verdict "$(awk -v p="$recv_p99" -v t="$TARGET_P99_MS" 'BEGIN { print p <= t }')")"
printf '%-36s %-36s %-42s %6s  %s\n' "  the writes meanwhile (201)" \
  "p50 $(field "$sync_run" p50_ms) p99 $(field "$sync_run" p99_ms) ms, $(field "$sync_run" rate)/s" \
  "(no destination: the better p99 of 2 runs)" - ""
printf '%-36s %-36s %-42s %6s  %s\n' "  cpmd: acknowledged_after" \
  "$(field "$histogram" share_le_100ms) % <= 100 ms, p99 <= $(field "$histogram" p99_le_s) s" \
  "(its histogram; mean $(field "$histogram" mean_ms) ms)" - ""
printf '%-36s %-36s %-42s %6s  %s\n' "webhook -> nginx 204, from seq 1" \
  "$webhook_eps events/s (stall $(field "$webhook" max_stall_ms) ms)" \
  "wrk -c$WRK_CONNECTIONS POST: $wrk_best req/s (best of 2)" "$(ratio "$webhook_eps" "$wrk_best")" \
  ">= $TARGET_WEBHOOK_EPS events/s: $(verdict "$((webhook_eps >= TARGET_WEBHOOK_EPS))")"
printf '%-36s %-36s %-42s %6s  %s\n' "nats -> JetStream acked, from seq 1" \
  "$js_eps events/s (stall $(field "$js" max_stall_ms) ms)" \
  "nats.c, $NATS_WINDOW acks out: $pub_best msg/s" "$(ratio "$js_eps" "$pub_best")" "(none set)"
printf '%-36s %-36s %-42s %6s  %s\n' "" "" "nats.c, $NATS_WINDOW_WIDE acks out: $pub_wide msg/s" \
  "$(ratio "$js_eps" "$pub_wide")" ""
echo "checks: the receiver got $recv_count distinct events of the $sent_ok recorded ($recv_dups duplicates," \
  "$recv_unsigned unsigned); 'bench' delivered $webhook_delivered, 'js' $js_delivered (stream CPM: $in_stream)"
((errors_live + errors_store > 0)) && echo "note: cpmd logged $((errors_live + errors_store)) error line(s)"
exit 0
