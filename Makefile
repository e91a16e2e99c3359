# SPDX-License-Identifier: Apache-2.0
# The README's two commands, and a few conveniences. CMake does the building.
BUILD      ?= build
TEST_BUILD ?= build-test
DATA       ?= data
LISTEN     ?= 127.0.0.1:8080
JOBS       ?= $(shell nproc)

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

bench: build
	@scripts/deps.sh bench
	@bench/healthz.sh $(BUILD)
	@bench/writes.sh $(BUILD)
	@bench/proofs.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
