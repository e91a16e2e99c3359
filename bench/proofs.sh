#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Proof costs at ledger scale: inclusion and consistency proofs read from the
# SQLite store, and an evidence-like read (one subject's 1 000 events listed
# and each proved). Usage: bench/proofs.sh BUILD_DIR [EVENTS]
#
# cpm-bench-proofs fills a fresh store in a temporary directory through the
# real writer (group commit, 64 submitters, 4 events of ~400-byte leaves per
# new subject, no HTTP) up to EVENTS (default 1 000 000; progress every
# 10 %), then times 10 000 inclusion proofs of random leaves and 10 000
# consistency proofs from random sizes, both against the full tree, and the
# evidence read (median of 5), verifying every proof outside the timing.
# Budgets: inclusion p99 <= 1 ms at 10 M events (run `bench/proofs.sh BUILD
# 10000000` for that size: the fill takes minutes), evidence read <= 50 ms.
#
# A measurement, not a test: it exits 0 whatever the figures, and non-zero
# only when it could not measure. The temporary store is removed on exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly EVENTS_DEFAULT=1000000 BUDGET_EVENTS=10000000
readonly BUDGET_INCLUSION_P99_US=1000 BUDGET_EVIDENCE_MS=50
readonly BYTES_PER_EVENT=1500 # disk needed, with room (≈ 1 KB an event measured)

usage() {
  echo "usage: bench/proofs.sh BUILD_DIR [EVENTS]   (BUILD_DIR holds cpm-bench-proofs; EVENTS defaults to $EVENTS_DEFAULT)" >&2
  exit 2
}

(($# == 1 || $# == 2)) || usage
build=$1
events=${2:-$EVENTS_DEFAULT}
[[ $events =~ ^[1-9][0-9]{3,8}$ ]] || die "EVENTS must be a whole number from 1000 to 999999999"
bench_bin=$build/cpm-bench-proofs
if [[ ! -x $bench_bin ]]; then
  cmake --build "$build" --target cpm-bench-proofs >/dev/null ||
    die "cannot build cpm-bench-proofs in '$build' (configured with -DCPM_BENCH=OFF?)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpm-bench.XXXXXX")
bench_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ -n $bench_pid ]]; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_kb=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
need_kb=$((events * BYTES_PER_EVENT / 1024))
((free_kb > need_kb)) || die "$events events need about $((need_kb / 1024)) MiB in ${TMPDIR:-/tmp}; $((free_kb / 1024)) MiB are free"

# Generous bound: 2 minutes plus 1 ms an event (the fill runs at tens of thousands a second).
limit_s=$((120 + events / 1000))
mkdir "$tmp/data"
echo "proof benchmark: $events events, $(nproc) cores, store in ${TMPDIR:-/tmp}" \
  "($(df -P "$tmp" | awk 'NR == 2 { print $1 }')), at most ${limit_s}s" >&2
timeout "$limit_s" "$bench_bin" "$tmp/data" "$events" >"$tmp/out" 2> >(grep --line-buffered -v 'module=store msg="applied migration' >&2) &
bench_pid=$!
wait "$bench_pid" || {
  rc=$?
  bench_pid=
  cat "$tmp/out" >&2
  ((rc == 124)) && die "cpm-bench-proofs ran past ${limit_s}s"
  die "cpm-bench-proofs failed (exit $rc)"
}
bench_pid=
store_mb=$(du -sm "$tmp/data" | awk '{ print $1 }')

declare -A v
while read -r -a fields; do
  for kv in "${fields[@]}"; do
    v[${kv%%=*}]=${kv#*=}
  done
done <"$tmp/out"
for k in fill_events fill_seconds inclusion_p99_us consistency_p99_us evidence_median_ms; do
  [[ -n ${v[$k]:-} ]] || die "cpm-bench-proofs printed no $k"
done

meets() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "meets" : "below" }'; }
millions() { awk -v n="$1" 'BEGIN { printf "%g M", n / 1e6 }'; }

measured_at=$(millions "${v[fill_events]}")
echo
echo "Ledger proofs at $measured_at events"
if ((events < BUDGET_EVENTS)); then
  echo "(the inclusion budget is set at $(millions $BUDGET_EVENTS) events; this run is at $measured_at:" \
    "\`bench/proofs.sh $build $BUDGET_EVENTS\` measures the full size)"
fi
printf 'store: %s events filled in %s s (%s events/s through the writer), %s MiB on disk\n' \
  "${v[fill_events]}" "${v[fill_seconds]}" "${v[fill_events_per_s]}" "$store_mb"
printf '%-38s %9s %9s %9s  %s\n' measure p50 p99 max budget
printf '%-38s %9s %9s %9s  %s\n' "inclusion proof, µs (${v[inclusion_count]})" \
  "${v[inclusion_p50_us]}" "${v[inclusion_p99_us]}" "${v[inclusion_max_us]}" \
  "p99 <= $BUDGET_INCLUSION_P99_US µs at $(millions $BUDGET_EVENTS): $(meets "${v[inclusion_p99_us]}" "$BUDGET_INCLUSION_P99_US") at $measured_at"
printf '%-38s %9s %9s %9s  %s\n' "consistency proof, µs (${v[consistency_count]})" \
  "${v[consistency_p50_us]}" "${v[consistency_p99_us]}" "${v[consistency_max_us]}" "-"
printf '%-38s %9s %9s %9s  %s\n' "evidence read, ms (${v[evidence_events]} events)" \
  "${v[evidence_median_ms]}" "-" "${v[evidence_max_ms]}" \
  "<= $BUDGET_EVIDENCE_MS ms: $(meets "${v[evidence_median_ms]}" "$BUDGET_EVIDENCE_MS") (median of ${v[evidence_runs]}; first ${v[evidence_first_ms]} ms)"
printf '%-38s %9s %9s %9s  %s\n' "  of which listing the events, ms" "${v[evidence_list_only_median_ms]}" \
  "-" "-" "(median; the rest is ${v[evidence_events]} proofs)"
printf 'upper tree levels (>= 8) loaded into memory in %s ms, as cpmd does at start\n' \
  "${v[upper_levels_load_ms]:-?}"
printf 'proof paths: %s hashes on average; the evidence events span %s seqs; all %s + %s proofs verified\n' \
  "${v[inclusion_avg_hashes]}" "${v[evidence_seq_span]}" "${v[inclusion_count]}" "${v[consistency_count]}"
exit 0
