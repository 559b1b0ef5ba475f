#!/usr/bin/env python3
"""Drives a throwaway MediaWiki (scripts/mkwiki.sh; 1.39 on the host, 1.43 in the trixie chroot): the scripted
actions, a loopback UDP listener and api.php's <rc> elements. Shared by scripts/goldens/drive.py (records goldens) and tests/e2e/e2e.py (checks
rcemit against MediaWiki end to end); neither copies any of this.

actions(run) performs every scripted action through `run`, which provides: url, admin and anon (logged-in and
anonymous Api sessions), ctx (wiki facts: use_rc_patrol, use_np_patrol), mw(script, *args) (a maintenance
script, i.e. through the CLI), step(name, fn) (runs fn and records the recent changes it produced) and
rc_id_of(name) (the rc_id a recorded step produced). step(name, fn, may_be_empty=True) marks an action that
produces a recent change on some MediaWiki versions only (e.g. 1.43's createAndPromote.php --bot logs the rights
change, 1.39's logs nothing): no change is then not an error.
"""

import http.cookiejar
import json
import os
import re
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
import zlib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
XMLRC_PROPS = "user|comment|flags|timestamp|title|ids|sizes|redirect|loginfo|tags"
# Every property an xmlrc feed can print (api.php refuses `patrolled` where nobody can patrol).
XMLRC_ALL_PROPS = "user|userid|comment|parsedcomment|flags|timestamp|title|ids|sizes|redirect|patrolled|loginfo|tags|sha1"
ADMIN_PASS = "rcemit-Admin-pass-1"
USER_PASS = "rcemit-User-pass-1"


class Listener:
    """Receives datagrams on loopback UDP sockets, one inbox per name in arrival order. A name may listen on
    several addresses with one port number (e.g. 127.0.0.1 and ::1 for a host name that resolves to both).

    Reading is synchronous (no reader thread): every call first drains the kernel's socket buffers, so what a
    process sent before it answered is seen by the next call, whatever the scheduler does."""

    def __init__(self, names, hosts=None, ports=None):
        """names: the inboxes; hosts: name -> addresses to bind (default ["127.0.0.1"]); ports: name -> the port
        to bind (default: a free one)."""
        hosts, ports = hosts or {}, ports or {}
        self.socks = []  # (name, socket)
        self.ports = {}
        for name in names:
            bound = self._bind_all(hosts.get(name, ["127.0.0.1"]), ports.get(name, 0))
            self.ports[name] = bound[0].getsockname()[1]
            self.socks += [(name, s) for s in bound]
        self.inbox = {name: [] for name in names}

    @staticmethod
    def _bind_all(addrs, port=0):
        """Binds every address to one port number (`port`, or a free one the first address picks, retried on
        clashes)."""
        for _ in range(1 if port else 50):
            socks = []
            try:
                for addr in addrs:
                    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
                    socks.append(s)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                    s.bind((addr, socks[0].getsockname()[1] if len(socks) > 1 else port))
                    s.setblocking(False)
                return socks
            except OSError:
                for s in socks:
                    s.close()
        raise RuntimeError(f"cannot bind one UDP port on all of {addrs}")

    def poll(self):
        """Moves every datagram waiting in the sockets to the inboxes; returns how many there were."""
        moved = 0
        for name, s in self.socks:
            while True:
                try:
                    self.inbox[name].append(s.recv(70000))
                except BlockingIOError:
                    break
                moved += 1
        return moved

    def take(self, name):
        """Everything received for `name` since the last take, in arrival order."""
        self.poll()
        got, self.inbox[name] = self.inbox[name], []
        return got

    def count(self, name):
        self.poll()
        return len(self.inbox[name])

    def settle(self, quiet=0.15, limit=5.0):
        """Waits until no datagram arrived for `quiet` seconds, at most `limit` seconds."""
        start = last = time.monotonic()
        while time.monotonic() - start < limit:
            if self.poll():
                last = time.monotonic()
            elif time.monotonic() - last >= quiet:
                return
            time.sleep(0.01)


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



def core_formatter_php(name):
    """A PHP expression naming core's RCFeed formatter class `name` (e.g. JSONRCFeedFormatter) as the running
    MediaWiki spells it without deprecation: MediaWiki\\RCFeed\\NAME where that exists (1.43; the global name is
    a deprecated alias there), else the global NAME (1.39). For $wgRCFeeds entries in LocalSettings.php."""
    return (f"( class_exists( 'MediaWiki\\RCFeed\\{name}' ) ? 'MediaWiki\\RCFeed\\{name}' : '{name}' )")


def api_rc_elements(api, rcids, rcprop=XMLRC_PROPS):
    """api.php's <rc> elements (XMLRC's rcprop set unless given) for these rcids, as the exact text api.php
    printed."""
    params = {"action": "query", "list": "recentchanges", "format": "xml", "rcprop": rcprop,
              "rclimit": "100", "rcdir": "older"}
    text = api.raw(params, post=False).decode("utf-8")
    found = {}
    for m in re.finditer(r"<rc [^>]*?(?:/>|>.*?</rc>)", text, re.S):
        rcid = re.search(r' rcid="(\d+)"', m.group(0))
        if rcid and int(rcid.group(1)) in rcids:
            found[int(rcid.group(1))] = m.group(0)
    return found


def make_wiki(wiki_dir, lang="en", script_path=""):
    """Creates the throwaway wiki with scripts/mkwiki.sh; returns its base URL."""
    env = dict(os.environ, MKWIKI_LANG=lang, MKWIKI_SCRIPT_PATH=script_path, MKWIKI_PASS=ADMIN_PASS)
    return subprocess.run(["bash", os.path.join(REPO, "scripts", "mkwiki.sh"), wiki_dir], env=env, check=True,
                          stdout=subprocess.PIPE, text=True, timeout=600).stdout.strip()


def mw(wiki_dir, script, *args, stdin=None):
    """Runs a maintenance script against the wiki (through the CLI), at most 5 minutes; returns its output."""
    res = subprocess.run([os.path.join(wiki_dir, "mw"), script, *args], input=stdin, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    if res.returncode != 0:
        raise RuntimeError(f"{script} failed: {res.stdout}")
    return res.stdout


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

    # On 1.39 createAndPromote.php logs nothing to recent changes; 1.43 logs the --bot promotion as a rights
    # change (made through the CLI). Account creation is covered over HTTP below.
    step("account creation (createAndPromote.php)", lambda: run.mw("createAndPromote.php", "Editor", USER_PASS),
         may_be_empty=True)
    step("bot account creation (createAndPromote.php --bot)",
         lambda: run.mw("createAndPromote.php", "--bot", "GoldBot", USER_PASS), may_be_empty=True)
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
    # The flag comes from the Title whose row the protection loaded: here it says redirect.
    step("protection of a redirect", lambda: a.call(action="protect", title="Golden Redirect",
                                                    protections="edit=sysop", expiry="infinite",
                                                    reason="stable redirect", token=a.token()))
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
    # Not autopatrolled: unpatrolled where only file patrol ($wgUseFilePatrol) makes uploads patrollable.
    step("upload by a plain user", lambda: ed.call(action="upload", filename="Plain Upload.png", comment="my scan",
                                                   text="Scanned.", token=ed.token(),
                                                   _files={"file": ("plain.png", png(3, 3))}))
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
            rcid = run.rc_id_of(case)
            a.call(action="patrol", rcid=rcid, token=a.token("patrol"))
        step("patrol", patrol)
    step("category page creation", lambda: edit(a, "Category:Golden", text="A category.", summary="cat"))
    step("categorising edit", lambda: edit(a, "Golden Moved", appendtext="\n[[Category:Golden]]",
                                           summary="categorise"))
    step("categorisation (job queue)", lambda: run.mw("runJobs.php"))
    step("decategorising edit", lambda: edit(a, "Golden Moved", text="No category now.", summary="uncat"))
    step("decategorisation (job queue)", lambda: run.mw("runJobs.php"))
    # Outside a transaction round (the CLI) DeletePage publishes the log entry before its updates clear the
    # page's LinkCache row: the redirect flag must still come out as api.php shows it (none).
    step("redirect for a CLI deletion", lambda: edit(a, "CLI Redirect", text="#REDIRECT [[Golden Page]]",
                                                     summary="to delete"))
    step("delete a redirect through the CLI (deleteBatch.php)",
         lambda: run.mw("deleteBatch.php", "-u", "Admin", "-r", "cli cleanup", stdin="CLI Redirect\n"))
    step("move over a redirect", lambda: a.call(action="move", **{"from": "Golden Moved"}, to="Golden Page",
                                                reason="back", movetalk="1", token=a.token()))
    # Move targets in other namespaces: the library gets the target's namespace from PHP (the wiki's names).
    step("talk page move", lambda: a.call(action="move", **{"from": "Talk:Golden Page"}, to="Talk:Golden Talk",
                                          reason="talk", token=a.token()))
    step("page with a colon in its title", lambda: edit(a, "Colon: In Main", text="Colon.", summary="colon"))
    step("move into a namespace whose name has a space",
         lambda: a.call(action="move", **{"from": "Colon: In Main"}, to="User talk:Editor/Colon",
                        reason="to user talk", token=a.token()))
    step("move to a main-namespace title with a colon",
         lambda: a.call(action="move", **{"from": "User talk:Editor/Colon"}, to="Star Trek: Colon",
                        noredirect="1", reason="back to main", token=a.token()))
    # A title with a quote cannot be read from the serialised params: PHP reads them first.
    step("move to a title with a quote",
         lambda: a.call(action="move", **{"from": "Star Trek: Colon"}, to='Talk:Say "cheese"',
                        reason="quoted", token=a.token()))
    # Log rows whose API params the library derives: protect/modify, a month-long block (calendar months, as
    # PHP's strtotime adds them), upload/revert.
    step("protection change", lambda: a.call(action="protect", title="Rollback Target",
                                             protections="edit=autoconfirmed", expiry="1 month",
                                             reason="less strict", token=a.token()))
    step("block for a month", lambda: a.call(action="block", user="203.0.113.9", expiry="1 month",
                                             reason="persistent", token=a.token()))
    # A duration outside PHP's table of the usual ones, and a date, which PHP's BlockLogFormatter formats.
    step("block for ten days", lambda: a.call(action="block", user="203.0.113.10", expiry="10 days",
                                              reason="cool down", token=a.token()))
    step("block until a date", lambda: a.call(action="block", user="203.0.113.11",
                                              expiry="2040-01-01T00:00:00Z", reason="long", token=a.token()))

    def revert_file():
        pages = a.call(action="query", titles="File:Golden Test.png", prop="imageinfo", iiprop="archivename",
                       iilimit=2)["query"]["pages"]
        archive = pages[0]["imageinfo"][1]["archivename"]
        a.call(action="filerevert", filename="Golden Test.png", archivename=archive, comment="back to v1",
               token=a.token())
    step("file revert", revert_file)
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


