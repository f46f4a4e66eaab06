# GroupChat: the two commands that matter are `make run` and `make test`.
#
#   make deps     install the Debian packages the project needs (idempotent)
#   make          build build/groupchat and the tests (RelWithDebInfo)
#   make run      deps if missing, build, start one node with config/node.yaml
#   make test     build and run every test (unit, integration) with ctest,
#                 after a short run of each fuzz target (FUZZ_SMOKE_SECONDS)
#                 (SKIP_SANITIZED=1: all but what `make sanitize` runs)
#   make fuzz     build the libFuzzer targets (clang, build-fuzz) and run each
#                 for FUZZ_SECONDS on a copy of its corpus (fuzz/README.md)
#   make soak     run the randomized federation fault test for SOAK_SECONDS
#   make sanitize the unit and federation tests under ASan + UBSan (build-san;
#                 .ci/run runs it after make test SKIP_SANITIZED=1, having
#                 built it beside that run with make sanitize-build)
#   make bench    run the benchmarks in bench/ (see bench/README.md)
#
# Options: SANITIZE=address,undefined (build and test in build-san, Debug at
#            -O0 -g1, compiled by SAN_CXX=clang++-14, every finding fatal; the
#            node binary the tests start is the sanitized one, the embedded
#            PostgreSQL is Debian's)
#          BUILD_TYPE=Debug  BUILD=dir  JOBS=n
#          TARGETS="unit_tests groupchat" (build only these)
#          TEST_JOBS=n (tests at once, default 4)
#          CTEST_LABELS='unit|federation' (run only tests with a matching label)
#          SKIP_SANITIZED=1 (make test builds neither unit_tests nor
#            federation_tests and runs no test labelled unit or federation:
#            .ci/run runs those once, under `make sanitize`, the stricter run,
#            instead of twice; every test still runs once in CI. A developer's
#            plain `make test` runs everything)
#          FUZZ_SECONDS=60  FUZZ_SMOKE_SECONDS=3 (0: make test runs no fuzzing)
#          FUZZ_JOBS=n (fuzz targets run at once, default nproc)

SANITIZE   ?=
BUILD      ?= $(if $(SANITIZE),build-san,build)
BUILD_TYPE ?= $(if $(SANITIZE),Debug,RelWithDebInfo)
JOBS       ?= $(shell nproc)
CONFIG     ?= config/node.yaml
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
TARGETS    ?=
CTEST_LABELS ?=
SKIP_SANITIZED ?=
# What `make sanitize` builds and runs, and what the rest of the suite needs.
SANITIZED_TARGETS := groupchat unit_tests federation_tests
SANITIZED_LABELS  := unit|federation
UNSANITIZED_TARGETS := groupchat integration_tests gc-loadgen
# Tests mostly wait on nodes, PostgreSQL and browsers: more run at once than
# there are cores (4 on 2 cores: 5.9 min of ctest instead of 7.4).
TEST_JOBS  ?= 4
FUZZ_BUILD ?= build-fuzz
FUZZ_CXX   ?= clang++-14
SAN_CXX    ?= clang++-14
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(shell nproc)
FUZZ_SMOKE_SECONDS ?= 3

.PHONY: all deps configure build run run-beta test soak sanitize sanitize-build fuzz fuzz-build bench clean

all: build

deps:
	@bash scripts/install-deps.sh

# A sanitized build is compiled by clang (SAN_CXX): at -O0 with ASan and
# UBSan it takes about half of gcc's compile CPU for the same files (bench/
# RESULTS.md, CI time), and CI builds it on every run. The normal build stays
# gcc's.
$(BUILD)/CMakeCache.txt:
	@command -v cmake >/dev/null 2>&1 || bash scripts/install-deps.sh
	@if [ -n "$(SANITIZE)" ]; then command -v $(SAN_CXX) >/dev/null 2>&1 || bash scripts/install-deps.sh; fi
	cmake -S . -B $(BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSANITIZE=$(SANITIZE) \
	  $(if $(SANITIZE),-DCMAKE_CXX_COMPILER=$(SAN_CXX))

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS) $(if $(SKIP_SANITIZED),--target $(UNSANITIZED_TARGETS),$(if $(TARGETS),--target $(TARGETS)))

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
	@if [ "$(FUZZ_SMOKE_SECONDS)" = 0 ]; then echo "fuzz: not run by this make test (FUZZ_SMOKE_SECONDS=0)"; \
	else $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS); fi
	cd $(BUILD) && $(if $(SANITIZE),UBSAN_OPTIONS=print_stacktrace=1) ctest --output-on-failure -j $(TEST_JOBS) --timeout 900 $(if $(CTEST_LABELS),-L '$(CTEST_LABELS)') \
	  $(if $(SKIP_SANITIZED),-LE '$(SANITIZED_LABELS)' -E '_NOT_BUILT$$')

# libFuzzer targets: their own CMake project (fuzz/CMakeLists.txt), built
# with clang in $(FUZZ_BUILD); the gcc build is not involved.
$(FUZZ_BUILD)/CMakeCache.txt:
	@command -v $(FUZZ_CXX) >/dev/null 2>&1 || bash scripts/install-deps.sh
	cmake -S fuzz -B $(FUZZ_BUILD) -G "$(GENERATOR)" -DCMAKE_CXX_COMPILER=$(FUZZ_CXX)

fuzz-build: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The unit and federation integration tests under AddressSanitizer and
# UndefinedBehaviorSanitizer (every finding fatal), building only what they
# run. The node processes are the sanitized binary; the embedded PostgreSQL
# is Debian's.
sanitize:
	$(MAKE) --no-print-directory test SANITIZE=address,undefined \
	  FUZZ_SMOKE_SECONDS=0 SKIP_SANITIZED= TARGETS="$(SANITIZED_TARGETS)" \
	  CTEST_LABELS='$(SANITIZED_LABELS)'

# Only the build of `make sanitize` (.ci/run starts it early, beside make test).
sanitize-build:
	$(MAKE) --no-print-directory build SANITIZE=address,undefined TARGETS="$(SANITIZED_TARGETS)"

# The randomized federation fault test, long (SOAK_SECONDS, default 300;
# GC_CHAOS_SEED=N replays a schedule). Prints its seed and figures.
SOAK_SECONDS ?= 300
soak: build
	GC_CHAOS_SECONDS=$(SOAK_SECONDS) $(BUILD)/tests/integration_tests --gtest_color=no --gtest_filter='FederationChaosTest.*'

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) build-san $(FUZZ_BUILD)
