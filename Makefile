# Two commands do all set-up on a fresh Debian machine:
#   make serve   install missing system packages, build, run the server on ./data
#   make test    the same set-up, then the whole test suite (Swift tests, then compat)
#   make check   our targets built with warnings as errors, then the fast Swift tests
#   make compat  only the real-client compatibility suite (Tests/compat)
#   make crashtest  only the crash-recovery torture test (Tools/crashtest)
#   make bench   the side-by-side benchmark against SeaweedFS and moto (Tools/bench)
#   make dist    the self-contained binary, dist/strata-VERSION-linux-x86_64.tar.gz
SHELL := /bin/bash

SYSTEM_PACKAGES := liblmdb-dev zlib1g-dev libdeflate-dev pkg-config lmdb-utils
# The real clients the compat suite drives (awscli is AWS CLI v2, /usr/bin/aws).
CLIENT_PACKAGES := awscli rclone s3cmd curl
PYTHON ?= python3
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
DATA ?= ./data

.PHONY: all deps client-deps build serve test check compat crashtest examples dist dist-test dist-test-build dist-test-run bench clean

all: build

# $(call apt_install,PACKAGES): installs only what is missing. Debian's apt hook deletes
# downloaded .debs after each run, so a multi-package install can fail with "cannot
# access archive": retry once.
define apt_install
	@missing=""; \
	for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing || \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call apt_install,$(SYSTEM_PACKAGES))

# The clients of the compat suite, again only what is missing: the apt packages, then
# boto3, pytest and AWS CLI v1 from pip when any is missing.
client-deps:
	$(call apt_install,$(CLIENT_PACKAGES))
	@if ! $(PYTHON) -c 'import boto3, pytest, awscrt, requests, xdist' 2>/dev/null || \
	   ! $(PYTHON) -c 'import awscli, sys; sys.exit(not awscli.__version__.startswith("1."))' 2>/dev/null; then \
		echo "installing: Tests/compat/requirements.txt"; \
		$(PYTHON) -m pip install -q -r Tests/compat/requirements.txt; \
	fi

build: deps
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

serve: build
	$(SWIFT) run $(SWIFT_BUILD_FLAGS) strata serve --data $(DATA)

# dist-test's static build is about 15 minutes of CPU of its own (objects compiled for a
# static Swift runtime differ from the test build's), while the suites after the Swift
# tests spend much of their time waiting on clients and servers. So it runs beside them,
# niced, together with the Debian root its tests use; they run once everything else passed.
# (Run one after the other, `make test` took 38 minutes on a 2-core CI machine.)
DIST_TEST_LOG := .build-dist-debug/dist-test-build.log
test: deps client-deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	@mkdir -p .build-dist-debug; set -m; \
	nice -n 10 $(MAKE) --no-print-directory dist-test-build > $(DIST_TEST_LOG) 2>&1 & builder=$$!; \
	trap 'kill -- -$$builder 2>/dev/null' EXIT; \
	echo "dist-test build started in the background (log: $(DIST_TEST_LOG))"; \
	$(SWIFT) test --skip-build $(SWIFT_BUILD_FLAGS) && $(MAKE) compat && $(MAKE) pytest-plugin && \
	$(MAKE) crashtest && $(MAKE) examples || exit 1; \
	echo "waiting for the dist-test build"; \
	if ! wait $$builder; then tail -n 40 $(DIST_TEST_LOG); echo "dist-test build failed"; exit 1; fi; \
	trap - EXIT
	$(MAKE) dist-test-run

# Warnings are errors in our own targets (STRATA_WARNINGS_AS_ERRORS, see Package.swift;
# dependencies keep theirs), then every Swift test but the power-loss tests: about a
# minute and a half of tests on 2 cores. `make test` stays the whole suite.
check: deps
	STRATA_WARNINGS_AS_ERRORS=1 $(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	STRATA_WARNINGS_AS_ERRORS=1 $(SWIFT) test --skip-build --skip PowerLossTests $(SWIFT_BUILD_FLAGS)

# Starts a real `strata serve` on a free loopback port and drives it with AWS CLI v1
# and v2, boto3, s3cmd, rclone and curl (docs/TESTING.md, "Real-client compatibility suite").
# COMPAT_WORKERS pytest-xdist workers, each with its own session server, a file's tests
# in one worker: 296 s with 2 against 560 s in one on this 2-core machine.
COMPAT_WORKERS ?= 2
compat: deps client-deps
	$(SWIFT) build --product strata $(SWIFT_BUILD_FLAGS)
	STRATA_BIN=$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/strata $(PYTHON) -m pytest -q -n $(COMPAT_WORKERS) --dist loadfile Tests/compat

# The pytest plugin (clients/python, pytest-strata): installs it, then its tests run inner
# pytest sessions against real servers (docs/TESTING.md, "pytest plugin").
.PHONY: pytest-plugin
pytest-plugin: deps client-deps
	$(SWIFT) build --product strata $(SWIFT_BUILD_FLAGS)
	$(PYTHON) -m pip install -q ./clients/python
	STRATA_BIN=$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/strata $(PYTHON) -m pytest -q clients/python/tests

# The example package (Examples/ReportUploader) that uses the StrataTesting library the
# way an application's test suite would, and the README's copy of its test. It shares
# .build with this package, so only its own few files compile.
examples: deps
	$(SWIFT) test --package-path Examples/ReportUploader --scratch-path $(CURDIR)/.build $(SWIFT_BUILD_FLAGS)
	$(PYTHON) Tools/check_readme_examples.py

# The self-contained binary for a machine without Swift (Tools/dist/build.sh): static
# Swift runtime, LMDB, libdeflate and zlib linked in; dist/strata-VERSION-linux-x86_64.tar.gz.
dist: deps
	Tools/dist/build.sh --config release --out dist

# What `make test` proves of it: the same packaging (a debug build, quicker to compile)
# runs alone in a bare Debian root made by debootstrap and serves the AWS CLI, and the
# container image built from it answers (skipped with a message where podman cannot run).
# Both need root (chroot, mounts, podman), through sudo like the apt-get installs above.
# dist-test-build and dist-test-run are its two halves (`make test` runs the first beside
# the other suites).
DIST_TEST_OUT := .build-dist-debug/dist
dist-test: dist-test-build
	$(MAKE) dist-test-run

dist-test-build: deps
	rm -rf $(DIST_TEST_OUT)
	Tools/dist/build.sh --config debug --out $(DIST_TEST_OUT)
	@SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; $$SUDO Tools/dist/rootfs.sh $${STRATA_ROOTFS:-.build-rootfs/bookworm}

dist-test-run: deps client-deps
	@SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	$$SUDO Tools/dist/test-chroot.sh $(DIST_TEST_OUT)/strata-*-linux-*.tar.gz && \
	$$SUDO Tools/dist/test-container.sh $(DIST_TEST_OUT)/strata-*-linux-*.tar.gz

# Crash-recovery torture test (Tools/crashtest): SIGKILLs a real `strata serve` under
# load and online compaction, checks every key after each restart, then strata verify.
# A short run (about 30 s), with two threads on versioned buckets (Enabled, Suspended);
# CRASHTEST_ARGS="--cycles 20 --compact --versioned-threads 2" for a long one.
CRASHTEST_ARGS ?= --cycles 3 --duration-per-cycle 4 --compact --versioned-threads 2
crashtest: deps client-deps
	$(SWIFT) build --product strata $(SWIFT_BUILD_FLAGS)
	STRATA_BIN=$$($(SWIFT) build --show-bin-path $(SWIFT_BUILD_FLAGS))/strata Tools/crashtest/run.sh $(CRASHTEST_ARGS)

# Side-by-side benchmark (Tools/bench): strata (release build), SeaweedFS and moto under
# the same load, one at a time, and this machine's limits (dd, nginx); about 15-20 min.
# BENCH_ARGS="--quick" for a smoke run of a few minutes.
BENCH_ARGS ?=
bench: deps
	Tools/bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf .build
