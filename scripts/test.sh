#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make test`: builds with ASan+UBSan (and the release build `make run`
# serves), then runs every suite — unit tests (ctest/cmocka), source checks
# (clang-format, SPDX lines), the OpenAPI lint, the widget's core and size
# budget, the API suite against a real cpmd, and the consent popup in Chromium
# (tests/browser/). Usage: scripts/test.sh BUILD_DIR
set -euo pipefail
build=${1:-build-test}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n== %s\n' "$*"; }

step "build ($build, ASan+UBSan)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCPM_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

step "release build (build, what make run serves; -O2 finds warnings the debug build does not)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

step "unit tests"
(cd "$build" && ctest --output-on-failure -j "$(nproc)")

step "source checks"
scripts/check-sources.sh

step "npm packages for the test suites"
if [[ ! -d tests/node_modules ]] || [[ tests/package-lock.json -nt tests/node_modules ]]; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

step "OpenAPI lint"
tests/node_modules/.bin/redocly lint --config tests/redocly.yaml docs/openapi.yaml

step "web (widget core and size budget)"
node --test --test-concurrency=1 tests/web/

step "API suite (real cpmd over loopback)"
CPM_BUILD_DIR="$root/$build" node --test --test-concurrency=1 tests/api/

step "browser tests (Chromium)"
CPM_BUILD_DIR="$root/$build" node --test --test-concurrency=1 tests/browser/
