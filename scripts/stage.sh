#!/usr/bin/env bash
# stage.sh — copies what an unprivileged PHP process of the tests reads into a world-readable directory, so
# that the tests do not depend on where the checkout lives (a checkout in a mode-0700 directory, e.g. under
# /root or in a `mktemp -d` directory, cannot be read by `nobody`, the user php -S preloads as
# (opcache.preload_user) or runs as in the tests).
#
# Usage: scripts/stage.sh DEST [LIBRARY]
#   DEST     directory to fill (created; must be empty or missing); its parents must be enterable by everyone
#   LIBRARY  the library to stage (default: the checkout's target/release/librcemit.so)
# DEST afterwards mirrors the checkout's layout, so the extension's default library path and the tests'
# relative paths work unchanged:
#   php/                           the extension (src, maintenance, preload.php, extension.json, i18n, tests)
#   include/rcemit.h, rcemit-ffi.h the C header, and the same without comments (PHP's default)
#   target/release/librcemit.so    the library
#   tests/e2e/stats.php            the end-to-end test's status endpoint
#   .rcemit-stage                  marker: this is a staged copy, not a checkout
# Directories are mode 0755 and files 0644 (the library 0755), owned by the caller: RcEmit refuses files the
# worker user could replace, so they must not be writable by anyone else.
set -euo pipefail
die() { echo "stage: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: stage.sh DEST [LIBRARY]"
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=$1
LIB=${2:-$REPO/target/release/librcemit.so}
[ -f "$LIB" ] || die "$LIB is missing; run \`cargo build --release\` first"
mkdir -p "$DEST"
[ -z "$(ls -A "$DEST")" ] || die "$DEST is not empty"
mkdir -p "$DEST/include" "$DEST/target/release" "$DEST/tests/e2e"
cp -R "$REPO/php" "$DEST/php"
cp "$REPO/include/rcemit.h" "$REPO/include/rcemit-ffi.h" "$DEST/include/"
cp "$LIB" "$DEST/target/release/librcemit.so"
cp "$REPO/tests/e2e/stats.php" "$DEST/tests/e2e/stats.php"
echo "staged from $REPO" >"$DEST/.rcemit-stage"
chmod -R u+rwX,go+rX,go-w "$DEST"
chmod 0755 "$DEST/target/release/librcemit.so"
