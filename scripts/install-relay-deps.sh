#!/usr/bin/env bash
# Installs what the relay layer (make test-relay, make demo's XMPP chain) needs on Debian: the XMPP servers it is
# tested against (Prosody, ejabberd), Debian's slixmpp as the independent client, and openssl for the private CA
# of the TLS test. The tests run private instances of the servers on loopback ports.
set -euo pipefail
. "$(dirname "$0")/packages.sh"
rcemit_ensure_packages install-relay-deps prosody ejabberd python3-slixmpp openssl python3
command -v cargo >/dev/null || { echo "install-relay-deps: cargo not found; install Rust with rustup first" >&2; exit 1; }
