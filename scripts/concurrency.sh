#!/usr/bin/env bash
# concurrency.sh — RcEmit in production shape under concurrent edits.
#
# Apache 2.4 (prefork MPM, Debian's mod_php of the PHP version scripts/php-version.sh gives: 8.2 on Debian 12,
# 8.4 on Debian 13) with the README's production php.ini recipe (ffi.enable=preload, opcache.preload =
# php/preload.php, opcache.preload_user = www-data; each worker loads the library with FFI::cdef) serves a throwaway SQLite wiki on 127.0.0.1 only. CLIENTS concurrent API
# clients (each logs in as its own user and takes its own csrf token) make EDITS edits through api.php; two
# RcEmit feeds (json and xmlrc) and core's own JSON feed send to loopback UDP listeners. scripts/concurrency.py
# checks every rc_id of the recentchanges table against the listeners, compares each json packet with core's,
# reads every worker's rcemit counters, looks for crashed workers in Apache's error log, and prints the result
# table. Exit status 0 only when nothing is missing, duplicated or different, no worker crashed and the
# counters agree.
#
# Usage: scripts/concurrency.sh            (as root: installs missing Debian packages, switches to www-data)
# Environment: EDITS (default 2000), CLIENTS (8), DEADLINE (seconds for the edit phase, default 1200),
#              KEEP=1 keeps the scratch directory (wiki, Apache logs) for inspection.
# Duration: 8 to 12 minutes for 2,000 edits on 2 shared cores (3 to 4 edits/s), hence not part of `make test`.
#
# Database: SQLite, as every other throwaway wiki of the project. MediaWiki opens write transactions of POST
# requests with BEGIN IMMEDIATE and PDO waits up to 60 s for the lock, so concurrent writers queue instead of
# failing with "database is locked" (none in 2,000 edits; the client would retry them and count the retries).
# The price is serialised writes, and with them largely serialised emit calls (the recent change is saved and
# the feeds notified inside the write transaction); the sender threads of the ten workers still send
# concurrently. rcemit keeps no state shared between processes, so MariaDB would make the run faster but would
# not exercise more of rcemit.
#
# Only the Apache instance this script starts is stopped (by its own pid file); the system's Apache
# configuration and service are not touched.
set -euo pipefail

die() { echo "concurrency: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (Apache starts as root and serves as www-data; packages may be installed)"

REPO=$(cd "$(dirname "$0")/.." && pwd)
EDITS=${EDITS:-2000}
CLIENTS=${CLIENTS:-8}
DEADLINE=${DEADLINE:-1200}
WORKERS=$((CLIENTS + 2))
LIB=$REPO/target/release/librcemit.so

. "$REPO/scripts/php-version.sh"
PHPV=$(rcemit_php_version)
packages=(apache2 "libapache2-mod-php$PHPV" "php$PHPV-cli" "php$PHPV-sqlite3" "php$PHPV-xml" "php$PHPV-mbstring"
  "php$PHPV-intl" "php$PHPV-opcache" mediawiki python3)
. "$REPO/scripts/packages.sh"
rcemit_ensure_packages concurrency "${packages[@]}"
[ -f "$LIB" ] || (cd "$REPO" && cargo build --release)

# Root-owned scratch directory (mode 755): the stats endpoint lives here, where
# www-data cannot write (RcEmit refuses files the worker user could replace). Only wiki/ belongs to www-data.
WORK=$(mktemp -d /tmp/rcemit-concurrency.XXXXXX)
chmod 755 "$WORK"
APACHE=$WORK/apache
mkdir -p "$APACHE" "$WORK/php-conf.d" "$WORK/stats"
# www-data reads the extension, the library and the header: from a world-readable copy (scripts/stage.sh), so
# that the checkout may live in a private (mode 0700) directory.
bash "$REPO/scripts/stage.sh" "$WORK/stage" "$LIB"
LIB=$WORK/stage/target/release/librcemit.so
EXT=$WORK/stage
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  if [ -f "$APACHE/httpd.pid" ]; then
    pid=$(cat "$APACHE/httpd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "concurrency: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "concurrency: creating the wiki" >&2
bash "$REPO/scripts/mkwiki.sh" "$WORK/wiki" "$PORT" >/dev/null
read -r JSON_PORT XMLRC_PORT CORE_PORT < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
cat >>"$WORK/wiki/extra.php" <<EOF
wfLoadExtension( 'RcEmit', '$EXT/php/extension.json' );
\$wgRcEmitLibraryPath = '$LIB';
\$wgRCFeeds['rcemit-json'] = [ 'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:$JSON_PORT', 'format' => 'json' ];
\$wgRCFeeds['rcemit-xmlrc'] = [ 'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:$XMLRC_PORT', 'format' => 'xmlrc' ];
# Core's own feed, the oracle the json packets are compared with.
# MediaWiki\\RCFeed\\JSONRCFeedFormatter on 1.43 (the global name is an alias there), JSONRCFeedFormatter on 1.39.
\$wgRCFeeds['core-json'] = [ 'uri' => 'udp://127.0.0.1:$CORE_PORT', 'formatter' =>
	class_exists( 'MediaWiki\\RCFeed\\JSONRCFeedFormatter' ) ? 'MediaWiki\\RCFeed\\JSONRCFeedFormatter' : 'JSONRCFeedFormatter' ];
# 2,000 edits in a few minutes are far above the default edit rate limit of a user.
\$wgGroupPermissions['user']['noratelimit'] = true;
EOF
for i in $(seq 1 "$CLIENTS"); do
  "$WORK/wiki/mw" createAndPromote.php "Concurrency$i" "rcemit-Concurrency-pass-$i" >/dev/null
done
chown -R www-data:www-data "$WORK/wiki"

cat >"$WORK/php-conf.d/60-rcemit.ini" <<EOF
; The production recipe of README.md, for the apache2 SAPI of this test only (PHP_INI_SCAN_DIR).
ffi.enable=preload
opcache.enable=1
opcache.preload=$EXT/php/preload.php
opcache.preload_user=www-data
EOF

# One worker's rcemit counters: pid and rcemit_stats, after waiting for its queue to drain. ?hold=SECONDS keeps
# the worker busy so that concurrent requests land on distinct workers.
cat >"$WORK/stats/rcemit-stats.php" <<EOF
<?php
use MediaWiki\\Extension\\RcEmit\\RcEmitLibrary;
header( 'Content-Type: application/json' );
\$out = [ 'pid' => getmypid(), 'preloaded' => class_exists( RcEmitLibrary::class, false ) ];
try {
	\$lib = RcEmitLibrary::load( '$LIB', '$EXT/include/rcemit.h' );
	\$lib->flush( 2000 );
	\$out += [ 'mode' => \$lib->mode(), 'stats' => \$lib->stats() ];
} catch ( Throwable \$e ) {
	\$out['error'] = \$e->getMessage();
}
usleep( (int)( 1e6 * min( 2.0, (float)( \$_GET['hold'] ?? 0 ) ) ) );
echo json_encode( \$out ), "\n";
EOF

M=/usr/lib/apache2/modules
cat >"$APACHE/httpd.conf" <<EOF
# Apache for rcemit's concurrency test: loopback only, prefork, a fixed set of $WORKERS workers that are never
# recycled (so that each worker's counters cover its whole share of the run).
ServerName 127.0.0.1
ServerRoot $APACHE
Listen 127.0.0.1:$PORT
PidFile $APACHE/httpd.pid
DefaultRuntimeDir $APACHE
Mutex file:$APACHE default
ErrorLog $APACHE/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
LoadModule dir_module $M/mod_dir.so
LoadModule env_module $M/mod_env.so
LoadModule alias_module $M/mod_alias.so
LoadModule php_module $M/libphp$PHPV.so
StartServers $WORKERS
MinSpareServers $((WORKERS - 1))
MaxSpareServers $WORKERS
ServerLimit $WORKERS
MaxRequestWorkers $WORKERS
MaxConnectionsPerChild 0
KeepAlive On
Timeout 120
TypesConfig /etc/mime.types
CustomLog $APACHE/access.log "%h \"%r\" %>s %D pid=%P"
DocumentRoot /usr/share/mediawiki
DirectoryIndex index.php
<Directory />
	AllowOverride None
	Require all denied
</Directory>
<Directory /usr/share/mediawiki>
	Require all granted
</Directory>
Alias /rcemit-stats.php $WORK/stats/rcemit-stats.php
<Directory $WORK/stats>
	Require all granted
</Directory>
<FilesMatch "\.php$">
	SetHandler application/x-httpd-php
</FilesMatch>
SetEnv MW_CONFIG_FILE $WORK/wiki/LocalSettings.php
EOF

echo "concurrency: starting Apache on 127.0.0.1:$PORT ($WORKERS prefork workers)" >&2
PHP_INI_SCAN_DIR=":$WORK/php-conf.d" /usr/sbin/apache2 -f "$APACHE/httpd.conf" -k start
for _ in $(seq 1 100); do [ -f "$APACHE/httpd.pid" ] && break; sleep 0.1; done
[ -f "$APACHE/httpd.pid" ] || { cat "$APACHE/error.log" >&2; die "Apache did not start"; }

set +e
timeout $((DEADLINE + 120)) python3 "$REPO/scripts/concurrency.py" \
  --url "http://127.0.0.1:$PORT" --db "$WORK/wiki/wiki.sqlite" --json-port "$JSON_PORT" \
  --xmlrc-port "$XMLRC_PORT" --core-json-port "$CORE_PORT" --edits "$EDITS" --clients "$CLIENTS" \
  --deadline "$DEADLINE" \
  --master-pid "$(cat "$APACHE/httpd.pid")" --error-log "$APACHE/error.log" --rcemit-log "$WORK/wiki/rcemit.log"
status=$?
set -e
exit $status
