#!/usr/bin/env bash
# php-version.sh — sourced by the scripts that name Debian's versioned PHP packages (php8.2-cli, libphp8.2.so):
# defines rcemit_php_version, which prints the PHP version to use, as MAJOR.MINOR:
#   1. $RCEMIT_PHP_VERSION if set;
#   2. the running PHP (`php` on PATH);
#   3. the Debian release in /etc/os-release: bookworm (12) -> 8.2, trixie (13) -> 8.4.
# Run directly, it prints that version.
rcemit_php_version() {
  if [ -n "${RCEMIT_PHP_VERSION:-}" ]; then
    echo "$RCEMIT_PHP_VERSION"
    return
  fi
  if command -v php >/dev/null 2>&1; then
    php -n -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION, "\n";'
    return
  fi
  local codename=
  [ -r /etc/os-release ] && codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  case "$codename" in
    bookworm) echo 8.2 ;;
    trixie) echo 8.4 ;;
    *)
      echo "rcemit: no php on PATH and unknown Debian release '$codename'; set RCEMIT_PHP_VERSION (e.g. 8.4)" >&2
      return 1
      ;;
  esac
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  rcemit_php_version
fi
