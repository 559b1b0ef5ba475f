#!/usr/bin/env bash
# demo.sh — the main job on a throwaway wiki: build rcemit, create a SQLite wiki from Debian's MediaWiki, load
# the RcEmit extension with three feeds (irc with core's prefix framing, json, xmlrc) pointing at one loopback
# port, make a few changes of different kinds, and show the datagrams as they arrive.
#
# Usage: bash scripts/demo.sh            (KEEP=1 keeps the wiki and prints where; PORT=N picks the UDP port)
# Installs missing Debian packages first (needs root for that), like every project script.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-9390}
WORK=$(mktemp -d /tmp/rcemit-demo.XXXXXX)
LISTENER=
cleanup() {
  [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null || true
  [ -x "$WORK/wiki/stop" ] && "$WORK/wiki/stop" || true
  if [ "${KEEP:-0}" = 1 ]; then echo "demo: wiki kept in $WORK/wiki" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing what is missing and building the release library"
"$REPO/scripts/install-deps.sh"
(cd "$REPO" && cargo build --release --quiet)

step "Creating a throwaway wiki in $WORK/wiki"
"$REPO/scripts/mkwiki.sh" "$WORK/wiki" >/dev/null
cat >>"$WORK/wiki/extra.php" <<PHP
wfLoadExtension( 'RcEmit', '$REPO/php/extension.json' );
\$wgRcEmitLibraryPath = '$REPO/target/release/librcemit.so';
\$wgDebugLogGroups['rcemit'] = '$WORK/rcemit.log';
\$wgRCFeeds['demo-irc'] = [
	'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
	'uri' => "udp://127.0.0.1:$PORT/#demo.wiki\\t",
	'format' => 'irc',
];
\$wgRCFeeds['demo-json'] = [
	'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:$PORT',
	'format' => 'json',
];
\$wgRCFeeds['demo-xmlrc'] = [
	'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:$PORT',
];
PHP
sed -n '/wfLoadExtension/,$p' "$WORK/wiki/extra.php"

step "Listening on udp://127.0.0.1:$PORT (rcemit listen)"
"$REPO/target/release/rcemit" listen "127.0.0.1:$PORT" --seconds 6 &
LISTENER=$!
sleep 0.3

step "Making changes: a page creation, a minor edit, a protection, a move"
mw=$WORK/wiki/mw
echo "Hello from the rcemit demo." | "$mw" edit --user Admin --summary "Create the demo page" "Demo page" >/dev/null
echo "Hello again, with <b>markup</b> & an ampersand." |
  "$mw" edit --user Admin --minor --summary "Tweak: quotes \"x\" & <tags>" "Demo page" >/dev/null
"$mw" protect --user Admin --reason "Demo protection" "Demo page" >/dev/null
echo "Demo page|Demo page (moved)" | "$mw" moveBatch --u Admin --r "Demo move" >/dev/null

step "rcemitStatus.php: the library's status, and the newest change resent to demo-irc"
MW_CONFIG_FILE="$WORK/wiki/LocalSettings.php" php "$REPO/php/maintenance/rcemitStatus.php" --feed=demo-irc

step "Waiting for the listener to go quiet"
wait "$LISTENER" || true
LISTENER=
if [ -s "$WORK/rcemit.log" ]; then
  step "rcemit log channel"
  cat "$WORK/rcemit.log"
fi

step "The XMPP chain: wiki -> RcEmit (xmlrc) -> rcemit-relay bridge -> Prosody -> a slixmpp client"
"$REPO/scripts/install-relay-deps.sh"
(cd "$REPO" && cargo build --quiet -p rcemit-relay)
/usr/bin/python3 -B "$REPO/tests/relay/demo_chain.py" --wiki "$WORK/wiki" --port "$PORT"
