#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The HTTP baseline: cpmd's GET /healthz against nginx's `return 200` with the
# same body, on loopback, with the same load. Usage: bench/healthz.sh BUILD_DIR
#
# Starts nginx (a throwaway config in a temporary directory, one worker per
# core) and cpmd (a fresh data directory, one HTTP thread per core), warms
# both up, then runs `wrk -t2 -c64 -d10s --latency` against each twice,
# alternating (nginx, cpmd, nginx, cpmd), and prints the best req/s and the
# best p99 of each, and cpmd's throughput as a share of nginx's against the
# 85 % target. Figures vary ±20 % between runs on small machines: compare the
# ratio, measured in one run, not absolute numbers across runs.
#
# A measurement, not a test: it exits 0 whatever the ratio, and non-zero only
# when it could not measure. Everything it starts is stopped on exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly WRK_THREADS=2 WRK_CONNECTIONS=64 WRK_SECONDS=10 WARMUP_SECONDS=3
readonly TARGET_PERCENT=85
readonly START_TIMEOUT_S=10 STOP_TIMEOUT_S=5
readonly HOST=127.0.0.1

usage() {
  echo "usage: bench/healthz.sh BUILD_DIR   (BUILD_DIR holds cpm and cpmd; see \`make bench\`)" >&2
  exit 2
}

(($# == 1)) || usage
build=$1
cpm_bin=$build/cpm
cpmd_bin=$build/cpmd
[[ -x $cpm_bin && -x $cpmd_bin ]] || die "no cpm and cpmd in '$build' (run \`make build\` first)"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (scripts/deps.sh bench)"
nginx_bin=$(find_nginx)
[[ -n $nginx_bin ]] || die "nginx is not installed (scripts/deps.sh bench)"

bench_tmp

start_cpmd() {
  "$cpm_bin" init --data "$tmp/data" >"$tmp/admin-key" || die "cpm init failed"
  start_cpmd_timed "$tmp/data" "$tmp/cpmd.log" "$START_TIMEOUT_S"
}

# Runs wrk for seconds against port's /healthz; prints "REQ_PER_S P99_MS ERRORS".
measure() {
  wrk_measure "$2" "http://$HOST:$1/healthz"
}

echo "healthz benchmark: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECONDS}s --latency," \
  "$(nproc) cores, loopback" >&2
start_nginx ""
start_cpmd
echo "nginx on :$nginx_port, cpmd on :$cpmd_port; warming up (${WARMUP_SECONDS}s each)" >&2
measure "$nginx_port" "$WARMUP_SECONDS" >/dev/null
measure "$cpmd_port" "$WARMUP_SECONDS" >/dev/null

declare -A best_rps=([nginx]=0 [cpmd]=0) best_p99=([nginx]=0 [cpmd]=0) errors=([nginx]=0 [cpmd]=0)
declare -A port_of=([nginx]=$nginx_port [cpmd]=$cpmd_port)
for round in 1 2; do
  for server in nginx cpmd; do
    read -r rps p99 errs < <(measure "${port_of[$server]}" "$WRK_SECONDS")
    printf '  round %d %-5s %8s req/s  p99 %7s ms%s\n' "$round" "$server" "$rps" "$p99" \
      "$( ((errs > 0)) && echo "  ($errs errors)")" >&2
    ((rps > best_rps[$server])) && best_rps[$server]=$rps
    if [[ ${best_p99[$server]} == 0 ]] || awk -v a="$p99" -v b="${best_p99[$server]}" \
      'BEGIN { exit !(a < b) }'; then
      best_p99[$server]=$p99
    fi
    errors[$server]=$((errors[$server] + errs))
  done
done

percent=$(awk -v c="${best_rps[cpmd]}" -v n="${best_rps[nginx]}" \
  'BEGIN { if (n > 0) printf "%.1f", 100 * c / n; else print "0" }')
verdict=$(awk -v p="$percent" -v t="$TARGET_PERCENT" 'BEGIN { print (p >= t) ? "meets" : "below" }')

echo
echo "GET /healthz, best of 2 runs each"
printf '%-8s %12s %10s %8s\n' server req/s "p99 ms" errors
for server in nginx cpmd; do
  printf '%-8s %12s %10s %8s\n' "$server" "${best_rps[$server]}" "${best_p99[$server]}" \
    "${errors[$server]}"
done
printf 'cpmd/nginx throughput: %s %% (target >= %d %%: %s)\n' "$percent" "$TARGET_PERCENT" "$verdict"
exit 0
