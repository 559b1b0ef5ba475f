#!/usr/bin/env python3
"""End-to-end conformance of rcemit against the MediaWiki it runs with (`make e2e`: 1.39 on the Debian 12 host;
`make test-143`: 1.43 in the Debian 13 chroot of scripts/trixie-chroot.sh).

Two runs (English with patrolling; German, patrolling off), each on a throwaway wiki (scripts/mkwiki.sh,
$wgScriptPath "/w") that loads the RcEmit extension with the release library (target/release/librcemit.so, the
extension's default) and publishes every change twice:
  rcemit: xmlrc, xmlrc with every property (xmlrc-all, against api.php read by the administrator), json, json
          configured by core's formatter class name (json-formatter), xml, irc (prefix "#wiki\\t"), plus json to
          udp://[::1] (when the machine has ::1), irc to udp://localhost and xml to a loopback port nobody
          listens on;
  core:   JSONRCFeedFormatter, XMLRCFeedFormatter, IRCColourfulRCFeedFormatter (same prefix), the oracles
          (named MediaWiki\\RCFeed\\... where that class exists, i.e. on 1.43).
What the web server reads (php/, the library, the C header, tests/e2e/stats.php) is first copied by
scripts/stage.sh into a world-readable temporary directory and the wiki loads the extension from there, so the
test works wherever the checkout lives (php -S preloads as `nobody`, which cannot enter a mode-0700 directory).
`php -S` serves the wiki with the production FFI recipe of php/README.md (ffi.enable=preload, ffi.preload = the
header php/maintenance/writePreloadHeader.php writes, opcache.preload=php/preload.php, opcache.preload_user=nobody
when root; opcache.enable_cli=1 because php -S counts as CLI for opcache), so every action made over HTTP goes
through the web SAPI with the preloaded FFI scope; actions made by maintenance scripts (job queue, edit.php) go
through the CLI, where the extension loads the library with FFI::cdef.

The actions are scripts/mwdrive.py's (the ones the goldens record) plus a few only checked here. After each
action the core datagrams (sent inside the request) give the action's rc ids; the test then waits (bounded) for
rcemit's datagrams, fetches api.php's <rc> elements for those ids and compares change by change:
  xmlrc  byte-equal to api.php's <rc> element (XMLRC's rcprop set) with wikiid appended last;
  json   parsed equal to core's packet, key order included (byte equality reported too);
  xml    parsed equal to core's packet, attribute and element order included (byte equality reported too);
  irc    byte-identical to core's datagram, framing included.
Prints a per-format table and the web process's counters (flushed through tests/e2e/stats.php); exits
non-zero on any mismatch, missing or extra datagram.

Notices: the wikis run with error_reporting(E_ALL) and $wgDevelopmentWarnings = true; PHP's own log (error_log,
for php -S and every CLI script, through PHP_INI_SCAN_DIR) and MediaWiki's 'error', 'exception' and
'deprecated' channels go to files in the wiki directory. After each run every entry that mentions RcEmit (its
class namespace MediaWiki\\Extension\\RcEmit, the name RcEmit, or a path of its php/ directory) is printed and
fails the test; the others (core's own notices) are printed as information.

Usage: python3 tests/e2e/e2e.py [--keep]      (--keep leaves the wiki directory for inspection)
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from mwdrive import (ADMIN_PASS, REPO, XMLRC_ALL_PROPS, Api, Listener, actions, api_rc_elements,  # noqa: E402
                     core_formatter_php, make_wiki, mw, xmlrc_from_api)

LIBRARY = os.path.join(REPO, "target", "release", "librcemit.so")
STAGE = None  # the world-readable copy of what the web server reads (scripts/stage.sh), made by main()
WAIT_S = 5.0  # longest wait for one action's rcemit datagrams
SILENT_AFTER = 3  # a feed that sent nothing after this many actions in a row is not waited for any more


def ipv6_loopback():
    """Whether ::1 exists here (some containers run without IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = ipv6_loopback()
# Compared feeds: name -> (format, oracle feed or None for api.php, listen addresses, uri host, prefixed).
# localhost may resolve to 127.0.0.1 or ::1: its listener takes both.
RCEMIT = {
    "xmlrc": ("xmlrc", None, ["127.0.0.1"], "127.0.0.1", False),
    # Every xmlrc property (sha1, parsedcomment, userid, patrolled...: the optional payload parts), compared with
    # api.php read by the administrator (who may see `patrolled`; left out where nobody can patrol).
    "xmlrc-all": ("xmlrc", None, ["127.0.0.1"], "127.0.0.1", False),
    "json": ("json", "core-json", ["127.0.0.1"], "127.0.0.1", False),
    # The drop-in form: `formatter` names core's class as the running MediaWiki spells it (MediaWiki\RCFeed\... on
    # 1.43, global on 1.39) instead of `format`.
    "json-formatter": ("json", "core-json", ["127.0.0.1"], "127.0.0.1", False),
    "xml": ("xml", "core-xml", ["127.0.0.1"], "127.0.0.1", False),
    "irc": ("irc", "core-irc", ["127.0.0.1"], "127.0.0.1", True),
    "irc@localhost": ("irc", "core-irc", ["127.0.0.1"] + (["::1"] if IPV6 else []), "localhost", True),
}
if IPV6:
    RCEMIT["json@[::1]"] = ("json", "core-json", ["::1"], "[::1]", False)
CORE = {
    "core-json": "JSONRCFeedFormatter",
    "core-xml": "XMLRCFeedFormatter",
    "core-irc": "IRCColourfulRCFeedFormatter",
}


def log(msg):
    print(f"[e2e] {msg}", file=sys.stderr, flush=True)


def free_udp_port():
    """A loopback UDP port that nobody listens on once this returns."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class E2E:
    def __init__(self, wiki_dir, lang, patrol):
        self.dir = wiki_dir
        self.lang, self.patrol = lang, patrol
        names = list(RCEMIT) + list(CORE)
        self.listener = Listener(names, {name: spec[2] for name, spec in RCEMIT.items()})
        self.dead_port = free_udp_port()
        self.changes = []  # one dict per recent change, in order
        self.stray = []  # rcemit datagrams after an action that produced no change
        self.misses = {n: 0 for n in RCEMIT}  # consecutive actions after which a feed sent nothing
        self.silent = set()  # feeds not waited for any more (SILENT_AFTER misses in a row)
        self.via_cli = False
        self.server = None

    # ----- setup -----
    def setup(self):
        # Every PHP process of this run (install.php, php -S, maintenance scripts) reports everything into
        # php-errors.log; the scan directory is appended to the default one (leading ":").
        ini_dir = os.path.join(self.dir, "php.d")
        os.mkdir(ini_dir)
        self.php_errors = os.path.join(self.dir, "php-errors.log")
        with open(os.path.join(ini_dir, "99-rcemit-e2e.ini"), "w") as f:
            f.write(f"error_reporting = E_ALL\nlog_errors = On\nerror_log = {self.php_errors}\n"
                    "display_errors = stderr\n")
        os.environ["PHP_INI_SCAN_DIR"] = ":" + ini_dir
        self.url = make_wiki(self.dir, lang=self.lang, script_path="/w")
        feeds = []
        self.all_props = XMLRC_ALL_PROPS if self.patrol else "|".join(
            p for p in XMLRC_ALL_PROPS.split("|") if p != "patrolled")
        for name, (fmt, _oracle, _addrs, host, prefixed) in RCEMIT.items():
            uri = f"udp://{host}:{self.listener.ports[name]}" + ("/#wiki\\t" if prefixed else "")
            props = f", 'properties' => '{self.all_props}'" if name == "xmlrc-all" else ""
            how = (f"'formatter' => {core_formatter_php('JSONRCFeedFormatter')}" if name == "json-formatter"
                   else f"'format' => '{fmt}'")
            feeds.append(f"$wgRCFeeds['rcemit-{name}'] = [ 'class' => RcEmitFeed::class, 'uri' => \"{uri}\", "
                         f"{how}{props} ];")
        feeds.append(f"$wgRCFeeds['rcemit-dead'] = [ 'class' => RcEmitFeed::class, "
                     f"'uri' => 'udp://127.0.0.1:{self.dead_port}', 'format' => 'xml' ];")
        for name, formatter in CORE.items():
            uri = f"udp://127.0.0.1:{self.listener.ports[name]}" + ("/#wiki\\t" if name == "core-irc" else "")
            # add_interwiki_prefix => false: 1.39's IRC formatter warns about the missing key otherwise.
            option = " 'add_interwiki_prefix' => false," if name == "core-irc" else ""
            feeds.append(f"$wgRCFeeds['{name}'] = [ 'formatter' => {core_formatter_php(formatter)}, "
                         f"'uri' => \"{uri}\",{option} ];")
        with open(os.path.join(self.dir, "extra.php"), "a") as f:
            f.write(f"""
use MediaWiki\\Extension\\RcEmit\\RcEmitFeed;
error_reporting( E_ALL );
ini_set( 'log_errors', '1' );
ini_set( 'error_log', '{self.php_errors}' );
$wgDevelopmentWarnings = true;
$wgDebugLogGroups['deprecated'] = '{self.dir}/deprecated.log';
wfLoadExtension( 'RcEmit', '{STAGE}/php/extension.json' );
$wgRCWatchCategoryMembership = true;
$wgUseRCPatrol = {'true' if self.patrol else 'false'};
$wgUseNPPatrol = {'true' if self.patrol else 'false'};
$wgEnableBotPasswords = true;
$wgGroupPermissions['sysop']['deleterevision'] = true;
$wgDebugLogGroups['error'] = '{self.dir}/error.log';
$wgDebugLogGroups['exception'] = '{self.dir}/error.log';
$wgRCFeeds = [];
""" + "\n".join(feeds) + "\n")
        self.header = os.path.join(self.dir, "rcemit-preload.h")
        log(self.rcemit_script("writePreloadHeader.php", f"--out={self.header}").strip())
        os.symlink(os.path.join(STAGE, "tests", "e2e", "stats.php"), os.path.join(self.dir, "docroot", "rcemit-e2e.php"))
        self.serve()
        self.admin, self.anon, self.reader = Api(self.url), Api(self.url), Api(self.url)
        self.reader.login("Admin", ADMIN_PASS)  # reads api.php with every property for xmlrc-all
        info = self.anon.call(action="query", meta="siteinfo")["query"]["general"]
        self.versions = (info["generator"].replace("MediaWiki ", ""), info["phpversion"])
        self.ctx = {"wiki_id": info["wikiid"], "use_rc_patrol": self.patrol, "use_np_patrol": self.patrol}

    def serve(self):
        """php -S with the production recipe of php/README.md; pid in DIR/server.pid so DIR/stop stops it."""
        ini = {"ffi.enable": "preload", "ffi.preload": self.header, "opcache.enable": "1",
               "opcache.enable_cli": "1", "opcache.preload": os.path.join(STAGE, "php", "preload.php")}
        if os.geteuid() == 0:
            ini["opcache.preload_user"] = "nobody"  # PHP refuses to preload as root otherwise
        self.ini = ini
        # Notices go to php-errors.log (php.d/), not into responses (where MediaWiki would report them again
        # as "suppressed N byte(s)" of output).
        cmd = ["php", "-d", "display_errors=0"] + [a for k, v in ini.items() for a in ("-d", f"{k}={v}")]
        cmd += ["-S", f"127.0.0.1:{open(os.path.join(self.dir, 'port')).read().strip()}",
                "-t", os.path.join(self.dir, "docroot")]
        env = dict(os.environ, MW_CONFIG_FILE=os.path.join(self.dir, "LocalSettings.php"))
        logf = open(os.path.join(self.dir, "server.log"), "ab")
        self.server = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                       start_new_session=True)
        with open(os.path.join(self.dir, "server.pid"), "w") as f:
            f.write(str(self.server.pid))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/api.php?action=query&meta=siteinfo&format=json", timeout=5).read()
                return
            except OSError:
                if self.server.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError("php -S with the preload recipe did not serve api.php; see " + self.dir + "/server.log")

    def rcemit_script(self, script, *args):
        """Runs one of php/maintenance/ against the wiki through the CLI."""
        self.via_cli = True
        res = subprocess.run(["php", os.path.join(STAGE, "php", "maintenance", script), *args], text=True,
                             env=dict(os.environ, MW_CONFIG_FILE=os.path.join(self.dir, "LocalSettings.php")),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"{script} failed: {res.stdout}")
        return res.stdout

    def web_status(self, timeout_ms=3000):
        """The web process's rcemit status, after flushing its queue (tests/e2e/stats.php)."""
        with urllib.request.urlopen(f"{self.url.rsplit('/w', 1)[0]}/rcemit-e2e.php?timeout={timeout_ms}",
                                    timeout=30) as resp:
            return json.loads(resp.read())

    # ----- the protocol of mwdrive.actions() -----
    def mw(self, script, *args, stdin=None):
        self.via_cli = True
        return mw(self.dir, script, *args, stdin=stdin)

    def rc_id_of(self, name):
        return next(c["rc_id"] for c in self.changes if c["name"] == name)

    def step(self, name, fn, may_be_empty=False):
        """Runs one action; collects its core datagrams (sent inside the request), then rcemit's (bounded wait).
        may_be_empty: the action produces a change on some MediaWiki versions only (mwdrive.actions)."""
        self.via_cli = False
        fn()
        via = "cli" if self.via_cli else "web"
        self.listener.settle(quiet=0.1)
        core = {feed: self.listener.take(feed) for feed in CORE}
        packets = [json.loads(d) for d in core["core-json"]]
        if not packets and may_be_empty:
            if any(core.values()):
                raise RuntimeError(f"action {name!r}: core's feeds disagree on the number of changes")
            self.listener.settle(quiet=0.3)
            stray = {n: self.listener.take(n) for n in RCEMIT}
            self.stray += [(name, n, d) for n, ds in stray.items() for d in ds]
            log(f"{via:3} {name}: no recent change on this MediaWiki")
            return
        if not packets:
            raise RuntimeError(f"action {name!r} produced no recent change")
        irc_ids = [p["id"] for p in packets if p["type"] != "categorize"]
        if len(core["core-irc"]) != len(irc_ids) or len(core["core-xml"]) != len(packets):
            raise RuntimeError(f"action {name!r}: core's feeds disagree on the number of changes")
        want = {n: len(irc_ids) if RCEMIT[n][0] == "irc" else len(packets) for n in RCEMIT}
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and any(self.listener.count(n) < want[n] for n in RCEMIT
                                                  if n not in self.silent):
            time.sleep(0.01)
        self.listener.settle(quiet=0.05)  # anything beyond the expected count shows up as extra
        got = {n: self.listener.take(n) for n in RCEMIT}
        for n in RCEMIT:
            self.misses[n] = self.misses[n] + 1 if want[n] and not got[n] else 0
            if self.misses[n] >= SILENT_AFTER and n not in self.silent:
                self.silent.add(n)
                log(f"feed {n} sent nothing after {SILENT_AFTER} actions in a row: no more waiting for it "
                    "(its datagrams are still collected and compared)")
        elements = api_rc_elements(self.anon, {p["id"] for p in packets if p["id"]})
        all_elements = api_rc_elements(self.reader, {p["id"] for p in packets if p["id"]}, self.all_props)
        for i, packet in enumerate(packets):
            rc_id = packet["id"]
            label = name if len(packets) == 1 else f"{name} [{i + 1}/{len(packets)}]"
            element = elements.get(rc_id)
            if rc_id and element is None:
                raise RuntimeError(f"api.php did not list rcid {rc_id} ({label})")
            oracle = {"xmlrc": xmlrc_from_api(element, self.ctx["wiki_id"]).encode() if element else None,
                      "xmlrc-all": xmlrc_from_api(all_elements[rc_id], self.ctx["wiki_id"]).encode()
                      if rc_id in all_elements else None}
            for n, (_fmt, oracle_feed, *_rest) in RCEMIT.items():
                if oracle_feed == "core-json":
                    oracle[n] = core["core-json"][i]
                elif oracle_feed == "core-xml":
                    oracle[n] = core["core-xml"][i]  # core notifies its feeds in order, change after change
                elif oracle_feed == "core-irc" and rc_id in irc_ids:
                    oracle[n] = core["core-irc"][irc_ids.index(rc_id)]
            self.changes.append({"name": label, "via": via, "rc_id": rc_id, "type": packet["type"],
                                 "oracle": oracle, "got": {}})
        mine = self.changes[-len(packets):]
        for n, (fmt, *_rest) in RCEMIT.items():
            if fmt == "irc":
                # IRC lines carry no rc id: the sender keeps queue order, so the k-th line is the k-th non-categorize
                # change of the action.
                lines = [c for c in mine if c["type"] != "categorize"]
                for c, data in zip(lines, got[n]):
                    c["got"][n] = data
                extra = got[n][len(lines):]
            else:
                keyed = by_key(got[n], KEYS[fmt])
                for c in mine:
                    if c["rc_id"] in keyed:
                        c["got"][n] = keyed.pop(c["rc_id"])
                extra = list(keyed.values())
            if extra:
                mine[-1].setdefault("extra", {})[n] = extra
        log(f"{via:3} {name}: rc {', '.join(str(c['rc_id']) for c in mine)} "
            f"({sum(len(v) for v in got.values())} rcemit datagrams)")


def json_key(data):
    return json.loads(data).get("id")


def xml_key(data):
    rc_id = ET.fromstring(data).get("id")
    return int(rc_id) if rc_id else None


def xmlrc_key(data):
    rc_id = ET.fromstring(data).get("rcid")
    return int(rc_id) if rc_id and rc_id != "0" else None


KEYS = {"json": json_key, "xml": xml_key, "xmlrc": xmlrc_key}


def by_key(datagrams, key):
    """rc id -> datagram; a second datagram for one id, or an unparsable one, is kept under a key of its own
    (so that it is reported as extra)."""
    out = {}
    for n, data in enumerate(datagrams):
        try:
            k = key(data)
        except (ValueError, ET.ParseError):
            k = ("unparsable", n)
        if k in out:
            k = ("duplicate", n)
        out[k] = data
    return out


def json_pairs(data):
    return json.loads(data, object_pairs_hook=lambda pairs: ("object", pairs))


def xml_tree(data):
    def walk(e):
        text = (e.text or "") if (e.text or "").strip() else ""
        return (e.tag, list(e.attrib.items()), text, [walk(c) for c in e])

    return walk(ET.fromstring(data))


def parsed(fmt, data):
    """The datagram parsed with order kept (framing removed for irc, which is compared as bytes)."""
    try:
        if fmt == "json":
            return json_pairs(data)
        if fmt in ("xml", "xmlrc"):
            return xml_tree(data)
    except (ValueError, ET.ParseError) as e:
        return ("unparsable", str(e))
    return data


XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def well_formed(fmt, data):
    return fmt not in ("json", "xml", "xmlrc") or parsed(fmt, data)[0] != "unparsable"


def compare(run):
    """Per feed: counts, and the differences (for the report)."""
    table, diffs = {}, []
    for n, (fmt, *_rest) in RCEMIT.items():
        row = {"changes": 0, "matched": 0, "mismatched": 0, "missing": 0, "extra": 0, "byte_equal": 0, "no_oracle": 0,
               "sanitised": 0}
        for c in run.changes:
            row["extra"] += len(c.get("extra", {}).get(n, []))
            if fmt == "irc" and c["type"] == "categorize":
                continue  # core's IRC formatter sends nothing for categorisation
            row["changes"] += 1
            got, want = c["got"].get(n), c["oracle"].get(n)
            if got is None:
                row["missing"] += 1
                diffs.append((n, c, "missing", want, None))
            elif want is None:
                row["no_oracle"] += 1  # e.g. the patrol log: no recentchanges row, so nothing in api.php
            else:
                if fmt == "xml" and not well_formed(fmt, want):
                    # Core printed characters XML 1.0 forbids (a CLI summary can hold C0 controls), so its packet
                    # is not XML at all; rcemit sends core's text with each such character replaced by U+FFFD,
                    # as api.php does for the same comment.
                    want = XML_FORBIDDEN.sub("\ufffd", want.decode()).encode()
                    row["sanitised"] += 1
                byte_equal = got == want
                row["byte_equal"] += byte_equal
                # xmlrc and irc must be byte-equal; json and xml parsed equal with order kept; never ill-formed.
                equal = well_formed(fmt, got) and (
                    byte_equal or (fmt in ("json", "xml") and parsed(fmt, got) == parsed(fmt, want)))
                row["matched" if equal else "mismatched"] += 1
                if not equal:
                    diffs.append((n, c, "mismatch", want, got))
        table[n] = row
    return table, diffs


def field_diff(fmt, want, got):
    """What differs between two datagrams, as short labels: for json the top-level keys missing in rcemit's
    packet, extra in it, or with another value (and key order); for xml the child elements and attributes
    likewise; for the others (byte comparisons) the first differing position."""
    labels = []
    try:
        if fmt == "json":
            w, g = json.loads(want), json.loads(got)
            labels += [f"missing {k}" for k in w if k not in g] + [f"extra {k}" for k in g if k not in w]
            labels += [f"value of {k}" for k in w if k in g and w[k] != g[k]]
            if not labels and list(w) != list(g):
                labels.append("key order")
            return labels
        if fmt in ("xml", "xmlrc"):
            w, g = ET.fromstring(want), ET.fromstring(got)
            wa, ga = dict(w.attrib), dict(g.attrib)
            labels += [f"missing @{k}" for k in wa if k not in ga] + [f"extra @{k}" for k in ga if k not in wa]
            labels += [f"value of @{k}" for k in wa if k in ga and wa[k] != ga[k]]
            wc, gc = {c.tag: c for c in w}, {c.tag: c for c in g}
            labels += [f"missing <{k}>" for k in wc if k not in gc] + [f"extra <{k}>" for k in gc if k not in wc]
            labels += [f"content of <{k}>" for k in wc if k in gc and ET.tostring(wc[k]) != ET.tostring(gc[k])]
            if not labels and (w.text or "") != (g.text or ""):
                labels.append("text")
            return labels or ["order or formatting"]
    except (ValueError, ET.ParseError):
        return ["unparsable"]
    n = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    return [f"bytes from offset {n}"]


def diff_summary(diffs):
    """Per feed: how many changes differ and in what (field_diff), most frequent first."""
    per_feed = {}
    for n, c, what, want, got in diffs:
        counts = per_feed.setdefault(n, {})
        labels = ["missing datagram"] if what == "missing" else field_diff(RCEMIT[n][0], want, got)
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    out = []
    for n, counts in per_feed.items():
        total = sum(1 for d in diffs if d[0] == n)
        out.append(f"Differences {n}: {total} change(s): " + ", ".join(
            f"{label} ({count})" for label, count in sorted(counts.items(), key=lambda kv: -kv[1])))
    return out


def extra_actions(run):
    """Actions checked only here (not in the goldens): summaries at and over CommentStore's 500-character limit,
    hostile summaries and titles, a CLI edit."""
    a = run.admin

    def edit(title, **kw):
        return a.call(action="edit", title=title, token=a.token(), **kw)

    run.step("summary of exactly 500 characters", lambda: edit(
        "Limit Page", text="limit", summary=("Ä€日" * 167)[:499] + "!"))
    run.step("summary over the limit (CommentStore truncates)", lambda: edit(
        "Limit Page", appendtext=" more", summary="ж" * 700))
    run.step("hostile summary", lambda: edit(
        "Limit Page", appendtext=" hostile",
        summary="\ttab\tand\nnewline\r\nCRLF &amp; & \"dq\" 'sq' <script>alert(1)</script> ]]> [[Limit Page]] "
                "\x0302colour\x03 %s %d {{tpl}} \\ back\u00a0nbsp \u200b zw \U0001F600"))
    run.step("hostile title", lambda: edit(
        "Hostile/Sub: 50% \"off\" & 'on'; a=b, (c)! ~x^y\\z @ $5 + ?q", text="hostile title", summary="t"))
    run.step("move of the hostile title", lambda: a.call(
        action="move", **{"from": "Hostile/Sub: 50% \"off\" & 'on'; a=b, (c)! ~x^y\\z @ $5 + ?q"},
        to="Talk:Hostile & moved", reason="<&\"'\t>", token=a.token()))
    run.step("edit through the CLI (edit.php)", lambda: run.mw(
        "edit.php", "--user", "Admin", "--summary", "CLI\tedit & <summary>\n2nd line", "CLI Page",
        stdin="Written by edit.php.\n"))
    # Over HTTP MediaWiki replaces C0 controls by U+FFFD; the CLI passes them into the summary as they are.
    run.step("CLI edit with control characters in the summary", lambda: run.mw(
        "edit.php", "--user", "Admin", "--summary", "\x0304red\x03 \x02bold\x02 \x01ctcp\x01 esc\x1b del\x7f",
        "CLI Page", stdin="Control characters.\n"))
    run.step("bot edit through the CLI", lambda: run.mw(
        "edit.php", "--user", "Admin", "--bot", "--minor", "--summary", "CLI bot", "CLI Page",
        stdin="Written again by edit.php.\n"))


def print_table(table):
    cols = ["changes", "matched", "mismatched", "missing", "extra", "byte_equal", "no_oracle", "sanitised"]
    print(f"{'format':15}" + "".join(f"{c:>11}" for c in cols))
    for n, row in table.items():
        print(f"{n:15}" + "".join(f"{row[c]:>11}" for c in cols))
    print("byte_equal: of the compared, identical bytes; no_oracle: no recentchanges row, so api.php has no <rc> to "
          "compare with (rcemit's datagram arrived); sanitised: core's XML packet was not well-formed (C0 controls), "
          "compared with U+FFFD in their place")


def check_stats(run, status):
    """The web process's counters add up: every event enqueued for every rcemit feed ends as sent, skipped
    (IRC has no line for categorisation) or a send error; nothing dropped, invalid or unresolved."""
    s = status["stats"]
    web = [c for c in run.changes if c["via"] == "web"]
    feeds = len(RCEMIT) + 1  # + the dead destination
    irc_feeds = sum(1 for spec in RCEMIT.values() if spec[0] == "irc")
    categorize = sum(1 for c in web if c["type"] == "categorize")
    problems = []
    expect = {"enqueued": len(web) * feeds, "skipped": categorize * irc_feeds, "dropped_queue_full": 0,
              "dropped_oversize": 0, "invalid_payload": 0, "format_panics": 0, "dns_failures": 0, "unresolved": 0,
              "queue_depth": 0, "feeds": feeds}
    for k, v in expect.items():
        if s[k] != v:
            problems.append(f"{k} = {s[k]}, expected {v}")
    if s["sent"] + s["send_errors"] + s["skipped"] != s["enqueued"]:
        problems.append("sent + send_errors + skipped != enqueued")
    if s["send_errors"] > len(web):
        problems.append(f"send_errors = {s['send_errors']}, but only the dead destination's {len(web)} may fail")
    return problems


# Where PHP and MediaWiki report notices in a run's wiki directory (e2e's extra.php and php.d/).
def resend_through_status_script(run, failures):
    """rcemitStatus.php resends the newest log change through the CLI (DatabaseLogEntry, the log formatter, a
    replica connection: the maintenance path, under the same notice check); the datagram must equal api.php's
    <rc> for that change, like the one the wiki sent."""
    change = next(c for c in reversed(run.changes) if c["type"] == "log" and c["rc_id"])
    run.listener.settle(quiet=0.1)
    run.stray += [("before the resend", "xmlrc", d) for d in run.listener.take("xmlrc")]
    run.rcemit_script("rcemitStatus.php", "--feed=rcemit-xmlrc", f"--rcid={change['rc_id']}")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and run.listener.count("xmlrc") < 1:
        time.sleep(0.01)
    run.listener.settle(quiet=0.05)
    got = run.listener.take("xmlrc")
    if got != [change["oracle"]["xmlrc"]]:
        failures.append(f"rcemitStatus.php --rcid={change['rc_id']} resent {got!r}, expected "
                        f"{change['oracle']['xmlrc']!r}")
    else:
        log(f"cli rcemitStatus.php resent rc {change['rc_id']} ({change['name']}): equal to api.php")


NOTICE_LOGS = ["php-errors.log", "error.log", "deprecated.log"]
# A log entry starts with a time stamp: PHP's "[01-Dec-2026 05:00:00 UTC] ...", MediaWiki's "2026-12-01 05:00:00 ...".
ENTRY_START = re.compile(r"^(\[\d\d-\w{3}-\d{4} [\d:]+ [^]]*\] |\d{4}-\d\d-\d\d[ T][\d:]+ )")
# What differs between two reports of one notice: MediaWiki's "HOST WIKI: [REQUEST-ID] URL   " prefix, PHP's
# " in FILE on line N" suffix and double space after the level.
ENTRY_NOISE = re.compile(r"^\S+ \S+: \[[^]]+\] (\[no req\]|\S*)\s+")


def rcemit_mention():
    """What marks a log line as RcEmit's: its class namespace or name, or a path of its PHP code (the staged copy
    the wiki loads, or the checkout's)."""
    paths = [re.escape(p.rstrip("/") + "/php/") for p in (STAGE, REPO) if p]
    return re.compile("|".join([r"RcEmit"] + paths))


def notices(wiki_dir):
    """Entries of the notice logs, deduplicated by message (time stamps and request ids removed), split into
    RcEmit's and the rest. An entry is RcEmit's if any of its lines (message, 'Called from', stack trace) mentions RcEmit."""
    mention = rcemit_mention()
    found = {}
    for name in NOTICE_LOGS:
        path = os.path.join(wiki_dir, name)
        if not os.path.exists(path):
            continue
        entries = []
        for line in open(path, errors="replace"):
            line = line.rstrip("\n")
            if ENTRY_START.match(line) or not entries:
                entries.append([ENTRY_START.sub("", line)])
            else:
                entries[-1].append(line)
        for lines in entries:
            key = re.sub(r"\s+", " ", ENTRY_NOISE.sub("", lines[0]))
            key = re.sub(r" in \S+ at line \d+\]", "]", re.sub(r" in \S+ on line \d+$", "", key))
            if key not in found:
                found[key] = {"per_log": {}, "text": lines[0], "mentions": [], "ours": False}
            found[key]["mentions"] += [x.strip() for x in lines[1:] if mention.search(x)]
            found[key]["ours"] |= any(mention.search(x) for x in lines)
            found[key]["per_log"][name] = found[key]["per_log"].get(name, 0) + 1
    for e in found.values():
        # One notice is usually in several logs (PHP's and MediaWiki's): counted once, in the log with most.
        e["logs"], e["count"] = list(e["per_log"]), max(e["per_log"].values())
    ours = [e for e in found.values() if e["ours"]]
    core = [e for e in found.values() if not e["ours"]]
    return ours, core


# The runs: content language (the IRC feed names Special:Log in it) and patrolling (flags, rcid in IRC URLs).
RUNS = [("en", True), ("de", False)]


def one_run(lang, patrol, args):
    """Creates a wiki, performs every action, prints the run's report; returns its failures."""
    started = time.monotonic()
    wiki_dir = tempfile.mkdtemp(prefix=f"rcemit-e2e-{lang}.")
    run = E2E(wiki_dir, lang, patrol)
    failures = []
    print(f"== run {lang}: content language {lang}, patrolling {'on' if patrol else 'off'}", flush=True)
    try:
        run.setup()
        print(f"MediaWiki {run.versions[0]}, PHP {run.versions[1]}; extension and library staged in {STAGE}",
              flush=True)
        status = run.web_status()
        if status.get("mode") != "scope":
            tail = open(os.path.join(wiki_dir, "server.log"), errors="replace").read()[-2000:]
            raise RuntimeError(f"the web SAPI did not load rcemit through the preloaded FFI scope: {status}\n"
                               f"(as root, user nobody must be able to read {STAGE}/php); php -S log:\n{tail}")
        log(f"web SAPI {status['sapi']}: library {status['library']} {status['version']} loaded in mode "
            f"{status['mode']} (ffi.enable={status['ffi.enable']}, ffi.preload, opcache.preload)")
        run.cli_status = run.rcemit_script("rcemitStatus.php").splitlines()[0]
        log("CLI: " + run.cli_status)
        setup_s = time.monotonic() - started
        actions(run)
        extra_actions(run)
        resend_through_status_script(run, failures)
        actions_s = time.monotonic() - started - setup_s
        status = run.web_status()
        if not status.get("flushed"):
            failures.append("rcemit_flush in the web process timed out")
        path = os.path.join(wiki_dir, "rcemit.log")
        # The dead destination must be reported (issue 15), once: that line is expected, no other.
        lines = [line for line in open(path, errors="replace")
                 if "cannot deliver to every destination" not in line] if os.path.exists(path) else []
        if lines:
            failures.append("rcemit.log has rcemit warnings or errors:\n" + "".join(lines[:10]))
        ours, core = notices(wiki_dir)
        for e in ours:
            failures.append(f"{e['count']}x a notice from RcEmit ({', '.join(e['logs'])}): {e['text'][:600]}")
        if run.stray:
            failures.append(f"{len(run.stray)} rcemit datagram(s) after actions that produced no change: "
                            f"{run.stray[:3]!r}")
    finally:
        if run.server and run.server.poll() is None:
            run.server.terminate()
            run.server.wait(10)
        if args.keep:
            log(f"wiki kept in {wiki_dir}")
        else:
            shutil.rmtree(wiki_dir, ignore_errors=True)

    table, diffs = compare(run)
    if args.dump:
        with open(args.dump, "a") as f:
            for c in run.changes:
                f.write(json.dumps(dict(c, run=lang), default=lambda b: b.decode("utf-8", "backslashreplace"),
                                   ensure_ascii=False) + "\n")
    for via, how in (("web", "web SAPI: php -S " + " ".join(f"-d {k}={v}" for k, v in run.ini.items())
                      + f", library in FFI mode '{status.get('mode')}'"),
                     ("cli", f"CLI: maintenance scripts, {run.cli_status}")):
        names = list(dict.fromkeys(c["name"].split(" [")[0] for c in run.changes if c["via"] == via))
        print(f"{how}\n  {len(names)} actions, {sum(c['via'] == via for c in run.changes)} changes: "
              + "; ".join(names))
    print()
    print_table(table)
    print(f"\nWeb process counters after rcemit_flush (includes the dead destination udp://127.0.0.1:"
          f"{run.dead_port}, nobody listening):")
    print("  " + ", ".join(f"{k}={v}" for k, v in status.get("stats", {}).items()))
    failures += check_stats(run, status)
    print()
    for line in diff_summary(diffs):
        print(line)
    shown = {}
    for n, c, what, want, got in diffs:
        shown[n] = shown.get(n, 0) + 1
        if shown[n] <= 3:
            failures.append(f"{n}: {what} for {c['name']!r} (rc {c['rc_id']}, {c['via']})\n"
                            f"    expected {want!r}\n    got      {got!r}")
    for n, count in shown.items():
        if count > 3:
            failures.append(f"{n}: ... and {count - 3} more differences (summary above the notices)")
    for c in run.changes:
        for n, extra in c.get("extra", {}).items():
            failures.append(f"{n}: {len(extra)} extra datagram(s) after {c['name']!r}: {extra[:2]!r}")
    print(f"\nNotices, warnings and deprecations (error_reporting E_ALL, $wgDevelopmentWarnings; "
          f"{', '.join(NOTICE_LOGS)}): {sum(e['count'] for e in ours)} from RcEmit, "
          f"{sum(e['count'] for e in core)} from MediaWiki core or elsewhere")
    for title, entries in (("from RcEmit (FAIL)", ours), ("from core (information only)", core)):
        if entries:
            print(f"  {title}:")
        for e in entries[:25]:
            print(f"    {e['count']:4}x [{', '.join(e['logs'])}] {e['text'][:500]}")
            for line in list(dict.fromkeys(e["mentions"]))[:3]:
                print(f"           RcEmit in its stack trace: {line[:300]}")
        if len(entries) > 25:
            print(f"    ... and {len(entries) - 25} more")
    print(f"\nTime: setup {setup_s:.1f} s, {len(run.changes)} changes in {actions_s:.1f} s, "
          f"run {time.monotonic() - started:.1f} s\n", flush=True)
    return [f"[{lang}] {f}" for f in failures]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keep", action="store_true", help="keep the wiki directories")
    p.add_argument("--dump", metavar="FILE", help="write every change's datagrams and oracles as JSON lines")
    p.add_argument("--run", choices=[lang for lang, _ in RUNS], action="append", help="only this run")
    args = p.parse_args()
    global STAGE
    started = time.monotonic()
    if not os.path.exists(LIBRARY):
        sys.exit(f"e2e: {LIBRARY} is missing; run `cargo build --release` first")
    if args.dump:
        open(args.dump, "w").close()
    failures = []
    if not IPV6:
        print("NOTE: no IPv6 loopback (::1) on this machine: the udp://[::1] destination is not tested")
    # php -S preloads as `nobody`: it reads the extension from a world-readable copy, not from the checkout.
    STAGE = tempfile.mkdtemp(prefix="rcemit-e2e-stage.")
    os.chmod(STAGE, 0o755)
    subprocess.run(["bash", os.path.join(REPO, "scripts", "stage.sh"), STAGE, LIBRARY], check=True)
    try:
        for lang, patrol in RUNS:
            if not args.run or lang in args.run:
                failures += one_run(lang, patrol, args)
    finally:
        if args.keep:
            log(f"staged extension kept in {STAGE}")
        else:
            shutil.rmtree(STAGE, ignore_errors=True)
    print(f"e2e total {time.monotonic() - started:.1f} s")
    if failures:
        print("\nFAIL\n" + "\n".join(failures) + "\n(--keep --dump FILE keep the wikis and write every datagram)")
        sys.exit(1)
    print("PASS: every change matched MediaWiki's own output")


if __name__ == "__main__":
    main()
