#!/usr/bin/env bash
# bench-php.sh — the PHP half of `make bench`: scripts/benchmarkFeeds.php in a throwaway wiki (scripts/mkwiki.sh)
# of the MediaWiki it runs on: the host's 1.39, or 1.43 inside the trixie chroot (`make bench-143` runs it there
# through scripts/trixie-chroot.sh, which has no cargo: the caller builds and copies the library first).
#
# Usage: bash scripts/bench-php.sh LIBDIR    LIBDIR holds librcemit.so and rcemit.h (a private copy, so that
#        another build replacing target/release cannot disturb the run). Environment: RUNS, GAP_US, HOST_RUNS,
#        KEEP (see scripts/bench.sh).
# Writes docs/bench/php-notify.{txt,json} and php-notify-quantiles.tsv on MediaWiki 1.39, php-notify-1.43.*
# on 1.43; raw samples to target/bench/php-notify-samples[-1.43].tsv.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
LIB=$(cd "$1" && pwd)
RUNS=${RUNS:-2000}
GAP_US=${GAP_US:-500}
HOST_RUNS=${HOST_RUNS:-1000}
MWV=$(sed -n "s/.*define( 'MW_VERSION', '\([0-9]*\.[0-9]*\).*/\1/p" /usr/share/mediawiki/includes/Defines.php)
[ -n "$MWV" ] || { echo "bench-php: no MediaWiki version in /usr/share/mediawiki/includes/Defines.php" >&2; exit 1; }
SUFFIX=$([ "$MWV" = 1.39 ] && echo "" || echo "-$MWV")
OUT=$REPO/docs/bench
RAW=$REPO/target/bench
mkdir -p "$OUT" "$RAW"
WORK=$(mktemp -d /tmp/rcemit-bench.XXXXXX)
cleanup() {
  [ -x "$WORK/wiki/stop" ] && "$WORK/wiki/stop" || true
  if [ "${KEEP:-0}" = 1 ]; then echo "bench-php: wiki kept in $WORK/wiki" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

"$REPO/scripts/mkwiki.sh" "$WORK/wiki" >/dev/null
# No feeds in \$wgRCFeeds: each row notifies only its own feeds, so a single json row does not pay for the
# API log params an xmlrc feed elsewhere in the wiki would need (the three-feed row includes xmlrc).
cat >>"$WORK/wiki/extra.php" <<PHP
wfLoadExtension( 'RcEmit', '$REPO/php/extension.json' );
\$wgRcEmitLibraryPath = '$LIB/librcemit.so';
\$wgRcEmitHeaderPath = '$LIB/rcemit.h';
PHP
# opcache on, as under PHP-FPM; warnings neither displayed nor logged (core's hostname row raises one per
# notify, and terminal output inside the timed region would measure the terminal).
MW_CONFIG_FILE="$WORK/wiki/LocalSettings.php" php -d opcache.enable_cli=1 -d display_errors=0 -d log_errors=0 \
  "$REPO/scripts/benchmarkFeeds.php" --runs="$RUNS" --gap-us="$GAP_US" --host-runs="$HOST_RUNS" \
  --samples="$RAW/php-notify-samples$SUFFIX.tsv" --quantiles="$OUT/php-notify-quantiles$SUFFIX.tsv" \
  --summary="$OUT/php-notify$SUFFIX.json" | tee "$OUT/php-notify$SUFFIX.txt"
