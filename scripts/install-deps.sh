#!/usr/bin/env bash
# Installs what building and testing rcemit needs on Debian: PHP CLI (FFI, pcntl, opcache), the extensions
# MediaWiki's installer wants, Debian's MediaWiki and PHPUnit, and a C compiler for the C ABI test. Debian 12
# (bookworm): PHP 8.2, MediaWiki 1.39, PHPUnit 9.6; Debian 13 (trixie): PHP 8.4, MediaWiki 1.43 (the PHP version
# comes from scripts/php-version.sh). Rust comes from rustup and is expected to be present (cargo on PATH).
# The MediaWiki 1.43 layer of the tests runs in a trixie chroot that scripts/trixie-chroot.sh builds.
set -euo pipefail
. "$(dirname "$0")/php-version.sh"
PHPV=$(rcemit_php_version)
packages=(
  "php$PHPV-cli" "php$PHPV-opcache" "php$PHPV-sqlite3" "php$PHPV-xml" "php$PHPV-mbstring" "php$PHPV-intl"
  "php$PHPV-curl" mediawiki phpunit gcc libc6-dev python3
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
