#!/usr/bin/env python3
"""Creates a throwaway wiki, performs scripted actions on it and records what MediaWiki itself produced (the
version installed where it runs: 1.39 on the host, 1.43 in the trixie chroot).

Called by scripts/regen-goldens.sh once per run (patrolling on / off). For every recent change it records
rcemit's payload (scripts/goldens/RecorderFeed.php, which calls php/src/PayloadBuilder.php), each core feed's
UDP datagram exactly as received (JSONRCFeedFormatter, XMLRCFeedFormatter, IRCColourfulRCFeedFormatter, each
plain and with feed options), and api.php's <rc> element fetched right after the action, from which the xmlrc
datagram is derived by appending wikiid as the last attribute: with XMLRC's rcprop set (feed `xmlrc`, read
anonymously) and with every property (feed `xmlrc-all`, read by the administrator, who may see `patrolled`;
without `patrolled` where the wiki has no patrolling, as api.php refuses it there). Writes one JSON run object.
The actions, the UDP listener and the api.php fetch live in scripts/mwdrive.py (shared with tests/e2e/e2e.py).

Usage: drive.py RUN_NAME WIKI_DIR OUT_JSON [--no-rc-patrol] [--no-np-patrol] [--lang CODE] [--script-path /w]
"""

import argparse
import base64
import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from mwdrive import (ADMIN_PASS, REPO, XMLRC_ALL_PROPS, XMLRC_PROPS, Api, Listener, actions,  # noqa: E402
                     api_rc_elements, core_formatter_php, make_wiki, mw, xmlrc_from_api)

LOCAL_INTERWIKI = "goldwiki"
IRC_PREFIX = "#wiki\t"
MARK = b"RCEMIT-MARK "

# name -> (format, core formatter, options recorded for the Rust context, extra $wgRCFeeds keys as PHP)
FEEDS = [
    ("json", "json", "JSONRCFeedFormatter", {}, ""),
    ("json-channel", "json", "JSONRCFeedFormatter", {"channel": "#golden"}, "'channel' => '#golden',"),
    ("xml", "xml", "XMLRCFeedFormatter", {}, ""),
    ("xml-channel", "xml", "XMLRCFeedFormatter", {"channel": "#golden"}, "'channel' => '#golden',"),
    ("irc", "irc", "IRCColourfulRCFeedFormatter", {}, "'add_interwiki_prefix' => false,"),
    ("irc-interwiki", "irc", "IRCColourfulRCFeedFormatter", {"add_interwiki_prefix": True},
     "'add_interwiki_prefix' => true,"),
    ("irc-prefixed", "irc", "IRCColourfulRCFeedFormatter", {"prefix": IRC_PREFIX}, "'add_interwiki_prefix' => false,"),
]


def log(msg):
    print(f"[goldens] {msg}", file=sys.stderr, flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.all_props = XMLRC_ALL_PROPS
        if args.no_rc_patrol and args.no_np_patrol:
            self.all_props = "|".join(p for p in XMLRC_ALL_PROPS.split("|") if p != "patrolled")
        self.dir = os.path.abspath(args.wiki_dir)
        self.listener = Listener([f[0] for f in FEEDS])
        self.payload_file = os.path.join(self.dir, "payloads.jsonl")
        self.payload_pos = 0
        self.payloads = {}
        self.cases = []
        self.queried = []
        self.current = {f[0]: None for f in FEEDS}  # per feed: rc_id of the last marker seen
        self.got = {}  # rc_id -> {feed name -> [bytes]}
        self.unattributed = []

    # ----- wiki setup -----
    def make_wiki(self):
        self.url = make_wiki(self.dir, self.args.lang, self.args.script_path)
        feeds = []
        for name, _fmt, formatter, _opts, extra in FEEDS:
            port = self.listener.ports[name]
            uri = f"udp://127.0.0.1:{port}"
            if name == "irc-prefixed":
                uri += "/" + IRC_PREFIX.replace("\t", "\\t")
            feeds.append(f"$wgRCFeeds['{name}'] = [ 'formatter' => {core_formatter_php(formatter)}, "
                         f"'uri' => \"{uri}\", {extra} ];")
        rc_patrol = "false" if self.args.no_rc_patrol else "true"
        np_patrol = "false" if self.args.no_np_patrol else "true"
        src = f"""
$wgAutoloadClasses['MediaWiki\\\\Extension\\\\RcEmit\\\\PayloadBuilder'] = '{REPO}/php/src/PayloadBuilder.php';
$wgAutoloadClasses['MediaWiki\\\\Extension\\\\RcEmit\\\\TagCapture'] = '{REPO}/php/src/TagCapture.php';
$wgAutoloadClasses['MediaWiki\\\\Extension\\\\RcEmit\\\\MediaWikiCompat'] = '{REPO}/php/src/MediaWikiCompat.php';
$wgAutoloadClasses['RcEmitGoldenRecorderFeed'] = '{REPO}/scripts/goldens/RecorderFeed.php';
$wgHooks['ChangeTagsAfterUpdateTags'][] = static function ( ...$args ) {{
	( new MediaWiki\\Extension\\RcEmit\\TagCapture() )->onChangeTagsAfterUpdateTags( ...$args );
}};
$wgUseRCPatrol = {rc_patrol};
$wgUseNPPatrol = {np_patrol};
$wgRCWatchCategoryMembership = true;
$wgLocalInterwikis = [ '{LOCAL_INTERWIKI}' ];
$wgEnableBotPasswords = true;
$wgGroupPermissions['sysop']['deleterevision'] = true;
$wgDebugLogGroups['error'] = '{self.dir}/error.log';
$wgDebugLogGroups['exception'] = '{self.dir}/error.log';
# Query records of the connections RecorderFeed.php flags with DBO_DEBUG (1.39: DBQuery, 1.43: rdbms).
$wgDebugLogGroups['DBQuery'] = '{self.dir}/queries.log';
$wgDebugLogGroups['rdbms'] = '{self.dir}/queries.log';
$wgRCFeeds = [];
$wgRCFeeds['recorder'] = [
	'class' => RcEmitGoldenRecorderFeed::class,
	'out' => '{self.payload_file}',
	'query_log' => '{self.dir}/queries.log',
	'mark_ports' => [ {', '.join(str(p) for p in self.listener.ports.values())} ],
];
""" + "\n".join(feeds) + "\n"
        with open(os.path.join(self.dir, "extra.php"), "a") as f:
            f.write(src)
        subprocess.run([os.path.join(self.dir, "serve")], check=True)
        self.admin = Api(self.url)
        self.anon = Api(self.url)
        # Reads api.php with every property (xmlrc-all) from the first action on, before actions() logs
        # self.admin in (1.43's createAndPromote.php --bot already makes a change).
        self.reader = Api(self.url)
        self.reader.login("Admin", ADMIN_PASS)

    def mw(self, script, *args, stdin=None):
        return mw(self.dir, script, *args, stdin=stdin)

    def rc_id_of(self, name):
        return next(c["rc_id"] for c in self.cases if c["name"] == name)

    def check_error_log(self):
        """PHP warnings and exceptions from rcemit's PHP code (MediaWiki's 'error'/'exception' channels, an entry
        being a time-stamped line and its stack trace) fail the run: the payload must be built silently on every
        path. Deprecation notices do not change what MediaWiki sends, so they are printed but do not stop the
        recording (tests/e2e/e2e.py fails on them)."""
        path = os.path.join(self.dir, "error.log")
        entries = []
        for line in open(path, errors="replace") if os.path.exists(path) else []:
            if re.match(r"\d{4}-\d\d-\d\d ", line) or not entries:
                entries.append([])
            entries[-1].append(line.rstrip("\n"))
        ours = [e for e in entries if any(re.search(r"PayloadBuilder|TagCapture|RecorderFeed", x) for x in e)]
        errors = [e for e in ours if "PHP Deprecated:" not in e[0]]
        noise = re.compile(r"^\S+ \S+ \S+ \S+: \[[^]]+\] (\[no req\]|\S*)\s+")  # time, host, wiki, request
        for message in dict.fromkeys(noise.sub("", e[0]) for e in ours if e not in errors):
            log("WARNING: deprecation notice from rcemit's PHP code: " + message)
        if errors:
            raise RuntimeError("rcemit PHP code logged errors:\n" + "\n".join(x for e in errors[:5] for x in e[:4]))

    def context(self):
        php = r"""
$c = MediaWiki\MediaWikiServices::getInstance()->getMainConfig();
echo json_encode( [
  'canonical_server' => $c->get( 'CanonicalServer' ),
  'server_name' => $c->get( 'ServerName' ),
  'script_path' => $c->get( 'ScriptPath' ),
  'script' => $c->get( 'Script' ),
  'article_path' => $c->get( 'ArticlePath' ),
  'wiki_id' => WikiMap::getCurrentWikiId(),
  'special_namespace' => MediaWiki\MediaWikiServices::getInstance()->getContentLanguage()->getNsText( NS_SPECIAL ),
  'use_rc_patrol' => $c->get( 'UseRCPatrol' ),
  'use_np_patrol' => $c->get( 'UseNPPatrol' ),
  'local_interwikis' => $c->get( 'LocalInterwikis' ),
  'mediawiki_version' => MW_VERSION,
] ), "\n";
"""
        out = self.mw("eval.php", stdin=" ".join(php.split("\n")) + "\n")
        return json.loads(out.strip().splitlines()[-1].lstrip("> ").strip())

    # ----- recording -----
    def new_payloads(self):
        with open(self.payload_file, "rb") if os.path.exists(self.payload_file) else open(os.devnull, "rb") as f:
            f.seek(self.payload_pos)
            chunk = f.read()
        self.payload_pos += len(chunk)
        recs = [json.loads(line) for line in chunk.decode().splitlines() if line.strip()]
        for r in recs:
            # rc_id 0: a change sent to feeds without a recentchanges row (the patrol log is published 'udp' only).
            if r["rc_id"] in self.payloads and r["rc_id"] != 0:
                raise RuntimeError(f"rc_id {r['rc_id']} recorded twice")
            self.payloads[r["rc_id"]] = r
        return recs

    def attribute(self):
        """Files each feed's new datagrams under the rc_id of the last marker before them on that feed."""
        for name in self.listener.ports:
            for data in self.listener.take(name):
                if data.startswith(MARK):
                    self.current[name] = int(data[len(MARK):])
                elif self.current[name] is None:
                    self.unattributed.append((name, data))
                else:
                    self.got.setdefault(self.current[name], {}).setdefault(name, []).append(data)

    def step(self, name, fn, may_be_empty=False):
        """Runs one action, then records every recent change it produced."""
        fn()
        self.listener.settle()
        recs = self.new_payloads()
        if sum(1 for r in recs if r["rc_id"] == 0) > 1:
            raise RuntimeError(f"action {name!r} sent several changes without a recentchanges row")
        if not recs:
            if may_be_empty:
                self.attribute()
                return
            raise RuntimeError(f"action {name!r} produced no recent change")
        self.attribute()
        elements = api_rc_elements(self.anon, {r["rc_id"] for r in recs})
        all_elements = api_rc_elements(self.reader, {r["rc_id"] for r in recs}, self.all_props)
        for i, rec in enumerate(recs):
            rc_id = rec["rc_id"]
            label = name if len(recs) == 1 else f"{name} [{i + 1}/{len(recs)}]"
            if rec["queried"]:
                # Edits and page creations are built inside the save request: no query allowed there.
                if rec["attribs"]["rc_type"] in (0, 1):
                    raise RuntimeError(f"building the payload of {label!r} queried the database")
                self.queried.append(label)
            element = elements.get(rc_id)
            if element is None and rc_id != 0:
                raise RuntimeError(f"api.php did not list rcid {rc_id} ({label})")
            # Without a row the API has nothing to say: no xmlrc oracle for such a change.
            expected = {"xmlrc": xmlrc_from_api(element, self.ctx["wiki_id"]) if element else None}
            if rc_id != 0 and rc_id not in all_elements:
                raise RuntimeError(f"api.php did not list rcid {rc_id} for the administrator ({label})")
            expected["xmlrc-all"] = xmlrc_from_api(all_elements[rc_id], self.ctx["wiki_id"]) if element else None
            got = self.got.pop(rc_id, {})
            for feed in FEEDS:
                datagrams = got.get(feed[0], [])
                if len(datagrams) > 1:
                    raise RuntimeError(f"{len(datagrams)} datagrams for rc {rc_id} on feed {feed[0]}")
                expected[feed[0]] = text_or_b64(datagrams[0]) if datagrams else None
            if rec.get("part_failures"):
                raise RuntimeError(f"{label}: PayloadBuilder failed on optional parts: {rec['part_failures']}")
            self.cases.append({
                "name": label,
                "rc_id": rc_id,
                "rc_type": rec["attribs"]["rc_type"],
                "payload_b64": rec["payload"],
                "build_us": round(rec["build_us"], 1),
                "build_warm_us": round(rec["build_warm_us"], 1),
                "expected": expected,
            })
            log(f"{label}: rc {rc_id} type {rec['attribs']['rc_type']} "
                f"({sum(1 for v in expected.values() if v is not None)} outputs)")


def text_or_b64(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("wiki_dir")
    p.add_argument("out")
    p.add_argument("--no-rc-patrol", action="store_true", help="$wgUseRCPatrol = false")
    p.add_argument("--no-np-patrol", action="store_true", help="$wgUseNPPatrol = false")
    p.add_argument("--lang", default="en")
    p.add_argument("--script-path", default="")
    args = p.parse_args()
    run = Run(args)
    run.make_wiki()
    try:
        run.ctx = run.context()
        actions(run)
        run.listener.settle()
        run.attribute()
        if run.unattributed or run.got:
            raise RuntimeError(f"datagrams of no recorded change: {(run.unattributed + list(run.got.items()))[:3]}")
        run.check_error_log()
    finally:
        subprocess.run([os.path.join(run.dir, "stop")])
    ctx = run.ctx
    feeds = []
    for name, fmt, formatter, opts, _extra in FEEDS:
        feed = {"name": name, "format": fmt, "core_formatter": formatter, "options": opts}
        if opts.get("add_interwiki_prefix") is True:
            feed["irc_interwiki_prefix"] = ctx["local_interwikis"][0]
        feeds.append(feed)
    feeds.append({"name": "xmlrc", "format": "xmlrc", "options": {"rcprop": XMLRC_PROPS},
                  "source": "api.php list=recentchanges format=xml, wikiid appended"})
    feeds.append({"name": "xmlrc-all", "format": "xmlrc", "options": {"rcprop": run.all_props},
                  "source": "api.php list=recentchanges format=xml read by the administrator, wikiid appended"})
    out = {"name": args.name, "language": args.lang, "context": ctx, "feeds": feeds,
           "payload_build_queried_db": run.queried, "cases": run.cases}
    with open(args.out, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    log(f"run {args.name}: {len(run.cases)} changes recorded")


if __name__ == "__main__":
    main()
