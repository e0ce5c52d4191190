# worker-agent: `make run` and `make test` do their own set-up on a fresh Debian 12
# machine as root (packages, a Docker engine, the local test image).

comma := ,
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD_DIR ?= build
else
BUILD_DIR ?= build-$(subst $(comma),-,$(SANITIZE))
endif
BUILD_TYPE ?= RelWithDebInfo
CONFIG ?= etc/worker-agent.yaml
CTEST_ARGS ?=
JOBS ?= $(shell nproc)

CXX_SOURCES = $(shell git ls-files 'src/*.cc' 'src/*.h' 'tests/unit/*.cc' 'tests/unit/*.h' 2>/dev/null)
# The daemon and its unit tests (tests/fuzz is compiled only in build-fuzz, with clang).
TIDY_SOURCES = $(shell git ls-files 'src/*.cc' 'tests/unit/*.cc' 2>/dev/null)
# Every shell script the project keeps, found by its #! line.
SHELL_SOURCES = $(shell git ls-files -z 2>/dev/null | xargs -0 grep -lsE '^\#!(/usr/bin/env bash|/bin/(ba)?sh)$$')

.PHONY: all deps build run test test-unit test-integration test-valgrind images docker-up registry-up format lint \
	clean podman-up test-podman browser-up docker29-up test-docker29

all: build

deps:
	@scripts/deps.sh

# Configured again whenever the tree was configured with another build type (a Debug
# tree left behind would otherwise be what `make bench` measures), or with another
# UNIT_TESTS or TEST_DAEMON than one given here, and the tree keeps what it was last given:
# - UNIT_TESTS=OFF builds the tree without the unit tests;
# - TEST_DAEMON=/abs/path/worker-agent has the integration, browser and documentation
#   tests run that binary, and the tree no longer builds its own daemon (WA_TEST_DAEMON in
#   CMakeLists.txt; `cmake -U WA_TEST_DAEMON -B build` gives the tree its own back).
# CI's plain tree has both: `make test UNIT_TESTS=OFF TEST_DAEMON=...` with the daemon of
# the package (make deb-root), since CI runs the unit tests in its sanitizer tree and, at
# -O2, in its arm64 tree.
UNIT_TESTS ?=
TEST_DAEMON ?=
build: deps
	@grep -qx 'CMAKE_BUILD_TYPE:STRING=$(BUILD_TYPE)' $(BUILD_DIR)/CMakeCache.txt 2>/dev/null \
	  $(if $(UNIT_TESTS),&& grep -qx 'WA_UNIT_TESTS:BOOL=$(UNIT_TESTS)' $(BUILD_DIR)/CMakeCache.txt) \
	  $(if $(TEST_DAEMON),&& grep -qx 'WA_TEST_DAEMON:FILEPATH=$(TEST_DAEMON)' $(BUILD_DIR)/CMakeCache.txt) || \
	  cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSANITIZE=$(SANITIZE) \
	    $(if $(UNIT_TESTS),-DWA_UNIT_TESTS=$(UNIT_TESTS)) $(if $(TEST_DAEMON),-DWA_TEST_DAEMON=$(TEST_DAEMON))
	cmake --build $(BUILD_DIR) -j $(JOBS)

docker-up: deps
	@scripts/docker-up.sh

images: docker-up
	@scripts/test-images.sh

# The loopback registries the pull tests push to and pull from (127.0.0.1:5000 open,
# 127.0.0.1:5001 with basic auth), started in the background when they do not answer.
registry-up: deps
	@scripts/registry-up.sh

# What the browser test (CTest label "browser") needs: Debian's chromium, Node.js, and
# playwright-core as pinned in tests/browser/package-lock.json (scripts/browser-up.sh).
browser-up:
	@scripts/browser-up.sh

# Podman's Docker-compatible API on PODMAN_SOCK (scripts/podman-up.sh: installs podman,
# writes its configuration, starts `podman system service` in the background when nothing
# answers) with the test images in Podman's own storage.
PODMAN_SOCK ?= /run/worker-agent-podman/podman.sock
podman-up: deps
	@PODMAN_SOCK=$(PODMAN_SOCK) scripts/podman-up.sh
	@ENGINE=podman scripts/test-images.sh

# The integration suite with every worker (and the harness's own engine calls) on Podman
# (DOCKER_HOST). Left out, each for its reason (docs/ENGINES.md):
#   test_engine_outage  starts, kills and restarts a private dockerd: Docker's daemon itself
#   test_soak           2,000 jobs, 10-15 minutes: the Docker run covers the worker's leaks
#   test_docker29       puts a simulated Docker 29 in front of the engine: a Docker matter,
#                       which make test runs
#   test_adversarial    malformed HTTP to the worker's own server, no job; test_auth,
#   test_systemd_notify tokens, unix sockets and sd_notify; nothing in them reaches the
#                       engine in a way Podman changes (CI must stay under 60 minutes)
PODMAN_EXCLUDE ?= test_engine_outage|test_soak|test_docker29|test_adversarial|test_auth|test_systemd_notify
test-podman: build podman-up registry-up
	cd $(BUILD_DIR) && DOCKER_HOST=unix://$(PODMAN_SOCK) ctest --output-on-failure -j $(JOBS) \
	  -L integration -E '^integration\.($(PODMAN_EXCLUDE))$$' $(CTEST_ARGS)

# A simulated Docker Engine 29 on DOCKER29_SOCK (scripts/docker29-up.sh): a proxy in front
# of the Docker engine that refuses Engine API versions below 1.44 with Docker 29.0's own
# 400 answer and says it speaks 1.44 to 1.52, started in the background when it does not
# answer so.
DOCKER29_SOCK ?= /run/worker-agent-docker29/docker.sock
DOCKER29_REQUESTS_LOG ?= /var/log/worker-agent-docker29.requests.log
docker29-up: docker-up
	@DOCKER29_SOCK=$(DOCKER29_SOCK) DOCKER29_REQUESTS_LOG=$(DOCKER29_REQUESTS_LOG) scripts/docker29-up.sh

# The integration suite with every worker (and the harness's own engine calls, and the
# docker CLI's) on the simulated Docker 29 (DOCKER_HOST), then a check that the engine
# refused no request of theirs for its version. Left out, each for its reason:
#   test_engine_outage    starts, kills and restarts a private dockerd of its own and points
#                         its workers at it, never at DOCKER_HOST: the same run as in make test
#   test_soak             2,000 jobs, 10-15 minutes: the Docker run covers the worker's leaks
#   test_docker29         puts proxies of its own in front of the engine; make test runs it
#   test_adversarial      malformed HTTP to the worker's own server, no job: nothing that
#   test_systemd_notify   reaches the engine differs (the sd_notify protocol, likewise)
# Measured here: 2-3.5 minutes (11 tests, about 2,000 requests through the proxy).
DOCKER29_EXCLUDE ?= test_engine_outage|test_soak|test_docker29|test_adversarial|test_systemd_notify
test-docker29: build images registry-up docker29-up
	@: >$(DOCKER29_REQUESTS_LOG)
	cd $(BUILD_DIR) && DOCKER_HOST=unix://$(DOCKER29_SOCK) ctest --output-on-failure -j $(JOBS) \
	  -L integration -E '^integration\.($(DOCKER29_EXCLUDE))$$' $(CTEST_ARGS)
	@if grep '^refused ' $(DOCKER29_REQUESTS_LOG); then \
	  echo "test-docker29: the simulated Docker 29 refused the requests above for their API version" >&2; \
	  exit 1; fi
	@echo "test-docker29: $$(wc -l <$(DOCKER29_REQUESTS_LOG)) requests through the simulated Docker 29, none refused"

# A real Debian 13 Docker engine (docker.io 26.1, Engine API 1.45) run from a trixie rootfs
# in a chroot beside the host's engine, with its own data root, exec root, socket and
# bridge (scripts/trixie-engine-up.sh; mmdebstrap the first time, about 3 minutes), and
# the integration suite against it. Not in CI: the rootfs costs minutes on a fresh
# machine and the simulated Docker 29 already covers a version other than 1.41. Left out:
#   test_engine_outage   starts its own dockerd (the host's 20.10), never DOCKER_HOST's
#   test_soak            10-15 minutes; the worker's leaks do not depend on the engine
TRIXIE_DIR ?= /var/tmp/worker-agent-trixie-engine
TRIXIE_SOCK = $(TRIXIE_DIR)/rootfs/run/wa-trixie/docker.sock
TRIXIE_EXCLUDE ?= test_engine_outage|test_soak
.PHONY: trixie-engine-up test-trixie-engine
trixie-engine-up: images
	@TRIXIE_DIR=$(TRIXIE_DIR) scripts/trixie-engine-up.sh

test-trixie-engine: build registry-up trixie-engine-up
	cd $(BUILD_DIR) && DOCKER_HOST=unix://$(TRIXIE_SOCK) ctest --output-on-failure -j $(JOBS) \
	  -L integration -E '^integration\.($(TRIXIE_EXCLUDE))$$' $(CTEST_ARGS)

# Starts the worker in the foreground on port 9000 with the shipped default config.
run: build images
	mkdir -p /var/lib/worker-agent
	$(BUILD_DIR)/src/worker-agent --config $(CONFIG)

test: build images registry-up browser-up
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The soak test alone (CTest label soak): .ci/run runs it beside the sanitizer build,
# which needs no engine, so that neither waits for the other.
test-soak: build images registry-up
	cd $(BUILD_DIR) && ctest --output-on-failure -L soak $(CTEST_ARGS)

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit $(CTEST_ARGS)

test-integration: build images registry-up
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration $(CTEST_ARGS)

# The integration tests in VALGRIND_TESTS with every daemon they start under valgrind's
# memcheck (tests/integration/harness.py: WORKER_AGENT_WRAPPER). Each daemon gets its own
# valgrind log; the test that stops it fails when the log reports an error: an invalid
# read or write, a use of uninitialised memory, a bad free, or a definite leak at exit.
# Waits for the daemon are stretched VALGRIND_TIMEOUT_SCALE times.
empty :=
space := $(empty) $(empty)
VALGRIND_TESTS ?= test_jobs test_http_api test_execution test_adversarial test_scheduling
VALGRIND_TIMEOUT_SCALE ?= 10
VALGRIND ?= valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --num-callers=40 --suppressions=$(CURDIR)/tests/valgrind.supp

test-valgrind: build images registry-up
	@[ -z "$(SANITIZE)" ] || { echo "test-valgrind: valgrind cannot run a sanitizer build" >&2; exit 1; }
	@command -v valgrind >/dev/null || \
	  (apt-get install -y -qq --no-install-recommends valgrind >/dev/null)
	cd $(BUILD_DIR) && WORKER_AGENT_WRAPPER="$(VALGRIND)" \
	  WORKER_AGENT_TIMEOUT_SCALE=$(VALGRIND_TIMEOUT_SCALE) ctest --output-on-failure -j $(JOBS) \
	  -R '^integration\.($(subst $(space),|,$(strip $(VALGRIND_TESTS))))$$' $(CTEST_ARGS)

format:
	clang-format -i $(CXX_SOURCES)

# One clang-tidy per few files, JOBS at a time, then shellcheck over the shell scripts;
# fails when any of them reports.
lint: build
	printf '%s\n' $(TIDY_SOURCES) | xargs -P $(JOBS) -n 4 clang-tidy -p $(BUILD_DIR) --quiet
	shellcheck -x $(SHELL_SOURCES)

clean:
	rm -rf build build-*

# Debian package: debian/ built with dpkg-buildpackage from a copy of the tree in
# $(DEB_DIR), so the build leaves nothing behind in the source tree. Rebuilt only when a
# file git knows of (tracked, or new and not ignored) changes.
DEB_DIR ?= build-deb
DEB_VERSION := $(shell awk -F'[()]' 'NR == 1 { print $$2 }' debian/changelog 2>/dev/null)
# ARCH=arm64 cross-builds the package with Debian's cross toolchain (scripts/cross-deps.sh).
BUILD_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
ARCH ?= $(BUILD_ARCH)
DEB_ARCH := $(ARCH)
DEB_FILE := $(DEB_DIR)/worker-agent_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_INPUTS = $(wildcard $(shell git ls-files -co --exclude-standard 2>/dev/null))

.PHONY: deb deb-root test-package cross-deps build-arm64 test-arm64
deb: deps $(if $(filter-out $(BUILD_ARCH),$(DEB_ARCH)),cross-deps) $(DEB_FILE)

$(DEB_FILE): $(DEB_INPUTS)
	tests/package/build-deb.sh $(DEB_DIR) $(DEB_ARCH)

# The package's files unpacked into DEB_ROOT (its daemon: $(DEB_ROOT)/usr/sbin/worker-agent,
# which CI's tests run through TEST_DAEMON).
DEB_ROOT ?= $(DEB_DIR)/root-$(DEB_ARCH)
deb-root: deb
	rm -rf $(DEB_ROOT)
	dpkg-deb -x $(DEB_FILE) $(DEB_ROOT)

# The package built on Debian 13 (trixie) in a container from a trixie build rootfs
# (tests/package/build-image.sh), so that it depends on trixie's library packages (the t64
# names), and its install test on a trixie rootfs. Not in CI: the build compiles the
# worker once more (about 10 minutes here); `make test` installs the bookworm-built
# package on trixie (package.install_trixie).
DEB_TRIXIE_DIR ?= build-deb-trixie
DEB_TRIXIE_FILE := $(DEB_TRIXIE_DIR)/worker-agent_$(DEB_VERSION)_$(BUILD_ARCH).deb
.PHONY: deb-trixie test-package-trixie
deb-trixie: docker-up $(DEB_TRIXIE_FILE)

$(DEB_TRIXIE_FILE): $(DEB_INPUTS)
	tests/package/build-deb.sh $(DEB_TRIXIE_DIR) $(BUILD_ARCH) trixie

test-package-trixie: images deb-trixie
	ROOTFS_SUITE=trixie setsid --wait tests/package/install-test.sh $(DEB_TRIXIE_FILE)

# The arm64 cross toolchain, the :arm64 -dev packages and qemu-user (adds arm64 to dpkg).
cross-deps: deps
	@scripts/cross-deps.sh

# `make test` builds the package first, so the package tests (CTest label "package") find it.
# A sanitizer build does not: its package would be the plain one, tested by a plain
# `make test` (run it with CTEST_ARGS='-LE package').
ifeq ($(SANITIZE),)
test: deb
endif

# Only the package tests: lintian, mandoc -Tlint, and an install into a booted systemd container.
test-package: build images deb
	cd $(BUILD_DIR) && ctest --output-on-failure -L package $(CTEST_ARGS)

# The unit tests cross-built for arm64 (cmake/toolchain-aarch64.cmake) and run under
# qemu-user, then the arm64 package cross-built and checked (tests/package/check-cross-deb.sh:
# an aarch64 ELF, Architecture arm64, lintian). Tests that need the engine or other host
# services are integration tests, not built here.
ARM64_BUILD_DIR ?= build-arm64

$(ARM64_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(ARM64_BUILD_DIR) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/toolchain-aarch64.cmake \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build-arm64: cross-deps $(ARM64_BUILD_DIR)/CMakeCache.txt
	cmake --build $(ARM64_BUILD_DIR) -j $(JOBS)

test-arm64: build-arm64
	cd $(ARM64_BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit $(CTEST_ARGS)
	$(MAKE) deb ARCH=arm64
	tests/package/check-cross-deb.sh $(DEB_DIR) arm64

# libFuzzer targets (clang, ASan+UBSan), each run for FUZZ_SECONDS on its seed corpus and
# the inputs it found before (kept in build-fuzz/corpus), after replaying past crashes.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = http_request job_request config stream_demux json_string tar_reader
FUZZ_DIR ?= build-fuzz

.PHONY: fuzz bench
fuzz: deps
	@dpkg-query -W clang libclang-rt-14-dev >/dev/null 2>&1 || \
	  (apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null)
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DWA_FUZZ=ON -DSANITIZE=address,undefined -DBUILD_TESTING=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	  if [ -d tests/fuzz/regressions/$$t ]; then $(FUZZ_DIR)/tests/fuzz/fuzz_$$t tests/fuzz/regressions/$$t/*; fi; \
	  $(FUZZ_DIR)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/crash-$$t- $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

# The benchmark harness (not part of make test): ORIGINAL=<checkout of the original
# worker's worker-agent/node> adds the comparison with it.
bench: build images
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
	  (apt-get install -y -qq --no-install-recommends wrk nginx-light >/dev/null)
	python3 bench/bench.py --binary $(BUILD_DIR)/src/worker-agent $(if $(ORIGINAL),--original $(ORIGINAL))
	python3 bench/journal.py --binary $(BUILD_DIR)/src/worker-agent

# The worker's own container image (Dockerfile), built from the package above on a local
# Debian bookworm slim base (scripts/image-base.sh: mmdebstrap, docker import); no registry.
IMAGE_NAME ?= worker-agent
.PHONY: image test-image
image: docker-up deb
	IMAGE_NAME=$(IMAGE_NAME) scripts/image-build.sh $(DEB_FILE)

# The integration tests that depend on where the worker runs, against the worker in that
# image, with the engine's socket mounted (tests/image/worker-agent-in-image stands in for
# the binary; the tests give the files the worker must read to the image's user): jobs
# through the mounted socket, the HTTP API on the host's network, signals and stops
# through the engine, reloads, the journal in a mounted directory across restarts,
# /health and /metrics from the host's cgroup tree, tokens from files, sd_notify. Left
# out, as they test the same binary on the same engine as `make test` does and nothing
# the image changes (CI must stay under 60 minutes):
#   test_soak, test_scheduling, test_clients, test_adversarial, test_faults,
#   test_late_answers, test_docker29, test_engine_outage (proxies or a private dockerd
#   in front of the engine), test_ctl (the operator's command runs on the host)
#   test_journal   it checks the native journal records the worker writes when its stderr
#                  is the journal's stream (JOURNAL_STREAM); in a container stderr is the
#                  engine's log pipe, never the journal's (use --log-driver journald)
IMAGE_TESTS_EXCLUDE ?= test_soak test_journal test_scheduling test_clients test_adversarial \
	test_faults test_late_answers test_docker29 test_engine_outage test_ctl
test-image: build image images registry-up
	cd $(BUILD_DIR) && WORKER_AGENT_TEST_BIN=$(CURDIR)/tests/image/worker-agent-in-image \
	  WORKER_AGENT_IMAGE=$(IMAGE_NAME):latest \
	  WORKER_AGENT_TEST_OWNER="$$(docker image inspect -f '{{.Config.User}}' $(IMAGE_NAME):latest)" \
	  ctest --output-on-failure -j $(JOBS) -L integration \
	  -E '^integration\.($(subst $(space),|,$(strip $(IMAGE_TESTS_EXCLUDE))))$$' $(CTEST_ARGS)
