# rcemit: the two commands README.md starts with are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo deps build test test-rust lint test-php e2e concurrency bench bench-143 goldens fuzz \
	chroot-143 test-143 test-php-143 e2e-143 goldens-143 test-admin test-admin-143 install uninstall \
	relay-deps test-relay bench-poll bench-catchup

# The main job on a throwaway wiki: build, create a wiki, load RcEmit, edit, show the datagrams.
demo:
	bash scripts/demo.sh

deps:
	scripts/install-deps.sh

build: deps
	$(CARGO) build --release

# Every test layer; installs what it needs first. The host's layers (MediaWiki 1.39, PHP 8.2; test-admin: the admin
# path under Apache mod_php and PHP-FPM; test-relay: the XMPP bridge against Prosody and ejabberd), then the
# MediaWiki 1.43 LTS layer (PHP 8.4) in a Debian trixie chroot (test-143, test-admin-143).
test: deps lint test-rust test-php e2e test-admin test-relay fuzz test-143 test-admin-143

# Every language of the repository: Rust (rustfmt, clippy; the crate and fuzz/), PHP (php-codesniffer with
# .phpcs.xml, whose Generic.PHP.Syntax runs php -l on every file), Python (pyflakes), shell (shellcheck, warnings
# and errors). The linters come from Debian (scripts/install-deps.sh).
lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p rcemit-relay --all-targets -- -D warnings
	cd fuzz && $(CARGO) fmt --all -- --check && $(CARGO) clippy --all-targets -- -D warnings
	phpcs -q
	pyflakes3 $$(git ls-files '*.py')
	shellcheck -S warning -x -P SCRIPTDIR $$(git ls-files '*.sh') .ci/run

test-rust:
	$(CARGO) test

# PHPUnit against the release library (FFI load modes, failures, fork, real wikis).
test-php: build
	phpunit -c php/phpunit.xml

# Every benchmark (Rust criterion + flood, PHP core-vs-rcemit in a throwaway wiki) and the plot, into docs/bench/.
bench:
	bash scripts/bench.sh

# The PHP benchmark on MediaWiki 1.43 (PHP 8.4) in the trixie chroot: docs/bench/php-notify-1.43.{txt,json}.
bench-143:
	ONLY=php-143 bash scripts/bench.sh

# Regenerates tests/goldens/cases-1.39.json from a throwaway MediaWiki of the host (the oracle).
goldens: deps
	bash scripts/regen-goldens.sh

# ---- MediaWiki 1.43 LTS (Debian trixie, PHP 8.4), in a chroot (scripts/trixie-chroot.sh, as root) ----
# The chroot lives outside the checkout (RCEMIT_TRIXIE_ROOT, default /var/cache/rcemit/trixie) and is reused;
# the first build takes about 2.5 minutes (debootstrap + MediaWiki, PHP 8.4, PHPUnit 11, gcc), about 1 GiB.
chroot-143:
	bash scripts/trixie-chroot.sh build

# PHPUnit and the end-to-end test on 1.43 (the library built on the host loads there); both run, and both
# results (with e2e's per-format match table) are printed before the status is returned.
test-143: build chroot-143
	bash scripts/trixie-chroot.sh run bash -c 'rc=0; \
	  s=$$SECONDS; phpunit -c php/phpunit.xml || rc=1; echo "1.43 PHPUnit: $$((SECONDS - s)) s"; \
	  s=$$SECONDS; python3 tests/e2e/e2e.py || rc=1; echo "1.43 e2e: $$((SECONDS - s)) s"; exit $$rc'

test-php-143: build chroot-143
	bash scripts/trixie-chroot.sh run phpunit -c php/phpunit.xml

e2e-143: build chroot-143
	bash scripts/trixie-chroot.sh run python3 tests/e2e/e2e.py

# Regenerates tests/goldens/cases-1.43.json from MediaWiki 1.43 in the chroot.
goldens-143: chroot-143
	bash scripts/trixie-chroot.sh run bash scripts/regen-goldens.sh

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

# The admin path under real web servers (as root): Apache prefork + mod_php 8.2 and PHP-FPM 8.2 (behind Apache
# mod_proxy_fcgi) with README's production php.ini recipe; start, graceful/FPM reload and cold start with the
# library or header missing or broken must keep the wiki serving and log RcEmit's "disabled" line; datagrams
# flow again once the files are back; an unresolvable feed host is logged once per worker. About 1 minute.
test-admin: build
	python3 tests/admin/admin_test.py

# Installs the library (a versioned directory per build, /usr/lib/rcemit/current switched atomically), the
# extension (/usr/share/mediawiki-extensions/RcEmit) and the php.ini snippet (/etc/php/<ver>/mods-available,
# enabled for apache2 and fpm with phpenmod). PREFIX (default /usr), DESTDIR, PHP_VERSION: see scripts/install.sh.
# Builds first when the library is missing; run as root for the real thing.
install:
	[ -f target/release/librcemit.so ] || $(CARGO) build --release
	bash scripts/install.sh install

uninstall:
	bash scripts/install.sh uninstall

# The admin path on MediaWiki 1.43 (PHP 8.4: Apache mod_php 8.4, PHP-FPM 8.4) in the trixie chroot; installs
# php8.4-fpm and make there when missing. (make demo with a configured host wiki is the host's test only.)
test-admin-143: build chroot-143
	bash scripts/trixie-chroot.sh run python3 tests/admin/admin_test.py --no-host-wiki

relay-deps:
	scripts/install-relay-deps.sh

# The XMPP bridge (relay/): its unit tests, then tests/relay/relay_test.py against private Prosody and ejabberd
# servers on loopback with Debian's slixmpp as the independent client, including the chain from a throwaway
# MediaWiki with RcEmit's xmlrc feed, and STARTTLS with a private CA against Prosody (about 1 minute); then
# tests/relay/poll_test.py: `rcemit-relay poll` against a throwaway MediaWiki, compared with RcEmit's feed;
# tests/relay/watch_test.py: the watcher and PubSub against that chain on Prosody, with api.php as the oracle;
# tests/relay/gaps_test.py: gap repair from api.php through a lossy UDP proxy, a bridge restart and a server outage.
test-relay: relay-deps build
	$(CARGO) test -p rcemit-relay
	$(CARGO) build -p rcemit-relay
	/usr/bin/python3 -B tests/relay/relay_test.py --wiki --tls
	/usr/bin/python3 -B tests/relay/poll_test.py
	/usr/bin/python3 -B tests/relay/watch_test.py
	/usr/bin/python3 -B tests/relay/gaps_test.py

# The poller fetching 10,000 real edits of a throwaway wiki from api.php: changes/s and API requests.
bench-poll: deps
	$(CARGO) build --release -p rcemit-relay
	/usr/bin/python3 -B tests/relay/bench_poll.py

# The bridge's catch-up of 10,000 changes missed while it was stopped: changes/s and API requests.
bench-catchup: relay-deps
	$(CARGO) build --release -p rcemit-relay
	/usr/bin/python3 -B tests/relay/bench_catchup.py
