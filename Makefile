# rcemit: the two commands README.md starts with are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo deps build test test-rust lint test-php e2e concurrency bench goldens fuzz relay-deps test-relay

# The main job on a throwaway wiki: build, create a wiki, load RcEmit, edit, show the datagrams.
demo:
	bash scripts/demo.sh

deps:
	scripts/install-deps.sh

build: deps
	$(CARGO) build --release

# Every test layer; installs what it needs first.
test: deps lint test-rust test-php e2e fuzz test-relay

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p rcemit-relay --all-targets -- -D warnings
	cd fuzz && $(CARGO) fmt --all -- --check && $(CARGO) clippy --all-targets -- -D warnings

test-rust:
	$(CARGO) test

# PHPUnit against the release library (FFI load modes, failures, fork, real wikis).
test-php: build
	phpunit -c php/phpunit.xml

# Every benchmark (Rust criterion + flood, PHP core-vs-rcemit in a throwaway wiki) and the plot, into docs/bench/.
bench:
	bash scripts/bench.sh

# Regenerates tests/goldens/ from a throwaway MediaWiki (the oracle).
goldens: deps
	bash scripts/regen-goldens.sh

# End-to-end: RcEmit in a throwaway MediaWiki (web SAPI with the FFI preload recipe, and CLI) against core's
# own feeds and api.php, change by change; prints a per-format match table (tests/e2e/e2e.py).
e2e: build
	python3 tests/e2e/e2e.py

# Apache prefork + mod_php with the production FFI recipe, 8 API clients, 2,000 edits; every change must reach
# the UDP listeners exactly once (as root; 8 to 12 minutes on 2 busy cores, so not part of `make test`).
concurrency: build
	bash scripts/concurrency.sh

# Bounded fuzzing of payload decoding, every formatter and the C ABI (cargo-fuzz on stable via RUSTC_BOOTSTRAP;
# installs cargo-fuzz if missing). FUZZ_SECONDS per target, default 20; a longer run: see scripts/fuzz.sh.
fuzz:
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

relay-deps:
	scripts/install-relay-deps.sh

# The XMPP bridge (relay/): its unit tests, then tests/relay/relay_test.py against private Prosody and ejabberd
# servers on loopback with Debian's slixmpp as the independent client, including the chain from a throwaway
# MediaWiki with RcEmit's xmlrc feed, and STARTTLS with a private CA against Prosody (about 1 minute).
test-relay: relay-deps build
	$(CARGO) test -p rcemit-relay
	$(CARGO) build -p rcemit-relay
	/usr/bin/python3 -B tests/relay/relay_test.py --wiki --tls
