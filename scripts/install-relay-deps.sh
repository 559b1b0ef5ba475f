#!/usr/bin/env bash
# Installs what the relay layer (make test-relay, make demo's XMPP chain) needs on Debian 12: the XMPP servers it
# is tested against (Prosody, ejabberd), Debian's slixmpp as the independent client, and openssl for the private
# CA of the TLS test. Debian starts neither server here: the tests run private instances on loopback ports.
set -euo pipefail
packages=(prosody ejabberd python3-slixmpp openssl python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-relay-deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install-relay-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may hold the lock for a while (e.g. install-deps.sh in parallel): wait for it, bounded.
  for attempt in $(seq 1 30); do
    if apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; then
      break
    fi
    [ "$attempt" -eq 30 ] && { echo "install-relay-deps: apt-get failed" >&2; exit 1; }
    sleep 10
  done
fi
command -v cargo >/dev/null || { echo "install-relay-deps: cargo not found; install Rust with rustup first" >&2; exit 1; }
