#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the bench/ scripts share; sourced, never run. Callers set STOP_TIMEOUT_S.
# Its helpers read and set the callers' globals (HOST, tmp, cpm_bin, cpmd_pid, ...):
# shellcheck disable=SC2034,SC2154

# Prints why the measurement cannot go on, as "SCRIPT: message", and exits 1.
die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# Stops one process we started: TERM, then KILL after STOP_TIMEOUT_S.
stop() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Makes the private directory $tmp; on exit stops $cpmd_pid and $nginx_pid (when
# the caller started them) and removes $tmp.
bench_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpm-bench.XXXXXX")
  cpmd_pid=
  nginx_pid=
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# shellcheck disable=SC2317  # called by the EXIT trap
bench_cleanup() {
  stop "$cpmd_pid"
  stop "$nginx_pid"
  rm -rf "$tmp"
}

# ---- shared by the HTTP benchmarks (healthz.sh, decide.sh, coldstart.sh) ----
# They use the caller's HOST (loopback address) and tmp (a private directory).

now_ns() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# VmRSS of a process in KiB (0 once it is gone).
rss_kib() { awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU time (user + system, clock ticks) used so far by the processes $@ and their children
# (nginx's workers under its master): beside a request count, a cost per request that the
# machine's noise moves far less than a throughput.
cpu_ticks() {
  local pid total=0 t
  for pid in "$@" $(pgrep -P "$(tr ' ' , <<<"$*")" 2>/dev/null); do
    t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# Prints nginx's path, or nothing when it is not installed.
find_nginx() {
  command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true
}

# True when something accepts connections on HOST:port.
listening() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# True when GET /healthz on port answers 200 now. No process is started
# (a subshell or curl every 10 ms took a third of a core from the cpmd being
# timed on a 2-core machine, and a starting cpmd is CPU-bound).
healthy() {
  local status='' fd
  { exec {fd}<>"/dev/tcp/$HOST/$1"; } 2>/dev/null || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$HOST" >&"$fd"
  IFS= read -r -t 2 -u "$fd" status || true
  exec {fd}>&-
  [[ $status == "HTTP/1."[01]" 200"* ]]
}

# Sleeps $1 seconds without a process: a read that times out on a pipe nobody writes to.
nap() {
  [[ -n ${nap_fd:-} ]] || exec {nap_fd}<> <(:)
  read -r -t "$1" -u "$nap_fd" _ || true
}

wait_healthy() {
  local pid=$1 port=$2 timeout_s=$3 i
  for ((i = 0; i < timeout_s * 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    healthy "$port" && return 0
    nap 0.01
  done
  return 1
}

# Only the temp-path directives this nginx build knows (nginx-light lacks some modules).
nginx_temp_paths() {
  local dir=$1 v kind directive
  v=$("$nginx_bin" -V 2>&1)
  for kind in client_body proxy fastcgi uwsgi scgi; do
    directive=${kind}_temp_path
    case $kind in
      client_body) ;;
      *) [[ $v == *"--without-http_${kind}_module"* ]] && continue ;;
    esac
    mkdir -p "$dir/$kind"
    printf '    %s %s;\n' "$directive" "$dir/$kind"
  done
}

# Starts nginx (nginx_bin) from a throwaway config in $tmp/nginx, one worker per core,
# answering GET /healthz with {"status":"ok"} and whatever location blocks are given in
# $1. Sets nginx_pid and nginx_port; dies when it does not start.
start_nginx() {
  local locations=${1:-} attempt port
  mkdir -p "$tmp/nginx"
  for ((attempt = 0; attempt < 20; attempt++)); do
    port=$((20000 + RANDOM % 40000))
    listening "$port" && continue
    cat >"$tmp/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    keepalive_requests 1000000;
$(nginx_temp_paths "$tmp/nginx")
    server {
        listen $HOST:$port;
        location /healthz {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
$locations
    }
}
CONF
    "$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
    nginx_pid=$!
    if wait_healthy "$nginx_pid" "$port" 10; then
      nginx_port=$port
      return 0
    fi
    stop "$nginx_pid"
    nginx_pid=
  done
  cat "$tmp/nginx/error.log" >&2 2>/dev/null || true
  die "nginx did not start"
}

# Starts cpmd on a data directory, listening on a free loopback port (chosen here, so
# no log line is needed: any --log-level works), its log in $2, more cpmd options after
# $3. Sets cpmd_pid, cpmd_port and cpmd_start_s (spawn to the first 200 from /healthz:
# the index is loaded by then); dies when it does not answer within $3 seconds.
start_cpmd_timed() {
  local data=$1 log=$2 timeout_s=$3 t0 port attempt
  shift 3
  for ((attempt = 0; attempt < 10; attempt++)); do
    port=$((20000 + RANDOM % 40000))
    listening "$port" && continue
    t0=$(now_ns)
    "$cpmd_bin" --data "$data" --listen "$HOST:$port" "$@" 2>"$log" &
    cpmd_pid=$!
    if wait_healthy "$cpmd_pid" "$port" "$timeout_s"; then
      cpmd_start_s=$(seconds_since "$t0")
      cpmd_port=$port
      return 0
    fi
    kill -0 "$cpmd_pid" 2>/dev/null && break # alive but not answering: no retry
    wait "$cpmd_pid" 2>/dev/null || true
    grep -q 'Address already in use\|cannot listen\|bind' "$log" 2>/dev/null || break
  done
  tail -n 20 "$log" >&2
  die "cpmd did not answer /healthz"
}

# Runs wrk for $1 seconds against URL $2 (more wrk arguments after it: a script, -H …);
# prints "REQ_PER_S P99_MS ERRORS" (errors: non-2xx/3xx answers and socket errors).
wrk_measure() {
  local seconds=$1 url=$2 out
  shift 2
  out=$(timeout $((seconds + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${seconds}s" \
    --timeout 2s --latency "$@" "$url") || die "wrk failed against $url"
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
      return v + 0
    }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    END { printf "%.0f %.3f %d\n", rps, p99, errors }
  ' <<<"$out"
}

# ---- the decision benchmarks' population (bench/population.h) ----

readonly POPULATION_BYTES_PER_EVENT=700 # the SQLite store, ≈ 550 measured, with room

# A value from a data directory's bench-population file ("" when absent).
population_value() {
  awk -F= -v k="$2" '$1 == k { print $2 }' "$1/bench-population" 2>/dev/null || true
}

# Makes $1 a data directory holding the population of $2 subjects with $3 events each:
# reused when it holds exactly that already; made with `cpm init`, `cpm seed
# bench/population-seed.json` and cpm-bench-populate when it is absent or empty.
# Needs cpm_bin and populate_bin. Sets population_reused (1 or 0) and populate_s.
populate() {
  local dir=$1 n=$2 e=$3 free_kb need_kb here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  population_reused=0
  populate_s=0
  if [[ -f $dir/bench-population ]]; then
    [[ $(population_value "$dir" subjects) == "$n" &&
      $(population_value "$dir" events_per_subject) == "$e" ]] ||
      die "$dir holds another population ($(population_value "$dir" subjects) subjects x $(population_value "$dir" events_per_subject) events); use another directory"
    population_reused=1
    echo "reusing the population in $dir ($n subjects x $e events)" >&2
    return 0
  fi
  if [[ -e $dir ]] && [[ -n $(ls -A "$dir" 2>/dev/null) ]]; then
    die "$dir is not empty and holds no finished population (remove it, or name another)"
  fi
  mkdir -p "$dir"
  free_kb=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
  need_kb=$((n * e * POPULATION_BYTES_PER_EVENT / 1024))
  ((free_kb > need_kb)) ||
    die "$n subjects x $e events need about $((need_kb / 1024)) MiB in $dir; $((free_kb / 1024)) MiB are free"
  "$cpm_bin" init --data "$dir" >"$tmp/population-init.log" 2>&1 || {
    cat "$tmp/population-init.log" >&2
    die "cpm init failed"
  }
  "$cpm_bin" seed --data "$dir" "$here/population-seed.json" >"$tmp/population-seed.log" 2>&1 || {
    cat "$tmp/population-seed.log" >&2
    die "cpm seed failed"
  }
  local t0
  t0=$(now_ns)
  "$populate_bin" "$dir" "$n" "$e" >&2 || die "cpm-bench-populate failed"
  populate_s=$(seconds_since "$t0")
}

# Builds a bench tool ($2) in the build directory ($1) when it is missing; prints its path.
bench_tool() {
  local build=$1 name=$2
  if [[ ! -x $build/$name ]]; then
    cmake --build "$build" --target "$name" >/dev/null ||
      die "cannot build $name in '$build' (configured with -DCPM_BENCH=OFF?)"
  fi
  echo "$build/$name"
}

# ---- the import and export benchmarks (bench/import.sh, bench/export.sh) ----

# Writes an import file (docs/IMPORT-EXPORT.md) of N rows to $2 for the
# configuration of bench/population-seed.json: N / 5 subjects "s%09d" with 5
# decisions each on 5 of the 8 purposes (15 % refused), and for every fourth
# subject the last row a later withdrawal of its first purpose, so that row
# sets the state and the earlier one only joins the history. Each row has a
# source_id. About 90 bytes a row.
import_rows() {
  local n=$1 out=$2
  awk -v n="$((n / 5))" '
    BEGIN {
      split("marketing.sms marketing.email marketing.push analytics personalisation ads.third_party research cross_border.transfer", P, " ")
      print "subject,purpose,decision,time,property,channel,locale,notice_id,notice_version,source_id"
      for (i = 0; i < n; i++)
        for (j = 0; j < 5; j++) {
          if (j == 4 && i % 4 == 0) { p = P[i % 8 + 1]; d = "withdrawn"; m = 12; nid = ""; nv = "" }
          else { p = P[(i + j) % 8 + 1]; d = (i * 31 + j * 17) % 100 < 15 ? "refused" : "given"; m = 1 + j * 2; nid = "privacy"; nv = 1 }
          printf "s%09d,%s,%s,2025-%02d-%02dT%02d:%02d:%02dZ,shop,web,zh-Hans,%s,%s,r%d-%d\n", i, p, d, m, 1 + i % 28, i % 24, int(i / 24) % 60, (j * 7) % 60, nid, nv, i, j
        }
    }' >"$out"
}

# A /usr/bin/time -v report ($1) as "SECONDS PEAK_RSS_KIB".
time_report() {
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
    /Maximum resident set size/ { rss = $2 }
    END { printf "%.2f %d\n", s, rss }' "$1"
}
