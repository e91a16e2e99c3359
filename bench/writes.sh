#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Durable consent writes: POST /v1/subjects/{id}/consents (a new subject on
# every request, 1 or 4 decisions, each answer sent only once committed)
# against raw SQLite on the same disk in the same run. Usage:
# bench/writes.sh BUILD_DIR
#
# First the baseline: cpm-bench-sqlite inserts event-sized rows (~500-byte
# leaf) into an events-shaped table, WAL, synchronous=FULL, one row per
# commit (the naive design) and 100 per commit (the ceiling), 4 s each. Then
# cpmd on a fresh data directory seeded by `cpm seed` (a property, four
# consent purposes, a notice version covering them), one 2 s warm-up, and
# wrk with bench/writes.lua at 1 and 64 connections, 1 and 4 decisions per
# request, 8 s each. The baseline runs again afterwards and the better of its
# two figures is used, so a disturbed machine lowers our ratio, not raises it.
# events/s = 201 answers × decisions / s; any other answer or socket error is
# counted and shown. Targets at 64 clients: >= 20 k events/s with one
# decision, >= 40 k with four, and >= 5x SQLite one-row-per-commit.
#
# A measurement, not a test: it exits 0 whatever the figures, and non-zero
# only when it could not measure. Everything it starts is stopped on exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly RUN_SECONDS=8 WARMUP_SECONDS=2 SQLITE_SECONDS=4
readonly TARGET_EVENTS_1=20000 TARGET_EVENTS_4=40000 TARGET_RATIO=5
readonly START_TIMEOUT_S=10 STOP_TIMEOUT_S=15
readonly HOST=127.0.0.1

usage() {
  echo "usage: bench/writes.sh BUILD_DIR   (BUILD_DIR holds cpm, cpmd and cpm-bench-sqlite; see \`make bench\`)" >&2
  exit 2
}

(($# == 1)) || usage
build=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lua=$here/writes.lua
cpm_bin=$build/cpm
cpmd_bin=$build/cpmd
sqlite_bin=$build/cpm-bench-sqlite
[[ -x $cpm_bin && -x $cpmd_bin ]] || die "no cpm and cpmd in '$build' (run \`make build\` first)"
if [[ ! -x $sqlite_bin ]]; then
  cmake --build "$build" --target cpm-bench-sqlite >/dev/null ||
    die "cannot build cpm-bench-sqlite in '$build' (configured with -DCPM_BENCH=OFF?)"
fi
[[ -f $lua ]] || die "missing $lua"
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (scripts/deps.sh bench)"

bench_tmp

# One HTTP/1.0 exchange on port: prints the status code, a newline, the body.
http() {
  local port=$1 method=$2 path=$3 body=${4:-} key=${5:-}
  (
    exec 3<>"/dev/tcp/$HOST/$port" || exit 1
    {
      printf '%s %s HTTP/1.0\r\nHost: %s\r\n' "$method" "$path" "$HOST"
      [[ -n $key ]] && printf 'Authorization: Bearer %s\r\n' "$key"
      [[ -n $body ]] && printf 'Content-Type: application/json\r\nContent-Length: %d\r\n' "${#body}"
      printf '\r\n%s' "$body"
    } >&3
    timeout 5 cat <&3
  ) 2>/dev/null | awk 'NR == 1 { print $2; next } body { print; next } /^\r?$/ { body = 1 }'
}

# Runs the SQLite baseline: prints "ROWS_PER_S COMMIT_P99_US".
sqlite_baseline() {
  local rows=$1 out
  out=$("$sqlite_bin" "$tmp/sqlite-$rows-$RANDOM$RANDOM.db" "$rows" "$SQLITE_SECONDS") ||
    die "cpm-bench-sqlite $rows failed"
  rm -f "$tmp"/sqlite-*.db "$tmp"/sqlite-*.db-wal "$tmp"/sqlite-*.db-shm
  awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
       END { print v["rows_per_s"], v["commit_p99_us"] }' <<<"$out"
}

seed_file() {
  local purposes='' refs='' p
  for p in marketing.sms marketing.email marketing.push analytics; do
    purposes+="${purposes:+,}{\"id\":\"$p\",\"name\":{\"zh-Hans\":\"$p\",\"en\":\"$p\"},"
    purposes+="\"legal_basis\":\"consent\",\"consent_form\":\"general\",\"retention\":\"P2Y\"}"
    refs+="${refs:+,}{\"purpose\":\"$p\",\"change\":\"material\"}"
  done
  cat <<EOF
{
  "properties": [{"id": "shop", "name": "Shop", "kind": "web",
    "allowed_origins": ["https://shop.example"], "locales": ["zh-Hans", "zh-Hant", "en"],
    "default_locale": "zh-Hans"}],
  "purposes": [$purposes],
  "notices": [{"id": "privacy", "name": "Privacy notice", "default_locale": "zh-Hans",
    "versions": [{"content": {
      "zh-Hans": {"title": "隐私政策", "text": "我们如何处理您的个人信息。"},
      "zh-Hant": {"title": "私隱政策", "text": "我們如何處理您的個人資料。"},
      "en": {"title": "Privacy notice", "text": "How we process your personal information."}},
      "purposes": [$refs]}]}]
}
EOF
}

start_cpmd() {
  "$cpm_bin" init --data "$tmp/data" >"$tmp/admin-key" 2>"$tmp/init.log" || {
    cat "$tmp/init.log" >&2
    die "cpm init failed"
  }
  seed_file >"$tmp/seed.json"
  "$cpm_bin" seed --data "$tmp/data" "$tmp/seed.json" >"$tmp/seed.log" 2>&1 || {
    cat "$tmp/seed.log" >&2
    die "cpm seed failed"
  }
  start_cpmd_timed "$tmp/data" "$tmp/cpmd.log" "$START_TIMEOUT_S"
}

# The notice version's English text hash, as the server computed it.
notice_sha256() {
  http "$cpmd_port" GET /v1/notices/privacy/versions/1 | tail -n +2 |
    grep -o '"en": *{[^}]*}' | grep -o '"sha256": *"[0-9a-f]\{64\}"' | grep -o '[0-9a-f]\{64\}' || true
}

# The size of the latest signed checkpoint, once it has stopped growing
# (the checkpointer signs within a second of a write); empty if unreadable.
ledger_size() {
  local i size last=
  for ((i = 0; i < 10; i++)); do
    size=$(http "$cpmd_port" GET /v1/ledger/checkpoint | sed -n 3p | tr -d '\r')
    [[ $size =~ ^[0-9]+$ ]] || return 0
    [[ $size == "$last" ]] && break
    last=$size
    sleep 1.2
  done
  echo "$last"
}

# Runs wrk: prints "OK NON201 SOCKET_ERRORS SECONDS P99_MS"; the first non-201
# answer, if any, goes to $tmp/error-TAG.
measure() {
  local connections=$1 decisions=$2 seconds=$3 tag=$4 threads=2 out line
  ((connections < threads)) && threads=$connections
  out=$(CPM_BENCH_KEY=$key timeout $((seconds + 30)) wrk -t"$threads" -c"$connections" \
    -d"${seconds}s" --timeout 5s -s "$lua" "http://$HOST:$cpmd_port" -- "$tag" "$decisions" \
    "$sha") || die "wrk failed (c=$connections, $decisions decisions)"
  line=$(grep '^CPM_RESULT ' <<<"$out") || die "wrk printed no result: $out"
  sed -n 's/.*first_error="\(.*\)"$/\1/p' <<<"$line" >"$tmp/error-$tag"
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
       END { printf "%d %d %d %s %.3f\n", v["ok"], v["non201"], v["socket_errors"],
             v["seconds"], v["p99_us"] / 1000 }' <<<"$line"
}

echo "durable writes benchmark: $(nproc) cores, loopback, data in ${TMPDIR:-/tmp}" \
  "($(df -P "$tmp" | awk 'NR == 2 { print $1 }'))" >&2

echo "SQLite baseline (${SQLITE_SECONDS}s each, WAL, synchronous=FULL)" >&2
read -r base1_a base1_p99 < <(sqlite_baseline 1)
read -r base100_a base100_p99 < <(sqlite_baseline 100)
echo "  1 row/commit $base1_a rows/s (commit p99 $base1_p99 µs), 100 rows/commit $base100_a rows/s" >&2

start_cpmd
key=$(head -n 1 "$tmp/admin-key")
[[ -n $key ]] || die "cpm init printed no admin key"
sha=$(notice_sha256)
[[ -n $sha ]] || die "cannot read the notice version's sha256 from cpmd"
preflight=$(http "$cpmd_port" POST /v1/subjects/preflight/consents \
  "{\"property\":\"shop\",\"channel\":\"web\",\"locale\":\"en\",\"method\":\"click\",\"notice\":{\"id\":\"privacy\",\"version\":1,\"sha256\":\"$sha\"},\"decisions\":[{\"purpose\":\"marketing.sms\",\"decision\":\"given\"}]}" \
  "$key")
[[ $(head -n 1 <<<"$preflight") == 201 ]] || die "a consent POST was not answered 201: $preflight"

echo "cpmd on :$cpmd_port; warming up (${WARMUP_SECONDS}s, 64 connections)" >&2
measure 64 1 "$WARMUP_SECONDS" w0 >/dev/null

configs=("1 1" "1 4" "64 1" "64 4")
declare -A eps rps p99 errs
round=0
counted=0
size_before=$(ledger_size)
for cfg in "${configs[@]}"; do
  read -r c d <<<"$cfg"
  round=$((round + 1))
  read -r ok bad sock secs lat < <(measure "$c" "$d" "$RUN_SECONDS" "r$round")
  rps[$cfg]=$(awk -v n="$ok" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
  eps[$cfg]=$(awk -v n="$ok" -v d="$d" -v s="$secs" 'BEGIN { printf "%.0f", n * d / s }')
  p99[$cfg]=$lat
  errs[$cfg]=$((bad + sock))
  counted=$((counted + ok * d))
  printf '  %2d connections, %d decision(s): %8s events/s %7s req/s  p99 %7s ms%s\n' "$c" "$d" \
    "${eps[$cfg]}" "${rps[$cfg]}" "$lat" "$( ((bad + sock > 0)) && echo "  ($bad non-201, $sock socket errors)")" >&2
  if ((bad > 0)); then
    echo "    first non-201 answer: $(cat "$tmp/error-r$round")" >&2
  fi
done
size_after=$(ledger_size)
stop "$cpmd_pid"
cpmd_pid=
logged_errors=$(grep -c 'level=error' "$tmp/cpmd.log" || true)

echo "SQLite baseline again" >&2
read -r base1_b base1_p99_b < <(sqlite_baseline 1)
read -r base100_b base100_p99_b < <(sqlite_baseline 100)
echo "  1 row/commit $base1_b rows/s (commit p99 $base1_p99_b µs), 100 rows/commit $base100_b rows/s" >&2
base1=$((base1_a > base1_b ? base1_a : base1_b))
base100=$((base100_a > base100_b ? base100_a : base100_b))
base1_p99=$(awk -v a="$base1_p99" -v b="$base1_p99_b" 'BEGIN { print (a < b) ? a : b }')
base100_p99=$(awk -v a="$base100_p99" -v b="$base100_p99_b" 'BEGIN { print (a < b) ? a : b }')

ratio() { awk -v a="$1" -v b="$base1" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
verdict() {
  awk -v e="$1" -v t="$2" -v r="$3" -v tr="$TARGET_RATIO" \
    'BEGIN { print (e >= t && r >= tr) ? "meets" : "below" }'
}

echo
echo "Durable consent writes (POST, new subject each, ${RUN_SECONDS}s each) beside SQLite on the same disk"
printf '%-34s %10s %9s %9s %7s %8s  %s\n' configuration events/s req/s "p99 ms" errors "x 1-row" target
for cfg in "${configs[@]}"; do
  read -r c d <<<"$cfg"
  r=$(ratio "${eps[$cfg]}")
  target=
  if ((c == 64)); then
    t=$TARGET_EVENTS_1
    ((d == 4)) && t=$TARGET_EVENTS_4
    target=">= $t events/s and >= ${TARGET_RATIO}x: $(verdict "${eps[$cfg]}" "$t" "$r")"
  fi
  printf '%-34s %10s %9s %9s %7s %8s  %s\n' "cpmd, $c conn, $d decision(s)/req" "${eps[$cfg]}" \
    "${rps[$cfg]}" "${p99[$cfg]}" "${errs[$cfg]}" "$r" "$target"
done
printf '%-34s %10s %9s %9s %7s %8s  %s\n' "SQLite, 1 row per commit" "$base1" "-" \
  "$(awk -v u="$base1_p99" 'BEGIN { printf "%.3f", u / 1000 }')" 0 1.0 "(best of 2; commit p99)"
printf '%-34s %10s %9s %9s %7s %8s  %s\n' "SQLite, 100 rows per commit" "$base100" "-" \
  "$(awk -v u="$base100_p99" 'BEGIN { printf "%.3f", u / 1000 }')" 0 "$(ratio "$base100")" \
  "(best of 2; the ceiling)"
if [[ -n $size_before && -n $size_after ]]; then
  # wrk stops counting at its deadline; requests then in flight still commit.
  printf 'ledger check: the signed tree grew by %d events; wrk counted %d answered 201 (%s)\n' \
    $((size_after - size_before)) "$counted" \
    "$( ((size_after - size_before >= counted)) && echo "the rest were in flight at each run's end" ||
      echo "FEWER than answered: acknowledged writes are missing")"
else
  echo "ledger check: could not read /v1/ledger/checkpoint"
fi
((logged_errors > 0)) && echo "note: cpmd logged $logged_errors error line(s) during the runs"
exit 0
