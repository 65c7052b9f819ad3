# runner: two commands on a fresh machine.
#   make demo   installs what it needs, builds, and shows a live sync
#   make test   installs what it needs, builds, and runs the whole test suite

SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: all deps build release release-binary demo test test-tsan test-asan fuzz soak bench format clean install deb link-order

# Where `make install` puts things; DESTDIR stages them (packaging). BINARY: what is installed.
PREFIX ?= /usr/local
DESTDIR ?=
BINARY ?= .build/release/runner

all: build

deps:
	bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# The Swift runtime linked in: one file to copy to the receivers, and ~5 MB less RSS per process.
# Every function in a section of its own (ours and the packages'), so that the link can lay
# the ones runner runs side by side (scripts/link-order.txt); Swift otherwise puts a file's
# internal functions in one section, and the linker can only move the section whole.
RELEASE_FLAGS = -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
release: deps
	$(MAKE) release-binary

# The same without installing anything first (debian/rules builds with it).
release-binary:
	$(SWIFT) build -c release --static-swift-stdlib --product runner $(RELEASE_FLAGS) $(BUILD_FLAGS)

# The binary, the plugins (found beside it: no RUNNER_PLUGIN_PATH needed), the samples, the
# systemd units (their paths rewritten for PREFIX) and `runner help` as a page.
install: $(BINARY)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/runner/plugins \
		$(DESTDIR)$(PREFIX)/share/runner/samples $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/doc/runner
	install -m 0755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/runner
	install -m 0644 plugins/*.lua $(DESTDIR)$(PREFIX)/share/runner/plugins/
	cp -R samples/. $(DESTDIR)$(PREFIX)/share/runner/samples/
	for unit in dist/systemd/*.service; do \
		sed 's|/usr/local/bin/runner|$(PREFIX)/bin/runner|g' $$unit > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$unit); \
	done
	$(DESTDIR)$(PREFIX)/bin/runner help > $(DESTDIR)$(PREFIX)/share/doc/runner/runner.txt

.build/release/runner:
	$(MAKE) release

demo: build
	bash scripts/demo.sh

test: deps
	bash scripts/test.sh

# The suite under ThreadSanitizer or AddressSanitizer (scripts/test-sanitized.sh).
test-tsan: deps
	bash scripts/test-sanitized.sh thread

test-asan: deps
	bash scripts/test-sanitized.sh address

# Each parser under libFuzzer for FUZZ_S seconds (default 60); a crash becomes a seed that
# `make test` replays (scripts/fuzz.sh, Fuzz/).
fuzz: deps
	bash scripts/fuzz.sh

# Churn in the source while the sender, the daemons and their sessions are SIGKILLed at random,
# for SOAK_S seconds (default 60; `make test` runs 15); then every target equals the source.
SOAK_S ?= 60
soak: deps
	$(SWIFT) build --build-tests
	SOAK_S=$(SOAK_S) $(SWIFT) test --skip-build --filter ChaosSoakTests

# Side by side with the peers (inotifywait; rsync, rdiff and lsyncd as they land).
bench: release
	bash scripts/install-deps.sh --bench
	python3 scripts/bench.py

# The formatter's configuration is .swift-format (120 columns); make test fails on unformatted code.
format:
	$(SWIFT) format format --in-place --recursive Sources Tests Fuzz/Targets Fuzz/Tests Fuzz/Driver Fuzz/Harness Package.swift Fuzz/Package.swift

clean:
	rm -rf .build

# The Debian package (debhelper): dpkg-buildpackage writes beside the checkout; the results
# are moved to .build/deb/.
deb: deps
	dpkg-buildpackage -us -uc -b
	mkdir -p .build/deb
	mv ../runner_$$(dpkg-parsechangelog -S Version)_* .build/deb/
	lintian --fail-on error,warning .build/deb/*.changes

# scripts/link-order.txt: the functions runner runs, as callgrind records them, laid side by
# side by the release link (make test fails when more than 10% of it is gone).
link-order: release
	bash scripts/link-order.sh
	# SwiftPM does not see the list change: the next release build must link again.
	touch Sources/runner/Runner.swift
