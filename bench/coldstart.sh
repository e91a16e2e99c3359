#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cold start at scale: how long cpmd takes from spawn to answering, and what
# the loaded index costs in memory, with N subjects and N x E events; the
# same for the embedding API's load (cpm_decider_open); then in-process
# decisions against SQLite on that population. Usage:
# bench/coldstart.sh BUILD_DIR [N] [EVENTS_PER_SUBJECT]
#                                      (defaults 10 000 000 and 5: the budget's size)
#
# The data: bench/population.h's population written by cpm-bench-populate
# through the store's batch_write (about 12 minutes and 28 GB for 10 M x 5
# on a 2-core machine; bench/decide.sh describes it). With CPM_BENCH_DATA=DIR
# it is made in DIR/NxE (DIR/10000000x5) and kept, or reused from there, so
# one population serves several benches and runs.
#
# Then, each best of 3, with the OS page cache warm (the store was just
# written or read; a start after a reboot also reads it from disk):
#   - cpmd with the index loaded from the store: DIR/index.snapshot is
#     removed before each start (what a first start or one after a crash
#     does), spawn to the first 200 from /healthz; RSS growth over cpmd on
#     an empty store, per subject, and the index's own count of its bytes
#     (its "loaded" log line). Target <= 15 s for 10 M / 50 M.
#   - cpmd restarted after a clean stop, when that stop left an index
#     snapshot (DIR/index.snapshot) for the next start to read instead.
#   - cpm-bench-decide --load-only: cpm_decider_open in-process, timed, RSS
#     growth per subject.
# Last, cpm-bench-decide on the same population: decisions/s on one thread
# against one indexed SQLite lookup each (target >= 5 M/s at 10 M).
# Memory budget for the index: <= 64 bytes a subject (RSS growth also
# counts SQLite's page caches and allocator slack).
#
# A measurement, not a test: it exits 0 whatever the figures, and non-zero
# only when it could not measure. Everything it starts is stopped on exit;
# the temporary directory (and the population, unless it is under
# CPM_BENCH_DATA) is removed.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly N_DEFAULT=10000000 EVENTS_DEFAULT=5 ROUNDS=3
readonly TARGET_START_S=15 TARGET_INDEX_BYTES=64
readonly START_TIMEOUT_S=900 STOP_TIMEOUT_S=300 DECIDE_SECONDS=5
readonly HOST=127.0.0.1

usage() {
  echo "usage: bench/coldstart.sh BUILD_DIR [N] [EVENTS_PER_SUBJECT]   (defaults $N_DEFAULT and $EVENTS_DEFAULT)" >&2
  exit 2
}

(($# >= 1 && $# <= 3)) || usage
build=$1
n=${2:-$N_DEFAULT}
e=${3:-$EVENTS_DEFAULT}
[[ $n =~ ^[1-9][0-9]{3,8}$ ]] || die "N must be a whole number from 1000 to 999999999"
if ! [[ $e =~ ^[1-9][0-9]?$ ]] || ((e > 64)); then
  die "EVENTS_PER_SUBJECT must be from 1 to 64"
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cpm_bin=$build/cpm
cpmd_bin=$build/cpmd
[[ -x $cpm_bin && -x $cpmd_bin ]] || die "no cpm and cpmd in '$build' (run \`make build\` first)"
populate_bin=$(bench_tool "$build" cpm-bench-populate)
decide_bin=$(bench_tool "$build" cpm-bench-decide)

bench_tmp

data=${CPM_BENCH_DATA:+$CPM_BENCH_DATA/${n}x$e}
data=${data:-$tmp/data}
echo "cold start benchmark: $n subjects x $e events in $data, $(nproc) cores," \
  "$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM" >&2
populate "$data" "$n" "$e"
store_bytes=$(du -sb "$data" | cut -f1)

# RSS of cpmd with nothing loaded: the same configuration, no subjects.
"$cpm_bin" init --data "$tmp/empty" >/dev/null 2>"$tmp/empty-init.log" || die "cpm init failed"
"$cpm_bin" seed --data "$tmp/empty" "$here/population-seed.json" >/dev/null 2>&1 || die "cpm seed failed"
start_cpmd_timed "$tmp/empty" "$tmp/cpmd-empty.log" 60
rss_empty=$(rss_kib "$cpmd_pid")
stop "$cpmd_pid"
cpmd_pid=

better() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b == "" || a < b) }'; }
per_subject() { awk -v a="$1" -v b="$2" -v n="$n" 'BEGIN { printf "%.1f", (a - b) * 1024 / n }'; }

# The index's own count from cpmd's log: "loaded: N subjects from R rows in S s, M MiB".
index_bytes_per_subject() {
  sed -nE 's/.*loaded: ([0-9]+) subjects from [0-9]+ rows in [0-9.]+ s, ([0-9.]+) MiB.*/\1 \2/p' "$1" |
    tail -n 1 | awk '{ if ($1 > 0) printf "%.1f", $2 * 1048576 / $1 }'
}

# One cpmd start and clean stop; sets s and rss. $1: "store" (snapshot removed first) or "snapshot".
cpmd_round() {
  local mode=$1 round=$2
  [[ $mode == store ]] && rm -f "$data/index.snapshot"
  start_cpmd_timed "$data" "$tmp/cpmd-$mode-$round.log" "$START_TIMEOUT_S"
  s=$cpmd_start_s
  rss=$(rss_kib "$cpmd_pid")
  stop "$cpmd_pid"
  cpmd_pid=
}

declare -A best_s=() best_rss=() index_bps=()
for mode in store snapshot; do
  for ((round = 1; round <= ROUNDS; round++)); do
    if [[ $mode == snapshot && ! -f $data/index.snapshot ]]; then
      echo "  no index snapshot after a clean stop: this cpmd always loads from the store" >&2
      break
    fi
    cpmd_round "$mode" "$round"
    printf '  cpmd from the %-8s round %d: %7s s, RSS %s KiB (+%s bytes a subject)\n' "$mode" \
      "$round" "$s" "$rss" "$(per_subject "$rss" "$rss_empty")" >&2
    if better "$s" "${best_s[$mode]:-}"; then
      best_s[$mode]=$s
      best_rss[$mode]=$rss
    fi
    [[ $mode == store ]] && index_bps[$mode]=$(index_bytes_per_subject "$tmp/cpmd-$mode-$round.log")
  done
done

decider_best=
for ((round = 1; round <= ROUNDS; round++)); do
  out=$("$decide_bin" --load-only "$data" 2>"$tmp/decide-load.log") || {
    tail -n 20 "$tmp/decide-load.log" >&2
    die "cpm-bench-decide --load-only failed"
  }
  line=$(grep '^result ' <<<"$out")
  s=$(sed -E 's/.* load_s=([0-9.]+).*/\1/' <<<"$line")
  bps=$(sed -E 's/.* rss_bytes_per_subject=([0-9.-]+).*/\1/' <<<"$line")
  printf '  cpm_decider_open round %d: %7s s, +%s bytes a subject\n' "$round" "$s" "$bps" >&2
  if better "$s" "$decider_best"; then
    decider_best=$s
    decider_bps=$bps
  fi
done

echo "in-process decisions on the same population (cpm-bench-decide --seconds $DECIDE_SECONDS)" >&2
decide_out=$("$decide_bin" --seconds "$DECIDE_SECONDS" "$data" 2>"$tmp/decide.log") || {
  tail -n 20 "$tmp/decide.log" >&2
  die "cpm-bench-decide failed"
}

meets() { awk -v a="$1" -v t="$2" 'BEGIN { print (a <= t) ? "meets" : "below" }'; }
events=$(population_value "$data" events)
echo
echo "Cold start, $n subjects / $events events (store $((store_bytes / 1048576)) MiB), best of $ROUNDS"
printf '%-52s %9s %22s  %s\n' "" seconds "RSS growth, B/subject" "target <= $TARGET_START_S s"
printf '%-52s %9s %22s  %s\n' "cpmd, index from the store (spawn -> /healthz 200)" \
  "${best_s[store]}" "$(per_subject "${best_rss[store]}" "$rss_empty")" \
  "$(meets "${best_s[store]}" "$TARGET_START_S")"
if [[ -n ${best_s[snapshot]:-} ]]; then
  printf '%-52s %9s %22s  %s\n' "cpmd, index from a clean stop's snapshot" "${best_s[snapshot]}" \
    "$(per_subject "${best_rss[snapshot]}" "$rss_empty")" "$(meets "${best_s[snapshot]}" "$TARGET_START_S")"
fi
printf '%-52s %9s %22s  %s\n' "cpm_decider_open (in-process, cpm-bench-decide)" "$decider_best" \
  "$decider_bps" "$(meets "$decider_best" "$TARGET_START_S")"
echo "index memory by its own count: ${index_bps[store]:-?} bytes a subject (budget <= $TARGET_INDEX_BYTES;" \
  "RSS growth adds SQLite page caches and allocator slack); cpmd RSS empty: $rss_empty KiB"
((population_reused)) || echo "population: made in $populate_s s (cpm-bench-populate)"
logged_errors=$(cat "$tmp"/cpmd-store-*.log "$tmp"/cpmd-snapshot-*.log 2>/dev/null | grep -c 'level=error' || true)
((logged_errors > 0)) && echo "note: cpmd logged $logged_errors error line(s) (a TAMPER ALARM among them means the population is not a valid ledger)"
echo
sed -n '/^In-process decisions/,/^answers:/p' <<<"$decide_out"
exit 0
