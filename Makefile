# rcemit: the two commands README.md starts with are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: deps build test test-rust lint test-php bench goldens

deps:
	scripts/install-deps.sh

build: deps
	$(CARGO) build --release

# Every test layer; installs what it needs first.
test: deps lint test-rust

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

test-rust:
	$(CARGO) test

bench:
	$(CARGO) bench

# Regenerates tests/goldens/ from a throwaway MediaWiki (the oracle).
goldens: deps
	bash scripts/regen-goldens.sh
