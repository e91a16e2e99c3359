#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the bench/ scripts share; sourced, never run. Callers set STOP_TIMEOUT_S.

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
