#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Audience filtering at scale: N subjects' consent states, N ids streamed
# through POST /v1/audiences/filter, beside the SQL join a team would write by
# hand in PostgreSQL 15 on the same data in the same run. Usage:
# bench/audience.sh BUILD_DIR [N]   (N subjects, default 10 000 000)
# With CPM_BENCH_DATA=DIR the loaded store, the audience and the API key are
# kept in DIR/audience-N and reused by later runs (10 M: about a minute of
# loading saved, 2.1 GB kept); without it they go with the temporary directory.
# A cpmd with a newer schema migrates the kept store, and older builds then
# refuse it: to compare two builds, let the older one make the store.
#
# The data: `cpm init` and `cpm seed` (one consent purpose, marketing.sms),
# then N subjects and their consent states written straight into the SQLite
# store by recursive-CTE SQL (the tables of src/store/migrations/sqlite.c;
# pseudonyms and seqs are dummies: decisions read neither). Subject i is
# refused when i % 10 is 0 or 2, withdrawn when 1, has no consent when 9, and
# gave consent otherwise: 60 % are allowed. The audience is all N ids in a
# scrambled order (i × 1 000 003 mod N).
#
# cpmd: its RSS on an empty store, then its cold start on the loaded one
# (spawn to the first 200 from /healthz: the index is loaded by then, from the
# store: any index snapshot is removed first) and RSS
# growth per subject; then the audience sent with curl (`-T`, streamed), best
# of two runs, output checked. PostgreSQL: a throwaway cluster in the
# temporary directory (initdb as the `postgres` user when run as root),
# loopback only, shared_buffers=1GB, work_mem=512MB, fsync off; the states
# COPYed into consent_state(subject_id, purpose, status) with its primary
# key, ANALYZEd; then, in one psql session, the audience \copy'd into a temp
# table and `SELECT a.id FROM audience a JOIN consent_state c ON ...` \copy'd
# out (best of two). Targets: <= 3 s for 10 M ids (0.3 µs an id), and >= 20x
# the PostgreSQL round. The figures scale about linearly; a quick run:
# bench/audience.sh BUILD 1000000.
#
# It installs nothing (scripts/deps.sh bench names what it needs). A
# measurement, not a test: it exits 0 whatever the figures, and non-zero only
# when it could not measure. Everything it starts is stopped on exit.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly N_DEFAULT=10000000 SCRAMBLE=1000003
readonly TARGET_NS_PER_ID=300 TARGET_RATIO=20
readonly START_TIMEOUT_S=600 STOP_TIMEOUT_S=30
readonly BYTES_PER_SUBJECT=700 # disk for the SQLite store, the audience and PostgreSQL, with room
readonly HOST=127.0.0.1 PURPOSE=marketing.sms
readonly PG_BIN=/usr/lib/postgresql/15/bin

usage() {
  echo "usage: bench/audience.sh BUILD_DIR [N]   (BUILD_DIR holds cpm and cpmd; N subjects, default $N_DEFAULT)" >&2
  exit 2
}

(($# == 1 || $# == 2)) || usage
build=$1
n=${2:-$N_DEFAULT}
[[ $n =~ ^[1-9][0-9]{3,8}$ ]] || die "N must be a whole number from 1000 to 999999999"
((n % SCRAMBLE != 0)) || die "N must not be a multiple of $SCRAMBLE"
cpm_bin=$build/cpm
cpmd_bin=$build/cpmd
[[ -x $cpm_bin && -x $cpmd_bin ]] || die "no cpm and cpmd in '$build' (run \`make build\` first)"
for tool in sqlite3 curl psql; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (scripts/deps.sh bench)"
done
for tool in initdb pg_ctl postgres; do
  [[ -x $PG_BIN/$tool ]] || die "no $PG_BIN/$tool: PostgreSQL 15 is not installed (scripts/deps.sh bench)"
done
if ((EUID == 0)); then
  id -u postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (the postgresql package creates it)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpm-bench.XXXXXX")
keep=${CPM_BENCH_DATA:+$CPM_BENCH_DATA/audience-$n} # where the loaded data is kept, if anywhere
work=${keep:-$tmp}                                  # the data directory, audience and key
cpmd_pid=
pg_started=

# Runs a PostgreSQL server program as an unprivileged user: postgres when we are root.
as_pg() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop "$cpmd_pid"
  if [[ -n $pg_started ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$tmp/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

reusing=
[[ -n $keep && -f $keep/ready ]] && reusing=1
if [[ -z $reusing ]]; then
  [[ -z $keep ]] || ! [[ -e $keep ]] || rm -rf "$keep" # a load that did not finish
  mkdir -p "$work"
  free_kb=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
  need_kb=$((n * BYTES_PER_SUBJECT / 1024))
  ((free_kb > need_kb)) || die "$n subjects need about $((need_kb / 1024)) MiB in $work; $((free_kb / 1024)) MiB are free"
fi

now_ns() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# The subjects allowed by construction: i % 10 in 3..8.
expected_allowed() {
  awk -v n="$n" 'BEGIN { full = int(n / 10); r = n % 10; extra = 0
    for (k = 3; k <= 8; k++) if (k < r) extra++
    print full * 6 + extra }'
}

seed_file() {
  cat <<EOF
{
  "properties": [{"id": "shop", "name": "Shop", "kind": "web",
    "allowed_origins": ["https://shop.example"], "locales": ["zh-Hans", "en"],
    "default_locale": "zh-Hans"}],
  "purposes": [{"id": "$PURPOSE", "name": {"zh-Hans": "短信营销", "en": "SMS marketing"},
    "legal_basis": "consent", "consent_form": "general", "retention": "P2Y"}],
  "notices": [{"id": "privacy", "name": "Privacy notice", "default_locale": "zh-Hans",
    "versions": [{"content": {
      "zh-Hans": {"title": "隐私政策", "text": "我们如何处理您的个人信息。"},
      "en": {"title": "Privacy notice", "text": "How we process your personal information."}},
      "purposes": [{"purpose": "$PURPOSE", "change": "material"}]}]}]
}
EOF
}

# Subjects and consent states, in one transaction, without a journal (a throwaway store).
bulk_sql() {
  cat <<EOF
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
BEGIN;
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < $n)
INSERT INTO subjects (id, pseudonym, wrapped_key, age_status, created_ms, erased_ms)
SELECT printf('s%09d', i), printf('p%09d', i), NULL, 'adult', 1767225600000, 0 FROM k;
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < $n)
INSERT INTO consent_state (subject_id, purpose, recipient, status, seq, notice, notice_version,
                           decided_ms)
SELECT printf('s%09d', i), '$PURPOSE', '',
       CASE i % 10 WHEN 0 THEN 'refused' WHEN 2 THEN 'refused' WHEN 1 THEN 'withdrawn'
                   ELSE 'given' END,
       i + 1, 'privacy', 1, 1767225600000
FROM k WHERE i % 10 <> 9;
COMMIT;
PRAGMA journal_mode = WAL;
EOF
}

audience_sql() {
  cat <<EOF
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < $n)
SELECT printf('s%09d', (i * $SCRAMBLE) % $n) FROM k;
EOF
}

# Starts cpmd on data directory $1; sets cpmd_pid, cpmd_port and start_s (spawn to /healthz 200).
start_cpmd() {
  local t0 i url=
  t0=$(now_ns)
  "$cpmd_bin" --data "$1" --listen "$HOST:0" 2>"$tmp/cpmd.log" &
  cpmd_pid=$!
  for ((i = 0; i < START_TIMEOUT_S * 100; i++)); do
    url=$(grep -o "url=http://$HOST:[0-9]*" "$tmp/cpmd.log" 2>/dev/null | head -n 1 || true)
    [[ -n $url ]] && break
    kill -0 "$cpmd_pid" 2>/dev/null || break
    sleep 0.01
  done
  [[ -n $url ]] || {
    tail -n 20 "$tmp/cpmd.log" >&2
    die "cpmd did not start"
  }
  cpmd_port=${url##*:}
  for ((i = 0; i < 1000; i++)); do
    if curl -sf -o /dev/null "http://$HOST:$cpmd_port/healthz"; then
      start_s=$(seconds_since "$t0")
      return 0
    fi
    sleep 0.01
  done
  die "cpmd does not answer /healthz"
}

# One filter run: prints "SECONDS LINES_OUT ALLOWED_HEADER".
filter_once() {
  local out status secs
  out=$(curl -sS -X POST -T "$work/audience.txt" -H "Authorization: Bearer $key" \
    -H 'Content-Type: text/plain' -D "$tmp/filter.headers" -o "$tmp/filter.out" \
    -w '%{http_code} %{time_total}' \
    "http://$HOST:$cpmd_port/v1/audiences/filter?purpose=$PURPOSE") || die "curl failed"
  read -r status secs <<<"$out"
  [[ $status == 200 ]] || die "the filter answered $status: $(head -c 400 "$tmp/filter.out")"
  echo "$secs $(wc -l <"$tmp/filter.out") $(awk -F': ' 'tolower($1) == "x-cpm-audience-allowed" { print $2 + 0 }' "$tmp/filter.headers")"
}

free_port() {
  local port i
  for ((i = 0; i < 50; i++)); do
    port=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null || {
      echo "$port"
      return 0
    }
  done
  die "no free loopback port for PostgreSQL"
}

start_pg() {
  mkdir -p "$tmp/pg" "$tmp/pgsock"
  if ((EUID == 0)); then
    chmod 711 "$tmp"
    chown postgres "$tmp/pg" "$tmp/pgsock"
  fi
  as_pg "$PG_BIN/initdb" -D "$tmp/pg" -A trust -U postgres -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 || {
    tail -n 20 "$tmp/initdb.log" >&2
    die "initdb failed"
  }
  pg_port=$(free_port)
  # pg_ctl runs postgres through a shell command line: the options must stay on one line.
  local opts="-c listen_addresses=$HOST -p $pg_port -c unix_socket_directories=$tmp/pgsock"
  opts+=" -c shared_buffers=1GB -c work_mem=512MB -c maintenance_work_mem=1GB -c fsync=off"
  opts+=" -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=8GB"
  as_pg "$PG_BIN/pg_ctl" -D "$tmp/pg" -l "$tmp/pgsock/pg.log" -w -t 60 start -o "$opts" >/dev/null || {
    tail -n 20 "$tmp/pgsock/pg.log" >&2
    die "PostgreSQL did not start"
  }
  pg_started=1
}

psql_run() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$pg_port" -U postgres -d postgres "$@"
}

# The hand-written round: ids in, allowed ids out. Prints "SECONDS ROWS COPY_IN_MS QUERY_MS".
pg_once() {
  local t0 secs timings
  t0=$(now_ns)
  timings=$(
    psql_run <<EOF | awk '/^Time:/ { printf "%s ", $2 }'
\timing on
BEGIN;
CREATE TEMP TABLE audience (id text) ON COMMIT DROP;
\copy audience FROM '$work/audience.txt'
ANALYZE audience;
\copy (SELECT a.id FROM audience a JOIN consent_state c ON c.subject_id = a.id WHERE c.purpose = '$PURPOSE' AND c.status = 'given') TO '$tmp/pg.out'
COMMIT;
EOF
  ) || die "the PostgreSQL round failed"
  secs=$(seconds_since "$t0")
  read -r _ _ copy_ms _ query_ms _ <<<"$timings"
  echo "$secs $(wc -l <"$tmp/pg.out") ${copy_ms:-?} ${query_ms:-?}"
}

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }

echo "audience filter benchmark: $n subjects, $(nproc) cores, data in ${TMPDIR:-/tmp}" \
  "($(df -P "$tmp" | awk 'NR == 2 { print $1 }'))" >&2
want=$(expected_allowed)

# cpm init, seed and an API key; $1: the data directory. Prints the key.
new_store() {
  local data=$1 key
  "$cpm_bin" init --data "$data" >"$tmp/admin-key" 2>"$tmp/init.log" || {
    cat "$tmp/init.log" >&2
    die "cpm init failed"
  }
  seed_file >"$tmp/seed.json"
  "$cpm_bin" seed --data "$data" "$tmp/seed.json" >"$tmp/seed.log" 2>&1 || {
    cat "$tmp/seed.log" >&2
    die "cpm seed failed"
  }
  key=$("$cpm_bin" keys create --name bench --scope decisions:read --data "$data" 2>/dev/null |
    grep -o 'cpm_[A-Za-z0-9_-]*' | head -n 1) || true
  [[ -n $key ]] || die "cpm keys create printed no key"
  echo "$key"
}

new_store "$tmp/empty" >/dev/null
start_cpmd "$tmp/empty"
rss_empty=$(rss_kb "$cpmd_pid")
stop "$cpmd_pid"
cpmd_pid=

if [[ -n $reusing ]]; then
  key=$(cat "$keep/key")
  load_s="reused from $keep:"
  echo "reusing the store and audience in $keep" >&2
else
  key=$(new_store "$work/data")
  echo "loading $n subjects into SQLite" >&2
  t0=$(now_ns)
  bulk_sql | sqlite3 -bail "$work/data/cpm.db" >/dev/null || die "the bulk load into SQLite failed"
  audience_sql | sqlite3 -bail "$work/data/cpm.db" >"$work/audience.txt" || die "writing the audience failed"
  load_secs=$(seconds_since "$t0")
  load_s="$load_secs s;"
  echo "$key" >"$work/key"
  [[ -z $keep ]] || touch "$keep/ready"
  echo "  $load_secs s ($(du -sh "$work/data/cpm.db" | cut -f1) store, $(du -sh "$work/audience.txt" | cut -f1) audience)" >&2
fi
# Tables written behind cpmd's back (no ledger events) make any index snapshot stale; and a
# kept store's snapshot from the last run's clean stop would skip the load being timed.
rm -f "$work/data/index.snapshot"

echo "starting cpmd on it" >&2
start_cpmd "$work/data"
rss_loaded=$(rss_kb "$cpmd_pid")
bytes_per_subject=$(awk -v a="$rss_loaded" -v b="$rss_empty" -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
echo "  cold start $start_s s; RSS ${rss_empty} KiB empty, ${rss_loaded} KiB loaded" >&2

echo "filtering the audience through cpmd (2 runs)" >&2
read -r f1 lines1 hdr1 < <(filter_once)
read -r f2 lines2 hdr2 < <(filter_once)
rss_after=$(rss_kb "$cpmd_pid")
stop "$cpmd_pid"
cpmd_pid=
[[ $lines1 == "$want" && $lines2 == "$want" && $hdr1 == "$want" && $hdr2 == "$want" ]] ||
  die "cpmd allowed $lines1 / $lines2 ids (header $hdr1); expected $want"
cpmd_s=$(best "$f1" "$f2")
echo "  $f1 s, $f2 s; $lines1 allowed of $n" >&2

echo "PostgreSQL 15: loading the same states" >&2
start_pg
t0=$(now_ns)
psql_run -c "CREATE TABLE consent_state (subject_id text NOT NULL, purpose text NOT NULL, status text NOT NULL)"
sqlite3 -csv "$work/data/cpm.db" "SELECT subject_id, purpose, status FROM consent_state" |
  psql_run -c "\\copy consent_state FROM pstdin WITH (FORMAT csv)" || die "loading PostgreSQL failed"
psql_run -c "ALTER TABLE consent_state ADD PRIMARY KEY (subject_id, purpose)" -c "ANALYZE consent_state"
pg_load_s=$(seconds_since "$t0")
pg_size=$(psql_run -At -c "SELECT pg_size_pretty(pg_total_relation_size('consent_state'))")
pg_settings=$(psql_run -At -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
  FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'fsync', 'max_parallel_workers_per_gather')")
echo "  $pg_load_s s ($pg_size)" >&2
echo "the hand-written join (2 runs)" >&2
read -r p1 rows1 copy1 query1 < <(pg_once)
read -r p2 rows2 copy2 query2 < <(pg_once)
[[ $rows1 == "$want" && $rows2 == "$want" ]] || die "PostgreSQL returned $rows1 / $rows2 rows; expected $want"
pg_s=$(best "$p1" "$p2")
echo "  $p1 s (copy in $copy1 ms, join out $query1 ms), $p2 s (copy in $copy2 ms, join out $query2 ms)" >&2

ns_per_id=$(awk -v s="$cpmd_s" -v n="$n" 'BEGIN { printf "%.0f", s * 1e9 / n }')
ratio=$(awk -v a="$pg_s" -v b="$cpmd_s" 'BEGIN { printf "%.1f", a / b }')
meets() { awk -v ok="$1" 'BEGIN { print ok ? "meets" : "below" }'; }

echo
echo "Audience filter: $n ids in, $want allowed out, loopback, best of 2"
printf '%-44s %10s %10s  %s\n' "" seconds "ns / id" target
printf '%-44s %10s %10s  %s\n' "cpmd POST /v1/audiences/filter (curl -T)" "$cpmd_s" "$ns_per_id" \
  "<= $TARGET_NS_PER_ID ns/id (3 s for 10 M): $(meets "$((ns_per_id <= TARGET_NS_PER_ID))")"
printf '%-44s %10s %10s  %s\n' "PostgreSQL 15: \\copy in + join \\copy out" "$pg_s" \
  "$(awk -v s="$pg_s" -v n="$n" 'BEGIN { printf "%.0f", s * 1e9 / n }')" \
  "(the baseline)"
printf '%-44s %10s %10s  %s\n' "PostgreSQL / cpmd" "${ratio}x" "" \
  ">= ${TARGET_RATIO}x: $(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) ? "meets" : "below" }')"
echo
echo "cpmd cold start with $n subjects: $start_s s (spawn to /healthz 200, index loaded)"
echo "cpmd RSS: $rss_empty KiB empty, $rss_loaded KiB loaded (+$bytes_per_subject bytes a subject)," \
  "$rss_after KiB after the filter runs"
echo "loading: SQLite bulk insert + audience $load_s PostgreSQL COPY + primary key + ANALYZE $pg_load_s s ($pg_size)"
echo "PostgreSQL settings: $pg_settings"
logged_errors=$(grep -c 'level=error' "$tmp/cpmd.log" || true)
((logged_errors > 0)) && echo "note: cpmd logged $logged_errors error line(s)"
exit 0
