#!/usr/bin/env bash
# packages.sh — sourced by the scripts that need Debian packages: defines rcemit_ensure_packages, which installs
# those of PKG... that are missing (apt-get update, then apt-get install -y --no-install-recommends) and says so
# on stderr, prefixed with CALLER. Not as root, it fails naming the missing packages and the command to run.
#   rcemit_ensure_packages CALLER PKG...
# Run directly, it does the same with its arguments.
rcemit_ensure_packages() {
  local caller=$1 p
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$caller: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "$caller: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  rcemit_ensure_packages "$@"
fi
