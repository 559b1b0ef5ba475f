#!/usr/bin/env python3
"""Creates a throwaway wiki, performs scripted actions on it and records what MediaWiki 1.39 itself produced.

Called by scripts/regen-goldens.sh once per run (patrolling on / off). For every recent change it records
rcemit's payload (scripts/goldens/RecorderFeed.php, which calls php/src/PayloadBuilder.php), each core feed's
UDP datagram exactly as received (JSONRCFeedFormatter, XMLRCFeedFormatter, IRCColourfulRCFeedFormatter, each
plain and with feed options), and api.php's <rc> element fetched right after the action (XMLRC's rcprop set),
from which the xmlrc datagram is derived by appending wikiid as the last attribute. Writes one JSON run object.

Usage: drive.py RUN_NAME WIKI_DIR OUT_JSON [--no-rc-patrol] [--no-np-patrol] [--lang CODE] [--script-path /w]
"""

import argparse
import base64
import http.cookiejar
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zlib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
XMLRC_PROPS = "user|comment|flags|timestamp|title|ids|sizes|redirect|loginfo|tags"
ADMIN_PASS = "rcemit-Admin-pass-1"
USER_PASS = "rcemit-User-pass-1"
LOCAL_INTERWIKI = "goldwiki"
IRC_PREFIX = "#wiki\t"

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


class Listener:
    """Receives datagrams on one socket per feed; attributes them to the rc_id of the last marker seen."""

    def __init__(self, names):
        self.socks = {}
        for name in names:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind(("127.0.0.1", 0))
            self.socks[name] = s
        self.ports = {name: s.getsockname()[1] for name, s in self.socks.items()}
        self.current = {name: None for name in names}
        self.got = {}  # rc_id -> {feed name -> [bytes]}
        self.unattributed = []
        self.last_rx = time.monotonic()
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        by_fd = {s.fileno(): name for name, s in self.socks.items()}
        while not self.stop:
            ready, _, _ = select.select(list(self.socks.values()), [], [], 0.05)
            for s in ready:
                name = by_fd[s.fileno()]
                data = s.recv(70000)
                with self.lock:
                    self.last_rx = time.monotonic()
                    if data.startswith(b"RCEMIT-MARK "):
                        self.current[name] = int(data[12:])
                    elif self.current[name] is None:
                        self.unattributed.append((name, data))
                    else:
                        self.got.setdefault(self.current[name], {}).setdefault(name, []).append(data)

    def settle(self, quiet=0.15, limit=5.0):
        """Waits until no datagram arrived for `quiet` seconds (all of an action's datagrams are sent before
        the action returns; this only lets the reader thread drain the socket buffers)."""
        start = time.monotonic()
        while time.monotonic() - start < limit:
            with self.lock:
                idle = time.monotonic() - self.last_rx
            if idle >= quiet:
                return
            time.sleep(0.02)


class Api:
    def __init__(self, url):
        self.url = url + "/api.php"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def raw(self, params, post=True, files=None):
        if files:
            boundary = "----rcemitgoldens"
            body = b""
            for k, v in params.items():
                body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n').encode()
                body += str(v).encode() + b"\r\n"
            for k, (fname, content) in files.items():
                body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{fname}"\r\n'
                         "Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
            body += f"--{boundary}--\r\n".encode()
            req = urllib.request.Request(self.url, data=body,
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        elif post:
            req = urllib.request.Request(self.url, data=urllib.parse.urlencode(params).encode())
        else:
            req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(params))
        with self.opener.open(req, timeout=120) as resp:
            return resp.read()

    def call(self, **params):
        files = params.pop("_files", None)
        params.setdefault("format", "json")
        params.setdefault("formatversion", "2")
        data = json.loads(self.raw(params, files=files))
        if "error" in data:
            raise RuntimeError(f"API error for {params.get('action')}: {data['error']}")
        return data

    def token(self, kind="csrf"):
        return self.call(action="query", meta="tokens", type=kind)["query"]["tokens"][kind + "token"]

    def login(self, user, password):
        tok = self.token("login")
        res = self.call(action="login", lgname=user, lgpassword=password, lgtoken=tok)
        if res["login"]["result"] != "Success":
            raise RuntimeError(f"login failed for {user}: {res}")


class Run:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.wiki_dir)
        self.listener = Listener([f[0] for f in FEEDS])
        self.payload_file = os.path.join(self.dir, "payloads.jsonl")
        self.payload_pos = 0
        self.payloads = {}
        self.cases = []
        self.queried = []

    # ----- wiki setup -----
    def make_wiki(self):
        env = dict(os.environ, MKWIKI_LANG=self.args.lang, MKWIKI_SCRIPT_PATH=self.args.script_path,
                   MKWIKI_PASS=ADMIN_PASS)
        url = subprocess.run(["bash", os.path.join(REPO, "scripts", "mkwiki.sh"), self.dir], env=env, check=True,
                             stdout=subprocess.PIPE, text=True).stdout.strip()
        self.url = url
        feeds = []
        for name, _fmt, formatter, _opts, extra in FEEDS:
            port = self.listener.ports[name]
            uri = f"udp://127.0.0.1:{port}"
            if name == "irc-prefixed":
                uri += "/" + IRC_PREFIX.replace("\t", "\\t")
            feeds.append(f"$wgRCFeeds['{name}'] = [ 'formatter' => {formatter}::class, 'uri' => \"{uri}\", {extra} ];")
        rc_patrol = "false" if self.args.no_rc_patrol else "true"
        np_patrol = "false" if self.args.no_np_patrol else "true"
        src = f"""
$wgAutoloadClasses['MediaWiki\\\\Extension\\\\RcEmit\\\\PayloadBuilder'] = '{REPO}/php/src/PayloadBuilder.php';
$wgAutoloadClasses['MediaWiki\\\\Extension\\\\RcEmit\\\\TagCapture'] = '{REPO}/php/src/TagCapture.php';
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
$wgRCFeeds = [];
$wgRCFeeds['recorder'] = [
	'class' => RcEmitGoldenRecorderFeed::class,
	'out' => '{self.payload_file}',
	'mark_ports' => [ {', '.join(str(p) for p in self.listener.ports.values())} ],
];
""" + "\n".join(feeds) + "\n"
        with open(os.path.join(self.dir, "extra.php"), "a") as f:
            f.write(src)
        subprocess.run([os.path.join(self.dir, "serve")], check=True)
        self.admin = Api(self.url)
        self.anon = Api(self.url)

    def mw(self, script, *args, stdin=None):
        res = subprocess.run([os.path.join(self.dir, "mw"), script, *args], input=stdin, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise RuntimeError(f"{script} failed: {res.stdout}")
        return res.stdout

    def check_error_log(self):
        """PHP warnings and exceptions from rcemit's PHP code (MediaWiki's 'error'/'exception' channels) fail the
        run: the payload must be built silently on every path."""
        path = os.path.join(self.dir, "error.log")
        text = open(path, errors="replace").read() if os.path.exists(path) else ""
        ours = [line for line in text.splitlines() if re.search(r"PayloadBuilder|TagCapture|RecorderFeed", line)]
        if ours:
            raise RuntimeError("rcemit PHP code logged errors:\n" + "\n".join(ours[:10]))

    def context(self):
        php = r"""
$c = MediaWiki\MediaWikiServices::getInstance()->getMainConfig();
echo json_encode( [
  'canonical_server' => $c->get( 'CanonicalServer' ),
  'server_name' => $c->get( 'ServerName' ),
  'script_path' => $c->get( 'ScriptPath' ),
  'script' => $c->get( 'Script' ),
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

    def api_rc_elements(self, rcids):
        params = {"action": "query", "list": "recentchanges", "format": "xml", "rcprop": XMLRC_PROPS,
                  "rclimit": "100", "rcdir": "older"}
        text = self.anon.raw(params, post=False).decode("utf-8")
        found = {}
        for m in re.finditer(r"<rc [^>]*?(?:/>|>.*?</rc>)", text, re.S):
            rcid = re.search(r' rcid="(\d+)"', m.group(0))
            if rcid and int(rcid.group(1)) in rcids:
                found[int(rcid.group(1))] = m.group(0)
        return found

    def step(self, name, fn):
        """Runs one action, then records every recent change it produced."""
        fn()
        self.listener.settle()
        recs = self.new_payloads()
        if sum(1 for r in recs if r["rc_id"] == 0) > 1:
            raise RuntimeError(f"action {name!r} sent several changes without a recentchanges row")
        if not recs:
            raise RuntimeError(f"action {name!r} produced no recent change")
        elements = self.api_rc_elements({r["rc_id"] for r in recs})
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
            with self.listener.lock:
                got = self.listener.got.pop(rc_id, {})
            for feed in FEEDS:
                datagrams = got.get(feed[0], [])
                if len(datagrams) > 1:
                    raise RuntimeError(f"{len(datagrams)} datagrams for rc {rc_id} on feed {feed[0]}")
                expected[feed[0]] = text_or_b64(datagrams[0]) if datagrams else None
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


def xmlrc_from_api(element, wiki_id):
    """XMLRC printed the API's row with wikiid added last: insert it at the end of the start tag."""
    end = element.index(">")
    if element[end - 1] == "/":
        end -= 2 if element[end - 2] == " " else 1
    attr = ' wikiid="' + wiki_id.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;") + '"'
    return element[:end] + attr + element[end:]


def png(width=4, height=3):
    """A small valid RGB PNG, made here so the upload needs no image file in the repository."""
    rows = b"".join(b"\x00" + b"".join(bytes([(x * 60) % 256, (y * 80) % 256, 120]) for x in range(width))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def actions(run):
    """The scripted actions, in order. Each step() records every recent change the action produced."""
    a, anon = run.admin, run.anon
    ed, bot = Api(run.url), Api(run.url)
    step = run.step

    # createAndPromote.php logs nothing to recent changes; account creation is covered over HTTP below.
    run.mw("createAndPromote.php", "Editor", USER_PASS)
    run.mw("createAndPromote.php", "--bot", "GoldBot", USER_PASS)
    a.login("Admin", ADMIN_PASS)
    ed.login("Editor", USER_PASS)
    bot.login("GoldBot", USER_PASS)

    def edit(api, title, token=None, **kw):
        return api.call(action="edit", title=title, token=token or api.token(), **kw)

    step("history merge source creation", lambda: edit(a, "Merge Source", text="old history", summary="src"))
    time.sleep(1.1)  # mergehistory needs the source's revisions to be strictly older than the destination's
    step("page creation", lambda: edit(a, "Golden Page", text="Hello [[world]].\n\nSecond paragraph.",
                                       summary='Created with "quotes", \'apostrophes\', & ampersands, <b>angle</b>'))
    step("edit by a new user (unpatrolled)",
         lambda: edit(ed, "Golden Page", appendtext="\n\nMore text by Editor.",
                      summary="tab\there, newline\nthere, refs &amp; &#039; &lt;b&gt; &#x263A; &nbsp;end"))
    step("minor bot edit", lambda: edit(bot, "Golden Page", appendtext=" Bot fix.", minor="1", bot="1",
                                        summary="bot: typo fix"))
    step("anonymous edit over HTTP", lambda: edit(anon, "Golden Page", token="+\\", appendtext="\n\nAnon was here.",
                                                  summary="anonymous [[Golden Page|link]] edit"))
    step("anonymous page creation", lambda: edit(anon, "Anon Page", token="+\\", text="Made by an IP.",
                                                 summary="new by IP"))
    step("minor edit by a plain user", lambda: edit(ed, "Anon Page", appendtext=" Fixed.", minor="1",
                                                    summary="minor"))
    step("summary with surrounding spaces", lambda: edit(a, "Golden Page", appendtext=" Spaces.",
                                                         summary="   padded summary   "))
    step("large page creation", lambda: edit(a, "Big Page", text="Lorem ipsum dolor sit amet. " * 60,
                                             summary="big"))
    step("large removal (szdiff below -500)", lambda: edit(ed, "Big Page", text="Short now.",
                                                           summary="cut it down"))
    step("blanking", lambda: edit(ed, "Big Page", text="", summary=""))
    step("new redirect", lambda: edit(a, "Golden Redirect", text="#REDIRECT [[Golden Page]]",
                                      summary="redirect to [[Golden Page]]"))
    step("rollback target creation", lambda: edit(a, "Rollback Target", text="Good content.", summary="good"))
    step("vandalism by another user", lambda: edit(ed, "Rollback Target", text="Bad content!", summary="bad"))
    step("rollback", lambda: a.call(action="rollback", title="Rollback Target", user="Editor",
                                    token=a.token("rollback"), summary=""))
    step("multi-tag page creation", lambda: edit(a, "Multi Tag", text="Original content here.", summary="orig"))
    step("multi-tag blanking by admin", lambda: edit(a, "Multi Tag", text="", summary="blank"))
    step("multi-tag refill by another user", lambda: edit(ed, "Multi Tag", text="Refilled.", summary="refill"))
    step("rollback to a blank version (two tags)",
         lambda: a.call(action="rollback", title="Multi Tag", user="Editor", token=a.token("rollback")))
    step("user-defined tag creation", lambda: a.call(action="managetags", operation="create", tag="golden-tag",
                                                     reason="for goldens", token=a.token()))
    step("edit with a user-defined tag and mw-replace",
         lambda: edit(a, "Rollback Target", text="Completely different words now, nothing in common at all.",
                      tags="golden-tag", summary="replace"))
    step("unicode title", lambda: edit(a, "Ünïcödé 日本語 ☃", text="Ünïcödé text ✓",
                                       summary="emoji 🎉 and ünïcode — “curly”"))
    step("title with ampersand and quotes", lambda: edit(a, "Tom & Jerry's \"Show\"", text="Cartoon.",
                                                         summary="a & b"))
    step("talk page edit", lambda: edit(ed, "Talk:Golden Page", text="Discuss. ~~~~", summary="new section"))
    step("user page creation", lambda: edit(ed, "User:Editor", text="I edit.", summary="about me"))
    step("move", lambda: a.call(action="move", **{"from": "Golden Page"}, to="Golden Moved",
                                reason="moved [[Golden Page]] & co <b>", token=a.token()))
    step("move without redirect", lambda: a.call(action="move", **{"from": "Tom & Jerry's \"Show\""},
                                                 to="Tom and Jerry", noredirect="1", reason="rename",
                                                 token=a.token()))
    step("delete a redirect", lambda: a.call(action="delete", title="Golden Redirect",
                                             reason="cleanup: line1\nline2 & <x>", token=a.token()))
    step("undelete", lambda: a.call(action="undelete", title="Golden Redirect", reason="restore it",
                                    token=a.token()))
    step("protect", lambda: a.call(action="protect", title="Golden Moved", protections="edit=sysop|move=sysop",
                                   expiry="infinite|1 week", reason="vandalism", token=a.token()))
    step("unprotect", lambda: a.call(action="protect", title="Golden Moved", protections="edit=all|move=all",
                                     reason="calm again", token=a.token()))
    step("block an IP", lambda: a.call(action="block", user="192.0.2.5", expiry="1 day",
                                       reason="spam & <junk>", nocreate="1", token=a.token()))
    step("unblock", lambda: a.call(action="unblock", user="192.0.2.5", reason="ok", token=a.token()))
    step("user page redirect", lambda: edit(a, "User:GoldBot", text="#REDIRECT [[User:Editor]]",
                                            summary="user page redirect"))
    step("block a user indefinitely", lambda: a.call(action="block", user="GoldBot", expiry="infinite",
                                                     reason="rogue bot", token=a.token()))
    step("upload", lambda: a.call(action="upload", filename="Golden Test.png", comment="a tiny PNG & more",
                                  text="== Summary ==\nTiny.", token=a.token(),
                                  _files={"file": ("golden.png", png())}))
    step("account creation over HTTP", lambda: anon.call(action="createaccount", username="Newcomer",
                                                         password=USER_PASS, retype=USER_PASS,
                                                         createreturnurl=run.url, createtoken=anon.token("createaccount")))
    step("upload of a new file version", lambda: a.call(action="upload", filename="Golden Test.png",
                                                        comment="second version", ignorewarnings="1",
                                                        token=a.token(), _files={"file": ("g2.png", png(5, 2))}))
    step("user rights change", lambda: a.call(action="userrights", user="Editor", add="sysop|bureaucrat",
                                              expiry="infinite|1 month", reason="trusted <user>",
                                              token=a.token("userrights")))
    step("cascading protection", lambda: a.call(action="protect", title="Rollback Target", protections="edit=sysop",
                                                expiry="infinite", cascade="1", reason="cascade", token=a.token()))
    step("content model change", lambda: a.call(action="changecontentmodel", title="Anon Page", model="text",
                                                summary="to plain text", token=a.token()))
    step("revision deletion", lambda: a.call(action="revisiondelete", type="revision", target="Big Page",
                                             ids=rev_of(run, "Big Page"), hide="comment",
                                             reason="hide summary", token=a.token()))
    step("history merge", lambda: a.call(action="mergehistory", **{"from": "Merge Source"}, to="Golden Moved",
                                         reason="merge it", token=a.token()))
    step("tag deletion", lambda: a.call(action="managetags", operation="delete", tag="golden-tag",
                                        reason="done", token=a.token()))
    step("account creation by an admin for someone else",
         lambda: a.call(action="createaccount", username="Second Newcomer", password=USER_PASS, retype=USER_PASS,
                        reason="requested by mail", createreturnurl=run.url, createtoken=a.token("createaccount")))
    step("partial block", lambda: a.call(action="block", user="198.51.100.7", expiry="2 weeks", partial="1",
                                         pagerestrictions="Golden Moved|Big Page", namespacerestrictions="1", allowusertalk="1",
                                         reason="partial", token=a.token()))
    step("reblock", lambda: a.call(action="block", user="198.51.100.7", expiry="infinite", reblock="1",
                                   reason="now sitewide", token=a.token()))
    step("protection of a missing title", lambda: a.call(action="protect", title="Not Yet Created",
                                                         protections="create=sysop", expiry="infinite",
                                                         reason="salt", token=a.token()))
    step("import of an XML dump", lambda: a.call(action="import", interwikiprefix="imp", summary="imported",
                                                 token=a.token(), _files={"xml": ("dump.xml", IMPORT_XML)}))
    if run.ctx["use_rc_patrol"] or run.ctx["use_np_patrol"]:
        def patrol():
            # With only new-page patrol on, only page creations can be patrolled.
            case = "edit by a new user (unpatrolled)" if run.ctx["use_rc_patrol"] else "user page creation"
            rcid = next(c["rc_id"] for c in run.cases if c["name"] == case)
            a.call(action="patrol", rcid=rcid, token=a.token("patrol"))
        step("patrol", patrol)
    step("category page creation", lambda: edit(a, "Category:Golden", text="A category.", summary="cat"))
    step("categorising edit", lambda: edit(a, "Golden Moved", appendtext="\n[[Category:Golden]]",
                                           summary="categorise"))
    step("categorisation (job queue)", lambda: run.mw("runJobs.php"))
    step("decategorising edit", lambda: edit(a, "Golden Moved", text="No category now.", summary="uncat"))
    step("decategorisation (job queue)", lambda: run.mw("runJobs.php"))
    step("move over a redirect", lambda: a.call(action="move", **{"from": "Golden Moved"}, to="Golden Page",
                                                reason="back", movetalk="1", token=a.token()))
    step("long multibyte summary", lambda: edit(a, "Ünïcödé 日本語 ☃", appendtext=" more",
                                                summary="Ü" * 300))


IMPORT_XML = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">
<page><title>Imported Page</title><ns>0</ns><revision><timestamp>2020-01-01T00:00:00Z</timestamp>
<contributor><username>Someone</username><id>42</id></contributor><comment>old summary</comment>
<model>wikitext</model><format>text/x-wiki</format><text xml:space="preserve">Imported text.</text></revision></page>
</mediawiki>
""".encode()


def rev_of(run, title):
    """The latest revision id of a page, from api.php."""
    pages = run.anon.call(action="query", prop="revisions", titles=title, rvprop="ids")["query"]["pages"]
    return str(pages[0]["revisions"][0]["revid"])


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
        if run.listener.unattributed:
            raise RuntimeError(f"unattributed datagrams: {run.listener.unattributed[:3]}")
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
    out = {"name": args.name, "language": args.lang, "context": ctx, "feeds": feeds,
           "payload_build_queried_db": run.queried, "cases": run.cases}
    with open(args.out, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    log(f"run {args.name}: {len(run.cases)} changes recorded")


if __name__ == "__main__":
    main()
