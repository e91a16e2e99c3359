#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages a group of tasks needs, only those missing.
# Idempotent; apt-get runs only when something is missing. As non-root it
# prints the command to run instead. Usage: scripts/deps.sh GROUP...
#   build  compiler, CMake and the C libraries
#   test   cmocka, clang-format, curl, sqlite3, nats-server (JetStream tests), Chromium and a CJK
#          font (browser tests); checks Node.js >= 20 and npm
#   bench  wrk and nginx (a baseline); PostgreSQL 15, sqlite3 and curl (bench/audience.sh)
set -euo pipefail

declare -A groups=(
  [build]="build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsodium-dev libssl-dev libsqlite3-dev libyaml-dev libcurl4-openssl-dev libnats-dev zlib1g-dev tzdata"
  [test]="libcmocka-dev clang-format curl sqlite3 ca-certificates nats-server chromium fonts-wqy-microhei"
  [bench]="wrk nginx-light postgresql sqlite3 curl"
)

wanted=()
for g in "$@"; do
  [[ -n "${groups[$g]+x}" ]] || { echo "deps.sh: unknown group '$g' (build, test, bench)" >&2; exit 2; }
  read -r -a pkgs <<<"${groups[$g]}"
  wanted+=("${pkgs[@]}")
done

missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "OpenCPM needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for g in "$@"; do
  if [[ $g == test ]]; then
    if ! command -v node >/dev/null 2>&1; then
      echo "OpenCPM's tests need Node.js >= 20 (and npm); none was found on PATH." >&2
      exit 1
    fi
    major=$(node -p 'process.versions.node.split(".")[0]')
    if ((major < 20)); then
      echo "OpenCPM's tests need Node.js >= 20; this machine has $(node --version)." >&2
      echo "Debian 12's own nodejs package is 18.x: install Node.js 20 or newer." >&2
      exit 1
    fi
    command -v npm >/dev/null 2>&1 || { echo "OpenCPM's tests need npm (with Node.js >= 20)." >&2; exit 1; }
  fi
done
exit 0
