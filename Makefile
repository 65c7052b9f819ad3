# runner: two commands on a fresh machine.
#   make demo   installs what it needs, builds, and shows a live sync
#   make test   installs what it needs, builds, and runs the whole test suite

SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: all deps build release demo test bench format clean

all: build

deps:
	bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# The Swift runtime linked in: one file to copy to the receivers, and ~5 MB less RSS per process.
release: deps
	$(SWIFT) build -c release --static-swift-stdlib $(BUILD_FLAGS)

demo: build
	bash scripts/demo.sh

test: deps
	bash scripts/test.sh

# Side by side with the peers (inotifywait; rsync, rdiff and lsyncd as they land).
bench: release
	bash scripts/install-deps.sh --bench
	python3 scripts/bench.py

# The formatter's configuration is .swift-format (120 columns); make test fails on unformatted code.
format:
	$(SWIFT) format format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build
