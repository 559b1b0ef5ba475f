#!/usr/bin/env bash
# Installs what building and testing rcemit needs on Debian 12: PHP 8.2 CLI (FFI, pcntl, opcache), the
# extensions MediaWiki's installer wants, Debian's MediaWiki 1.39 and PHPUnit 9.6, and a C compiler for the
# C ABI test. Rust comes from rustup and is expected to be present (cargo on PATH).
set -euo pipefail
packages=(
  php8.2-cli php8.2-opcache php8.2-sqlite3 php8.2-xml php8.2-mbstring php8.2-intl php8.2-curl
  mediawiki phpunit gcc libc6-dev python3
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "install-deps: cargo not found; install Rust with rustup first" >&2; exit 1; }
