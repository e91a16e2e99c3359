#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Streaming exports in constant memory: `cpm export events` of the first
# EVENTS events (default 10 000 000) of a decision-benchmark population
# (bench/lib.sh's populate; default /tmp/cpm-bench/2000000x5, 10 M events,
# made on first use: about 7 GB and a few minutes, then reused), beside the
# sqlite3 shell writing the same columns of the same rows as CSV; then
# GET /v1/export/events and /v1/export/state from cpmd on a store of
# API_ROWS imported rows (default 1 000 000), cpmd's RSS sampled while it
# streams. Usage:
# bench/export.sh BUILD_DIR [POPULATION_DIR] [EVENTS] [RUNS] [API_ROWS]
#
# The population is only read: opened with --immutable (no locks, no WAL
# files: nothing in its directory changes), so a run never disturbs it and
# it must not be written meanwhile. It must have this build's schema (a
# read-only store is never migrated; cpm export names the versions). Each export goes through `wc -c` (the
# bytes counted, the same pipe for both sides) under /usr/bin/time -v: wall
# time and peak RSS of the exporting process. RUNS (default 3) rounds of
# NDJSON, then one of CSV; the sqlite3 shell (-csv, `SELECT seq, id, type,
# subject_id, purpose, time_ms, leaf … WHERE seq <= EVENTS`) as many times.
# The first round may read from disk; later ones from the page cache.
#
# A measurement, not a test: it exits 0 whatever the figures, non-zero only
# when it could not measure. Everything it starts is stopped on exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly POPULATION_DEFAULT=/tmp/cpm-bench/2000000x5 EVENTS_DEFAULT=10000000 RUNS_DEFAULT=3
readonly API_ROWS_DEFAULT=1000000 START_TIMEOUT_S=120 STOP_TIMEOUT_S=30 HOST=127.0.0.1

usage() {
  echo "usage: bench/export.sh BUILD_DIR [POPULATION_DIR] [EVENTS] [RUNS] [API_ROWS]" >&2
  exit 2
}

(($# >= 1 && $# <= 5)) || usage
build=$1
population=${2:-$POPULATION_DEFAULT}
events=${3:-$EVENTS_DEFAULT}
runs=${4:-$RUNS_DEFAULT}
api_rows=${5:-$API_ROWS_DEFAULT}
[[ $events =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9]$ && $api_rows =~ ^[1-9][0-9]*0$ ]] || usage
((api_rows % 5 == 0)) || die "API_ROWS must be a multiple of 5"
cpm_bin=$build/cpm
cpmd_bin=$build/cpmd
[[ -x $cpm_bin && -x $cpmd_bin ]] || die "no cpm and cpmd in '$build' (run \`make build\` first)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is not installed (Debian package time)"
command -v curl >/dev/null || die "curl is not installed"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

bench_tmp
if [[ $population == "$POPULATION_DEFAULT" ]]; then
  populate_bin=$(bench_tool "$build" cpm-bench-populate)
  populate "$population" 2000000 5
fi
[[ -f $population/cpm.db ]] || die "no population in $population"
have=$(population_value "$population" events)
[[ -z $have ]] || ((have >= events)) || die "$population holds $have events, fewer than $events"

# Runs "$@" | wc -c under /usr/bin/time -v; prints "SECONDS PEAK_RSS_KIB BYTES MB_PER_S".
measure() {
  local bytes seconds rss
  bytes=$( (/usr/bin/time -v -o "$tmp/time" "$@" 2>"$tmp/export.log") | wc -c) ||
    { tail -3 "$tmp/export.log" >&2; die "$1 failed"; }
  read -r seconds rss < <(time_report "$tmp/time")
  echo "$seconds $rss $bytes $(awk -v b="$bytes" -v s="$seconds" 'BEGIN { printf "%.1f", b / 1048576 / s }')"
}

row() { # label "SECONDS PEAK_RSS_KIB BYTES MB_PER_S"
  local seconds rss bytes mb_s
  read -r seconds rss bytes mb_s <<<"$2"
  printf '%-30s %9s %10s %11s %9s\n' "$1" "$seconds" "$((rss / 1024)) MB" "$((bytes / 1048576)) MiB" "$mb_s"
}

echo "exporting $events events of $population ($runs rounds)..." >&2
declare -a ours theirs
for ((run = 1; run <= runs; run++)); do
  ours+=("$(measure "$cpm_bin" export events --data "$population" --immutable --to-seq "$events")")
  grep -q "^cpm export: $events events" "$tmp/export.log" || { cat "$tmp/export.log" >&2; die "cpm export did not write $events events"; }
  if command -v sqlite3 >/dev/null; then
    theirs+=("$(measure sqlite3 -csv "file:$population/cpm.db?immutable=1" \
      "SELECT seq, id, type, subject_id, purpose, time_ms, leaf FROM events WHERE seq <= $events ORDER BY seq")")
  fi
done
csv=$(measure "$cpm_bin" export events --data "$population" --immutable --to-seq "$events" --format csv)

echo
echo "cpm export events, the first $events events of $population"
printf '%-30s %9s %10s %11s %9s\n' "" "seconds" "peak RSS" "bytes" "MB/s"
for ((run = 1; run <= runs; run++)); do
  row "cpm export (NDJSON) run $run" "${ours[run - 1]}"
done
row "cpm export (CSV)" "$csv"
for ((run = 1; run <= ${#theirs[@]}; run++)); do
  row "sqlite3 -csv run $run" "${theirs[run - 1]}"
done
awk -v o="${ours[*]}" -v t="${theirs[*]:-}" 'BEGIN {
  n = split(o, a, " "); best = 0; worst = 0
  for (i = 4; i <= n; i += 4) { if (a[i] > best) best = a[i]; if (worst == 0 || a[i] < worst) worst = a[i] }
  m = split(t, b, " "); tb = 0
  for (i = 4; i <= m; i += 4) if (b[i] > tb) tb = b[i]
  printf "NDJSON: best %.1f MB/s, worst %.1f (spread %.0f %%)", best, worst, 100 * (best - worst) / best
  if (tb > 0) printf "; %.2f x the sqlite3 shell (best %.1f MB/s)", best / tb, tb
  printf "\n"
}'

# ---- the API: cpmd streams while its RSS is sampled ----

echo "importing $api_rows rows for the API exports..." >&2
import_rows "$api_rows" "$tmp/rows.csv"
"$cpm_bin" init --data "$tmp/data" >"$tmp/key" 2>/dev/null || die "cpm init failed"
"$cpm_bin" seed --data "$tmp/data" "$here/population-seed.json" 2>/dev/null || die "cpm seed failed"
"$cpm_bin" import --data "$tmp/data" "$tmp/rows.csv" 2>"$tmp/import.log" || { tail -5 "$tmp/import.log" >&2; die "cpm import failed"; }
key=$(cat "$tmp/key")
start_cpmd_timed "$tmp/data" "$tmp/cpmd.log" "$START_TIMEOUT_S" --log-level warn

# GET path | wc -c while VmRSS is sampled; prints "SECONDS RSS_BEFORE_KIB RSS_PEAK_KIB BYTES MB_PER_S".
api_export() {
  local path=$1 before peak bytes seconds t0
  before=$(rss_kib "$cpmd_pid")
  (while kill -0 "$cpmd_pid" 2>/dev/null; do rss_kib "$cpmd_pid"; sleep 0.1; done >"$tmp/rss") &
  local sampler=$!
  t0=$(now_ns)
  bytes=$(curl -sf -H "Authorization: Bearer $key" "http://$HOST:$cpmd_port$path" | wc -c) || die "GET $path failed"
  seconds=$(seconds_since "$t0")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  peak=$(sort -n "$tmp/rss" | tail -1)
  echo "$seconds $before $peak $bytes $(awk -v b="$bytes" -v s="$seconds" 'BEGIN { printf "%.1f", b / 1048576 / s }')"
}

echo
echo "cpmd, GET /v1/export/… of a store of $api_rows imported rows (RSS sampled every 0.1 s)"
printf '%-36s %9s %12s %12s %11s %9s\n' "" "seconds" "RSS before" "RSS peak" "bytes" "MB/s"
for path in "/v1/export/events" "/v1/export/events?format=csv" "/v1/export/state" "/v1/export/state?format=csv"; do
  for ((run = 1; run <= 2; run++)); do
    read -r s b p n m < <(api_export "$path")
    printf '%-36s %9s %9d MB %9d MB %7d MiB %9s\n' "$path" "$s" $((b / 1024)) $((p / 1024)) $((n / 1048576)) "$m"
  done
done
