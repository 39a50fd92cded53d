# Two commands do all set-up on a fresh Debian machine:
#   make serve   install missing system packages, build, run the server on ./data
#   make test    the same set-up, then the whole test suite
SHELL := /bin/bash

SYSTEM_PACKAGES := liblmdb-dev zlib1g-dev pkg-config lmdb-utils
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
DATA ?= ./data

.PHONY: all deps build serve test clean

all: build

# Installs only what is missing. Debian's apt hook deletes downloaded .debs after each
# run, so a multi-package install can fail with "cannot access archive": retry once.
deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing || \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

serve: build
	$(SWIFT) run $(SWIFT_BUILD_FLAGS) strata serve --data $(DATA)

test: deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_BUILD_FLAGS)

clean:
	rm -rf .build
