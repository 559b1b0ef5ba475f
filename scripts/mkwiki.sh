#!/usr/bin/env bash
# mkwiki.sh — creates a throwaway MediaWiki wiki on SQLite from Debian's `mediawiki` package (1.39 on Debian 12,
# 1.43 on Debian 13; the PHP packages' version comes from scripts/php-version.sh).
#
# Usage: scripts/mkwiki.sh DIR [PORT]
#   DIR   directory for the wiki (created; must not already hold a LocalSettings.php)
#   PORT  port for `php -S` on 127.0.0.1 (default: a free port chosen now)
# Environment (all optional):
#   MKWIKI_NAME         site name                  (default RcEmitTest)
#   MKWIKI_LANG         content language code      (default en)
#   MKWIKI_SCRIPT_PATH  $wgScriptPath, "" or "/w"  (default ""; "/w" serves the wiki under /w via DIR/docroot)
#   MKWIKI_ADMIN        administrator user name    (default Admin)
#   MKWIKI_PASS         administrator password     (default rcemit-Admin-pass-1)
#
# What DIR holds afterwards:
#   LocalSettings.php   written by maintenance/install.php --confpath DIR, then extended by this script; its last
#                       line requires DIR/extra.php
#   extra.php           empty settings hook: append your own settings ($wgRCFeeds, wfLoadExtension, ...) here
#   wiki.sqlite ...     the SQLite databases ($wgSQLiteDataDir = DIR); images/ (uploads), cache/, tmp/
#   port, url           the chosen port and the wiki's base URL (http://127.0.0.1:PORT$wgScriptPath)
#   mw SCRIPT [ARGS]    runs /usr/share/mediawiki/maintenance/SCRIPT(.php) against this wiki
#   serve               starts `php -S` in the background (log: server.log, pid: server.pid) and waits until
#                       api.php answers; idempotent
#   stop                stops that server (by its recorded pid only)
#
# How MediaWiki 1.39 and 1.43 find DIR/LocalSettings.php (includes/BootstrapHelperFunctions.php,
# wfDetectLocalSettingsFile): the constant MW_CONFIG_FILE if already defined (maintenance scripts define it from
# --conf), otherwise the environment variable MW_CONFIG_FILE (a path containing "/" is used as is), otherwise
# $IP/LocalSettings.php (Debian symlinks that to /etc/mediawiki/LocalSettings.php). `mw` and `serve` export
# MW_CONFIG_FILE=DIR/LocalSettings.php, which works for maintenance scripts and for every request `php -S`
# serves (getenv() reads the server process's environment), so no router script and no write under
# /usr/share/mediawiki is needed.
#
# Settings added for tests: uploads on (no ImageMagick), $wgJobRunRate = 0 (jobs run only through
# `DIR/mw runJobs`; `php -S` is single-threaded), exception details shown, $wgCanonicalServer = $wgServer.
# Missing Debian packages are installed when run as root. Prints only DIR's URL on success; errors go to stderr.
set -euo pipefail

die() { echo "mkwiki: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: mkwiki.sh DIR [PORT]"

MW=/usr/share/mediawiki
. "$(dirname "$0")/php-version.sh"
PHPV=$(rcemit_php_version)
packages=("php$PHPV-cli" "php$PHPV-sqlite3" "php$PHPV-xml" "php$PHPV-mbstring" "php$PHPV-intl" mediawiki python3)
. "$(dirname "$0")/packages.sh"
rcemit_ensure_packages mkwiki "${packages[@]}" || exit 1

# DIR is written into PHP strings and shell scripts below: keep it to characters that need no quoting.
[[ "$1" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR must consist of letters, digits and . _ / + - only: $1"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
[[ "$DIR" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR's absolute path must consist of letters, digits and . _ / + - only: $DIR"
[ -e "$DIR/LocalSettings.php" ] && die "$DIR already holds a wiki (LocalSettings.php exists)"
if [ $# -ge 2 ]; then
  PORT=$2
else
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT must be a number"
NAME=${MKWIKI_NAME:-RcEmitTest}
LANGCODE=${MKWIKI_LANG:-en}
SCRIPT_PATH=${MKWIKI_SCRIPT_PATH:-}
ADMIN=${MKWIKI_ADMIN:-Admin}
PASS=${MKWIKI_PASS:-rcemit-Admin-pass-1}
[[ -z "$SCRIPT_PATH" || "$SCRIPT_PATH" =~ ^/[A-Za-z0-9_-]+$ ]] || die "MKWIKI_SCRIPT_PATH must be empty or /name"

mkdir -p "$DIR/images" "$DIR/cache" "$DIR/tmp"
# MW_CONFIG_FILE: install.php refuses to run when the settings file it detects exists, and on a host whose own
# wiki is configured that is $IP/LocalSettings.php (-> /etc/mediawiki/LocalSettings.php); point it at ours.
if ! MW_CONFIG_FILE="$DIR/LocalSettings.php" php "$MW/maintenance/install.php" --confpath "$DIR" --dbtype sqlite --dbpath "$DIR" --dbname wiki \
  --server "http://127.0.0.1:$PORT" --scriptpath "$SCRIPT_PATH" --lang "$LANGCODE" --pass "$PASS" \
  --skins "" "$NAME" "$ADMIN" >"$DIR/install.log" 2>&1; then
  cat "$DIR/install.log" >&2
  die "install.php failed (log: $DIR/install.log)"
fi

cat >>"$DIR/LocalSettings.php" <<EOF

# Added by rcemit's scripts/mkwiki.sh for throwaway test wikis.
\$wgCanonicalServer = \$wgServer;
\$wgEnableUploads = true;
\$wgUseImageMagick = false;
\$wgUploadDirectory = "$DIR/images";
\$wgCacheDirectory = "$DIR/cache";
\$wgTmpDirectory = "$DIR/tmp";
\$wgJobRunRate = 0;
\$wgShowExceptionDetails = true;
\$wgDebugLogGroups['rcemit'] = "$DIR/rcemit.log";
require "$DIR/extra.php";
EOF
printf '<?php\n# Extra settings for this throwaway wiki; LocalSettings.php requires this file last.\n' >"$DIR/extra.php"
echo "$PORT" >"$DIR/port"

DOCROOT=$MW
if [ -n "$SCRIPT_PATH" ]; then
  mkdir -p "$DIR/docroot"
  ln -sfn "$MW" "$DIR/docroot${SCRIPT_PATH}"
  DOCROOT=$DIR/docroot
fi
echo "http://127.0.0.1:$PORT$SCRIPT_PATH" >"$DIR/url"

cat >"$DIR/mw" <<EOF
#!/usr/bin/env bash
# Runs a MediaWiki maintenance script against the wiki in $DIR: mw SCRIPT [ARGS...]
set -e
script=\$1; shift
[ "\${script%.php}" = "\$script" ] && script=\$script.php
MW_CONFIG_FILE="$DIR/LocalSettings.php" exec php "$MW/maintenance/\$script" "\$@"
EOF

cat >"$DIR/serve" <<EOF
#!/usr/bin/env bash
# Starts php -S for the wiki in $DIR on 127.0.0.1:$PORT in the background and waits until api.php answers.
# SERVE_PHP_ARGS: more php options, e.g. "-d ffi.enable=1" (RcEmit in web requests without the preload recipe).
set -e
if [ -f "$DIR/server.pid" ] && kill -0 "\$(cat "$DIR/server.pid")" 2>/dev/null; then exit 0; fi
# shellcheck disable=SC2086 # SERVE_PHP_ARGS is a list of options
MW_CONFIG_FILE="$DIR/LocalSettings.php" setsid php \${SERVE_PHP_ARGS:-} -S "127.0.0.1:$PORT" -t "$DOCROOT" \\
  >>"$DIR/server.log" 2>&1 </dev/null &
echo \$! >"$DIR/server.pid"
for _ in \$(seq 1 200); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read()' \\
    "http://127.0.0.1:$PORT$SCRIPT_PATH/api.php?action=query&meta=siteinfo&format=json" 2>/dev/null; then
    exit 0
  fi
  kill -0 "\$(cat "$DIR/server.pid")" 2>/dev/null || { echo "serve: php -S exited; see $DIR/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "serve: api.php did not answer within 20 s; see $DIR/server.log" >&2
exit 1
EOF

cat >"$DIR/stop" <<EOF
#!/usr/bin/env bash
# Stops the php -S started by $DIR/serve (only that process).
if [ -f "$DIR/server.pid" ]; then
  pid=\$(cat "$DIR/server.pid")
  kill "\$pid" 2>/dev/null || true
  for _ in \$(seq 1 50); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DIR/server.pid"
fi
EOF
chmod +x "$DIR/mw" "$DIR/serve" "$DIR/stop"
cat "$DIR/url"
