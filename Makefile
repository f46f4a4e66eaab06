# GroupChat: the two commands that matter are `make run` and `make test`.
#
#   make deps     install the Debian packages the project needs (idempotent)
#   make          build build/groupchat and the tests (RelWithDebInfo)
#   make run      deps if missing, build, start one node with config/node.yaml
#   make test     build and run every test (unit, integration) with ctest
#   make soak     run the randomized federation fault test for SOAK_SECONDS
#   make bench    run the benchmarks in bench/ (see bench/README.md)
#
# Options: SANITIZE=address,undefined  BUILD_TYPE=Debug  BUILD=dir  JOBS=n

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
SANITIZE   ?=
JOBS       ?= $(shell nproc)
CONFIG     ?= config/node.yaml
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps configure build run run-beta test soak bench clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	@command -v cmake >/dev/null 2>&1 || bash scripts/install-deps.sh
	cmake -S . -B $(BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSANITIZE=$(SANITIZE)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	@echo "Starting GroupChat with $(CONFIG) (Ctrl-C stops it)"
	@echo "  web client:    http://127.0.0.1:8080/"
	@echo "  admin console: http://127.0.0.1:8080/admin/"
	@echo "  (addresses as in http.listen of $(CONFIG))"
	exec $(BUILD)/groupchat serve --config $(CONFIG)

# A second node, beta.test, federating with the first (try it in another
# terminal while `make run` is going; see README, Federation).
run-beta: deps build
	@echo "Starting a second node, beta.test, with config/beta.yaml (Ctrl-C stops it)"
	@echo "  web client:    http://127.0.0.1:8090/"
	exec $(BUILD)/groupchat serve --config config/beta.yaml

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

# The randomized federation fault test, long (SOAK_SECONDS, default 300;
# GC_CHAOS_SEED=N replays a schedule). Prints its seed and figures.
SOAK_SECONDS ?= 300
soak: build
	GC_CHAOS_SECONDS=$(SOAK_SECONDS) $(BUILD)/tests/federation_chaos_test --gtest_color=no

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD)
