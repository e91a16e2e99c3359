#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Single decisions over HTTP: GET /v1/decide?subject=…&purpose=marketing.sms
# answered by cpmd from its index, against nginx's `return 200` of an answer
# of the same size, on loopback, with the same load, in the same run. Usage:
# bench/decide.sh BUILD_DIR [N]   (N subjects, default 1 000 000)
#
# The data: N subjects with 5 consent events each (bench/population.h: 8
# purposes, marketing.sms given for about half of the subjects), written by
# cpm-bench-populate through the store's batch_write into a data directory
# made by `cpm init` and `cpm seed bench/population-seed.json`. With
# CPM_BENCH_DATA=DIR the population is made in DIR/Nx5 (DIR/1000000x5) and
# kept, or reused from there (bench/coldstart.sh shares the convention).
#
# cpmd: its RSS on an empty store first; then on the population, its cold
# start (spawn to the first 200 from /healthz: the index is loaded by then,
# from the store: an index snapshot an earlier clean stop left is removed
# first) and RSS growth per subject. The load: wrk -t2 -c64 keep-alive with
# bench/decide.lua (ids rotated by a large prime step, a decisions:read key
# from `cpm keys create`), against cpmd and against nginx (bench/lib.sh's
# throwaway config; `location = /v1/decide` returns a fixed 158-byte JSON
# answer, about the size of cpmd's), warmed up 3 s each, then nginx, cpmd, nginx,
# cpmd for 10 s each: the best req/s and the best p99 of each, cpmd's
# throughput as a share of nginx's (target >= 85 %) and its p99 (target
# <= 2 ms). Beside each round, the server's CPU time per request (its
# processes' user + system ticks over wrk's requests; nginx's workers
# included): wrk shares the cores, so each microsecond cpmd spends above
# nginx's is throughput lost, and this figure moves far less with the
# machine's noise than req/s does. Then a 3 s run that looks at every answer: all must be 200, and
# the share allowed is shown beside the population's. Last, to show what
# cpmd's request log costs (one line per /v1/ request at the default level
# info; nginx's access_log is off), cpmd is restarted with --log-level warn
# and the alternating rounds run again: a diagnostic line, not the headline.
# Figures vary ±20 % between runs on small machines: compare the ratio
# measured in one run.
#
# A measurement, not a test: it exits 0 whatever the figures, and non-zero
# only when it could not measure (or an answer was not 200). Everything it
# starts is stopped on exit; the temporary directory is removed.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly N_DEFAULT=1000000 EVENTS_PER_SUBJECT=5 STEP=1000003
readonly WRK_THREADS=2 WRK_CONNECTIONS=64 WRK_SECONDS=10 WARMUP_SECONDS=3 CHECK_SECONDS=3
readonly TARGET_PERCENT=85 TARGET_P99_MS=2
readonly START_TIMEOUT_S=900 STOP_TIMEOUT_S=60
readonly HOST=127.0.0.1 PURPOSE=marketing.sms

usage() {
  echo "usage: bench/decide.sh BUILD_DIR [N]   (BUILD_DIR holds cpm and cpmd; N subjects, default $N_DEFAULT)" >&2
  exit 2
}

(($# == 1 || $# == 2)) || usage
build=$1
n=${2:-$N_DEFAULT}
[[ $n =~ ^[1-9][0-9]{3,8}$ ]] || die "N must be a whole number from 1000 to 999999999"
((n % STEP != 0)) || die "N must not be a multiple of $STEP"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lua=$here/decide.lua
cpm_bin=$build/cpm
cpmd_bin=$build/cpmd
[[ -x $cpm_bin && -x $cpmd_bin ]] || die "no cpm and cpmd in '$build' (run \`make build\` first)"
populate_bin=$(bench_tool "$build" cpm-bench-populate)
[[ -f $lua ]] || die "missing $lua"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (scripts/deps.sh bench)"
nginx_bin=$(find_nginx)
[[ -n $nginx_bin ]] || die "nginx is not installed (scripts/deps.sh bench)"

bench_tmp

data=${CPM_BENCH_DATA:+$CPM_BENCH_DATA/${n}x$EVENTS_PER_SUBJECT}
data=${data:-$tmp/data}
echo "decision benchmark: $n subjects x $EVENTS_PER_SUBJECT events in $data;" \
  "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECONDS}s --latency, $(nproc) cores, loopback" >&2
populate "$data" "$n" "$EVENTS_PER_SUBJECT"
allowed_total=$(population_value "$data" allowed_marketing_sms)
key=$("$cpm_bin" keys create --name "bench-decide-$$" --scope decisions:read --data "$data" 2>/dev/null |
  grep -o 'cpm_[A-Za-z0-9_-]*' | head -n 1) || true
[[ -n $key ]] || die "cpm keys create printed no key"

# RSS of cpmd with nothing loaded: the same configuration, no subjects.
"$cpm_bin" init --data "$tmp/empty" >/dev/null 2>"$tmp/empty-init.log" || die "cpm init failed"
"$cpm_bin" seed --data "$tmp/empty" "$here/population-seed.json" >/dev/null 2>&1 || die "cpm seed failed"
start_cpmd_timed "$tmp/empty" "$tmp/cpmd-empty.log" "$START_TIMEOUT_S"
rss_empty=$(rss_kib "$cpmd_pid")
stop "$cpmd_pid"
cpmd_pid=

answer='{"subject":"s000123456","purpose":"marketing.sms","allowed":true,"reasons":[],"deciding_event":2345678,"next_allowed_at":null,"at":"2026-05-01T12:00:00.000Z"}'
start_nginx "        location = /v1/decide {
            default_type application/json;
            return 200 '$answer';
        }"

# A first start reads the store: a snapshot left by an earlier clean stop is removed.
rm -f "$data/index.snapshot"
load_from="the store"
echo "starting cpmd on the population (index from $load_from)" >&2
start_cpmd_timed "$data" "$tmp/cpmd.log" "$START_TIMEOUT_S"
cold_start_s=$cpmd_start_s
rss_loaded=$(rss_kib "$cpmd_pid")
bytes_per_subject=$(awk -v a="$rss_loaded" -v b="$rss_empty" -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
echo "  cold start $cpmd_start_s s; RSS $rss_empty KiB empty, $rss_loaded KiB loaded" >&2

export CPM_BENCH_SUBJECTS=$n CPM_BENCH_KEY=$key CPM_BENCH_PURPOSE=$PURPOSE
url_of() { echo "http://$HOST:$1/v1/decide"; }
measure() { wrk_measure "$2" "$(url_of "$1")" -s "$lua"; }

echo "nginx on :$nginx_port, cpmd on :$cpmd_port; warming up (${WARMUP_SECONDS}s each)" >&2
measure "$nginx_port" "$WARMUP_SECONDS" >/dev/null
measure "$cpmd_port" "$WARMUP_SECONDS" >/dev/null

declare -A best_rps=() best_p99=() errors=() best_cpu=()
clock_ticks=$(getconf CLK_TCK)
# Alternating rounds of nginx and one cpmd ($1: its name in the table); best of them. Beside
# each round, the server's CPU time per request (its processes' ticks over wrk's requests).
rounds() {
  local other=$1 round server rps p99 errs ticks cpu
  declare -A port_of=([nginx]=$nginx_port [$other]=$cpmd_port) pid_of=([nginx]=$nginx_pid [$other]=$cpmd_pid)
  for round in 1 2; do
    for server in nginx "$other"; do
      ticks=$(cpu_ticks "${pid_of[$server]}")
      read -r rps p99 errs < <(measure "${port_of[$server]}" "$WRK_SECONDS")
      cpu=$(awk -v t=$(($(cpu_ticks "${pid_of[$server]}") - ticks)) -v hz="$clock_ticks" \
        -v n=$((rps * WRK_SECONDS)) 'BEGIN { printf "%.2f", (n > 0 ? t / hz * 1e6 / n : 0) }')
      printf '  round %d %-10s %8s req/s  p99 %7s ms  %6s µs CPU a request%s\n' "$round" "$server" \
        "$rps" "$p99" "$cpu" "$( ((errs > 0)) && echo "  ($errs errors)")" >&2
      [[ $server == nginx ]] && server=nginx-$other
      ((rps > ${best_rps[$server]:-0})) && best_rps[$server]=$rps
      if [[ -z ${best_cpu[$server]:-} ]] || awk -v a="$cpu" -v b="${best_cpu[$server]}" \
        'BEGIN { exit !(a < b) }'; then
        best_cpu[$server]=$cpu
      fi
      if [[ -z ${best_p99[$server]:-} ]] || awk -v a="$p99" -v b="${best_p99[$server]}" \
        'BEGIN { exit !(a < b) }'; then
        best_p99[$server]=$p99
      fi
      errors[$server]=$((${errors[$server]:-0} + errs))
    done
  done
}
rounds cpmd

echo "checking every answer for ${CHECK_SECONDS}s" >&2
check=$(CPM_BENCH_CHECK=1 timeout $((CHECK_SECONDS + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" \
  -d"${CHECK_SECONDS}s" --timeout 2s -s "$lua" "$(url_of "$cpmd_port")" | grep '^CPM_RESULT') ||
  die "the checking run failed"
answers=$(sed -E 's/.* answers=([0-9]+).*/\1/' <<<"$check")
non200=$(sed -E 's/.* non200=([0-9]+).*/\1/' <<<"$check")
allowed=$(sed -E 's/.* allowed=([0-9]+).*/\1/' <<<"$check")
((answers > 0)) || die "the checking run got no answer"
((non200 == 0)) || die "$non200 of $answers answers were not 200: ${check#*first_error=}"
rss_after=$(rss_kib "$cpmd_pid")

# Where the time goes: the same, cpmd without its request log line (--log-level warn;
# nginx's access_log is off). Not the headline: cpmd logs every /v1/ request by default.
stop "$cpmd_pid"
cpmd_pid=
echo "again with cpmd --log-level warn (no request log line)" >&2
warm_from="the store"
[[ -f $data/index.snapshot ]] && warm_from="the index snapshot its clean stop left"
start_cpmd_timed "$data" "$tmp/cpmd-warn.log" "$START_TIMEOUT_S" --log-level warn
echo "  restarted in $cpmd_start_s s (index from $warm_from)" >&2
measure "$cpmd_port" "$WARMUP_SECONDS" >/dev/null
rounds cpmd-warn

percent() {
  awk -v c="${best_rps[$1]}" -v n="${best_rps[nginx-$1]}" \
    'BEGIN { if (n > 0) printf "%.1f", 100 * c / n; else print "0" }'
}
meets() { awk -v ok="$1" 'BEGIN { print ok ? "meets" : "below" }'; }
percent=$(percent cpmd)

echo
echo "GET /v1/decide?subject=…&purpose=$PURPOSE, $n subjects, best of 2 runs each"
printf '%-26s %12s %10s %8s %14s\n' server req/s "p99 ms" errors "µs CPU a req."
for server in nginx-cpmd cpmd nginx-cpmd-warn cpmd-warn; do
  label=$server
  case $server in
    nginx-*) label="nginx (beside ${server#nginx-})" ;;
    cpmd-warn) label="cpmd --log-level warn" ;;
  esac
  printf '%-26s %12s %10s %8s %14s\n' "$label" "${best_rps[$server]}" "${best_p99[$server]}" \
    "${errors[$server]}" "${best_cpu[$server]}"
done
printf 'cpmd/nginx throughput: %s %% (target >= %d %%: %s)\n' "$percent" "$TARGET_PERCENT" \
  "$(meets "$(awk -v p="$percent" -v t="$TARGET_PERCENT" 'BEGIN { print (p >= t) }')")"
printf 'cpmd p99: %s ms (target <= %d ms: %s)\n' "${best_p99[cpmd]}" "$TARGET_P99_MS" \
  "$(meets "$(awk -v p="${best_p99[cpmd]}" -v t="$TARGET_P99_MS" 'BEGIN { print (p <= t) }')")"
printf 'server CPU a request (least of the rounds): cpmd %s µs, nginx %s µs: %s×\n' \
  "${best_cpu[cpmd]}" "${best_cpu[nginx-cpmd]}" \
  "$(awk -v a="${best_cpu[cpmd]}" -v b="${best_cpu[nginx-cpmd]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
printf 'without the request log line: %s %% of nginx, p99 %s ms\n' "$(percent cpmd-warn)" \
  "${best_p99[cpmd-warn]}"
printf 'answers checked: %d, all 200; allowed %.1f %% (the population: %.1f %%)\n' "$answers" \
  "$(awk -v a="$allowed" -v b="$answers" 'BEGIN { print 100 * a / b }')" \
  "$(awk -v a="$allowed_total" -v b="$n" 'BEGIN { print 100 * a / b }')"
echo "cpmd cold start with $n subjects: $cold_start_s s (spawn to /healthz 200, index from $load_from);" \
  "restart $cpmd_start_s s (index from $warm_from)"
echo "cpmd RSS: $rss_empty KiB empty, $rss_loaded KiB loaded (+$bytes_per_subject bytes a subject)," \
  "$rss_after KiB after the runs"
((population_reused)) || echo "population: made in $populate_s s (cpm-bench-populate)"
logged_errors=$(grep -c 'level=error' "$tmp/cpmd.log" || true)
((logged_errors > 0)) && echo "note: cpmd logged $logged_errors error line(s)"
exit 0
