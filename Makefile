# SPDX-License-Identifier: Apache-2.0
# The README's two commands, and a few conveniences. CMake does the building.
BUILD      ?= build
TEST_BUILD ?= build-test
DATA       ?= data
LISTEN     ?= 127.0.0.1:8080
JOBS       ?= $(shell nproc)
# Decision benchmarks' sizes: bench/decide.sh over HTTP, bench/coldstart.sh (which also
# runs cpm-bench-decide). 10 M is the budgets' size: its population takes ~15 min and
# ~28 GB in TMPDIR. With CPM_BENCH_DATA=DIR populations are kept in DIR/NxE and reused.
BENCH_DECIDE_SUBJECTS    ?= 1000000
BENCH_COLDSTART_SUBJECTS ?= 10000000

.PHONY: all build run test format bench clean deps

all: build

deps:
	@scripts/deps.sh build

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run-demo.sh $(BUILD) $(DATA) $(LISTEN)

test:
	@scripts/deps.sh build test
	@scripts/test.sh $(TEST_BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

# bench/sync.sh also needs nats-server (deps.sh test) and the nats npm package (tests/).
bench: build
	@scripts/deps.sh bench test
	@[ -d tests/node_modules/nats ] || (cd tests && npm ci --no-audit --no-fund --loglevel=error)
	@bench/healthz.sh $(BUILD)
	@bench/writes.sh $(BUILD)
	@bench/sync.sh $(BUILD)
	@bench/proofs.sh $(BUILD)
	@bench/decide.sh $(BUILD) $(BENCH_DECIDE_SUBJECTS)
	@bench/coldstart.sh $(BUILD) $(BENCH_COLDSTART_SUBJECTS)
	@bench/import.sh $(BUILD)
	@bench/export.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
