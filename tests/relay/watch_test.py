#!/usr/bin/python3
"""Watcher layer: `rcemit-relay watch` against a real chain — a throwaway MediaWiki (RcEmit's xmlrc feed) ->
bridge -> a private Prosody (Debian's) -> the watcher — with api.php as the oracle.

- Live: the scripted actions of scripts/mwdrive.py (edits of every kind and every log type the wiki makes); each
  JSON line must EQUAL api.php's `format=json&formatversion=2` object for that rcid (XMLRC's rcprop set) plus
  wikiid, read right after the action; `--format xml` lines must equal api.php's <rc> elements; every rcid
  once, in increasing order.
- History: `--since TIME` and `--after-rcid N` (MAM, paged) print exactly the expected rcids, once, in order.
- Reconnect: kill -9 of Prosody, changes while it is down, restart: the watcher prints every change once.
- Gap: datagrams with a missing rcid sent straight to the bridge: the watcher reports the gap.
- PubSub: the bridge publishes each change to a node; an independent slixmpp subscriber and the watcher in
  PubSub mode fetch the newest N items (equal to api.php's) and get a new change pushed.

A missing MediaWiki, Prosody or slixmpp fails this test. Every process started here is stopped here by its PID.

Usage: /usr/bin/python3 tests/relay/watch_test.py [--keep]
"""

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))

import servers  # noqa: E402
from client import Client, NS  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402
from mwdrive import XMLRC_PROPS, Api, actions, api_rc_elements, mw, xmlrc_from_api  # noqa: E402
from relay_test import (BIN, FAILURES, PASS, Bridge, check, clean_up, conclude, same_element,  # noqa: E402
                        sender, stop_clients, ws_normalized)
from wiki_chain import WikiChain  # noqa: E402

PUBSUB_NS = "http://jabber.org/protocol/pubsub"
EVENT_NS = "http://jabber.org/protocol/pubsub#event"
MAX_ITEMS = 40  # the node keeps this many


class Watcher:
    """One `rcemit-relay watch` process; stdout and stderr to files."""

    def __init__(self, tmp, server, name, *args):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "password"), "w") as f:
            f.write(PASS + "\n")
        self.config = os.path.join(self.dir, "watch.toml")
        with open(self.config, "w") as f:
            f.write(f"""[xmpp]
jid = "watcher@{servers.HOST}"
password_file = "{self.dir}/password"
server = "127.0.0.1:{server.port}"
tls = "none"
nick = "{name}"

[watch]
log_format = "json"
""")
        self.args = args
        self.out = os.path.join(self.dir, "out.jsonl")
        self.err = os.path.join(self.dir, "err.log")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([BIN, "watch", "--config", self.config, *self.args],
                                     stdout=open(self.out, "a"), stderr=open(self.err, "a"), stdin=subprocess.DEVNULL)
        return self

    def lines(self):
        with open(self.out) as f:
            return [line for line in f.read().splitlines() if line]

    def objects(self):
        return [json.loads(line) for line in self.lines()]

    def changes(self):
        return [o for o in self.objects() if "gap" not in o]

    def rcids(self):
        return [o["rcid"] for o in self.changes() if o.get("rcid")]

    def log(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    async def wait(self, cond, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            if self.proc.poll() is not None:
                return cond()
            await asyncio.sleep(0.1)
        return cond()

    async def joined(self, sessions=1, timeout=20):
        return await self.wait(lambda: self.log().count('"joined"') + self.log().count('"subscribed"') >= sessions,
                               timeout)

    def finish(self, limit=30):
        """Waits for a --history-only run; returns its exit code."""
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.stop()
            return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else None


class Run:
    """mwdrive.actions()'s protocol, recording api.php's view of each change right after its action: XML (the
    <rc> elements) and formatversion=2 JSON (the objects), both with XMLRC's rcprop set."""

    def __init__(self, chain):
        self.chain = chain
        self.url = chain.url
        self.admin, self.anon = Api(chain.url), Api(chain.url)
        self.ctx = {"use_rc_patrol": True, "use_np_patrol": True}
        self.seen = chain.rc_ids()
        self.by_step = {}
        self.xml = {}  # rcid -> api.php's <rc> element text
        self.json = {}  # rcid -> api.php's formatversion=2 object

    def mw(self, script, *args, stdin=None):
        return mw(self.chain.dir, script, *args, stdin=stdin)

    def rc_id_of(self, name):
        return self.by_step[name][0]

    def step(self, name, fn, may_be_empty=False):
        fn()
        new = self.chain.rc_ids() - self.seen
        self.seen |= new
        self.by_step[name] = sorted(new)
        if not new:
            # A patrol reaches the feeds but is not stored as a recent change: api.php cannot list it.
            print(f"  (action {name!r}: no row in api.php's recent changes)")
        self.xml.update(api_rc_elements(self.anon, new))
        res = self.anon.call(action="query", list="recentchanges", rcprop=XMLRC_PROPS, rclimit="500")
        self.json.update({rc["rcid"]: rc for rc in res["query"]["recentchanges"] if rc["rcid"] in new})

    def edits(self, tag, n):
        for i in range(n):
            self.step(f"{tag} edit {i}", lambda i=i: self.admin.call(
                action="edit", title=f"Watch {tag}", text=f"Version {i} of {tag}.", summary=f"{tag} {i}",
                token=self.admin.token()))


def ordered_once(rcids):
    return all(a < b for a, b in zip(rcids, rcids[1:]))


def ws_read_back(value):
    """A JSON value as the watcher reads it from Prosody: attribute newlines and tabs arrive as spaces."""
    if isinstance(value, str):
        return re.sub(r"[\t\n\r]", " ", value)
    if isinstance(value, list):
        return [ws_read_back(v) for v in value]
    if isinstance(value, dict):
        return {k: ws_read_back(v) for k, v in value.items()}
    return value


def compare_json(watcher, run, rcids, wiki_id, what):
    """Prosody writes newlines and tabs inside attribute values literally (see relay_test.compare): such values
    are accepted read back as spaces, and counted apart."""
    got = {o["rcid"]: o for o in watcher.changes() if o.get("rcid")}
    equal = ws_only = shown = 0
    for rcid in rcids:
        want = dict(run.json[rcid], wikiid=wiki_id)
        if got.get(rcid) == want:
            equal += 1
        elif got.get(rcid) == ws_read_back(want):
            ws_only += 1
        elif shown < 3 or os.environ.get("RELAY_DEBUG"):
            shown += 1
            print(f"    rcid {rcid} differs:\n      api.php: {json.dumps(want, ensure_ascii=False)}\n"
                  f"      watcher: {json.dumps(got.get(rcid), ensure_ascii=False)}")
    check(equal + ws_only == len(rcids), f"{what}: {equal + ws_only}/{len(rcids)} JSON lines equal api.php's "
                                         f"formatversion=2 objects + wikiid ({ws_only} with attribute newlines/tabs "
                                         "read back as spaces)")


def xml_rcs(lines):
    return {int(e.get("rcid")): e for e in (ET.fromstring(line) for line in lines) if e.get("rcid", "0") != "0"}


async def scenario(tmp, chain):
    server = servers.Prosody(os.path.join(tmp, "xmpp"), admins=[f"bridge@{servers.HOST}"], pubsub=True)
    server.start()
    for user in ("bridge", "watcher", "sub"):
        server.register(user, PASS)
    bridge = Bridge(tmp, server, udp_port=chain.udp_port, index=chain.index, pubsub_max_items=MAX_ITEMS)
    watchers, clients = [], []

    def watcher(name, *args):
        w = Watcher(tmp, server, name, *args).start()
        watchers.append(w)
        return w

    try:
        bridge.start()
        check(await bridge.wait_metric("rcemit_relay_rooms_joined", 2, 30), "the bridge joined both rooms")
        room = f"{chain.wiki_id}@{servers.MUC}"
        live = watcher("live", "--room", room)
        live_xml = watcher("livexml", "--room", room, "--format", "xml")
        check(await live.joined() and await live_xml.joined(), "two watchers joined the wiki's room")

        # ---- live: every kind of change the scripted wiki makes
        t = time.monotonic()
        run = Run(chain)
        actions(run)
        first = sorted(run.json)
        print(f"  {len(first)} changes by the scripted actions in {time.monotonic() - t:.1f} s; log types: "
              + ", ".join(sorted({f"{o['logtype']}/{o['logaction']}" for o in run.json.values() if 'logtype' in o})))
        await live.wait(lambda: set(first) <= set(live.rcids()), 60)
        await live_xml.wait(lambda: set(first) <= set(xml_rcs(live_xml.lines())), 30)
        rcids = live.rcids()
        check(rcids == first, f"live: all {len(first)} rcids printed, each once, in increasing order "
                              f"({len(rcids)} printed)")
        compare_json(live, run, first, chain.wiki_id, "live")
        no_rcid = [o for o in live.changes() if not o.get("rcid")]
        print(f"  {len(no_rcid)} change(s) without an rcid printed as they came (kinds: "
              f"{sorted({o.get('logtype', o.get('type')) for o in no_rcid})})")
        got_xml = xml_rcs(live_xml.lines())
        exact = ws_only = 0
        for rcid in first:
            want = ET.fromstring(xmlrc_from_api(run.xml[rcid], chain.wiki_id))
            exact += rcid in got_xml and same_element(got_xml[rcid], want)
            ws_only += rcid in got_xml and not same_element(got_xml[rcid], want) and same_element(
                got_xml[rcid], ws_normalized(want))
        check(exact + ws_only == len(first), f"--format xml: {exact + ws_only}/{len(first)} <rc> equal api.php's "
              f"({ws_only} with attribute newlines/tabs read back as spaces: Prosody writes them literally)")

        # ---- history through MAM
        await asyncio.sleep(1.2)
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
        await asyncio.sleep(2.2)
        run.edits("after-since", 4)
        second = sorted(set(run.json) - set(first))
        await live.wait(lambda: set(second) <= set(live.rcids()), 30)
        hist = watcher("since", "--room", room, "--since", since, "--history-only")
        code = hist.finish()
        check(code == 0 and hist.rcids() == second,
              f"--since {since} --history-only: exit {code}, rcids {hist.rcids()} == {second}")
        compare_json(hist, run, second, chain.wiki_id, "--since")
        missing_room = watcher("nosuch", "--room", f"nosuch@{servers.MUC}", "--since", since, "--history-only")
        code = missing_room.finish()
        check(code == 1 and "the archive query failed" in missing_room.log(),
              f"--history-only on a room that does not exist: exit {code}, the archive error reported")
        everything = first + second
        after = everything[4]
        want = [r for r in everything if r > after]
        hist = watcher("after", "--room", room, "--after-rcid", str(after), "--history-only")
        code = hist.finish()
        got = hist.rcids()
        check(code == 0 and got == want,
              f"--after-rcid {after} --history-only: exit {code}, {len(got)} rcids, expected {len(want)} "
              f"({want[0]}..{want[-1]}), paged backwards through the archive")

        # ---- reconnect: kill -9 the server, changes while it is down, restart
        server.kill9()
        run.edits("while-down", 3)
        down = sorted(set(run.json) - set(everything))
        server.start()
        ok = await live.wait(lambda: set(down) <= set(live.rcids()), 90)
        rcids = live.rcids()
        check(ok and rcids == everything + down,
              f"reconnect: after kill -9 and restart the watcher printed the {len(down)} changes made while the "
              f"server was down, every rcid once and in order ({len(rcids)} in all)")
        check(await live.joined(2, 5), "reconnect: the watcher rejoined the room")

        # ---- a watcher stopped and started again with --after-rcid its last rcid misses nothing
        last = xml_rcs(live_xml.lines())
        code = live_xml.stop()
        run.edits("watcher-down", 2)
        missed = [r for r in sorted(run.json) if r > max(last)]  # it may not have caught up with `down` yet
        again = watcher("again", "--room", room, "--after-rcid", str(max(last)), "--format", "xml")
        ok = await again.wait(lambda: sorted(xml_rcs(again.lines())) == missed, 20)
        got = [int(ET.fromstring(line).get("rcid")) for line in again.lines()]
        check(code == 0 and ok and got == missed, f"watcher restarted with --after-rcid {max(last)}: printed {got}, "
                                                  f"the {len(missed)} changes it had not printed")
        down = sorted(set(run.json) - set(everything))

        # ---- a gap: datagrams straight to the bridge, rcid 3 missing, in the other wiki's room
        other = watcher("other", "--room", f"other@{servers.MUC}")
        check(await other.joined(), "a watcher joined the other wiki's room")
        udp = sender()
        template = ('<rc type="edit" ns="0" title="Gap {i}" pageid="1" revid="{i}" old_revid="1" rcid="{i}" '
                    'user="G" oldlen="1" newlen="2" timestamp="2026-01-01T00:00:00Z" comment="c" wikiid="other">'
                    '<tags /></rc>')
        for i in (1, 2, 4, 5):
            udp.sendto(template.format(i=i).encode(), ("127.0.0.1", bridge.udp_port))
        await other.wait(lambda: other.rcids() == [1, 2, 4, 5], 15)
        gaps = [o["gap"] for o in other.objects() if "gap" in o]
        check(other.rcids() == [1, 2, 4, 5] and gaps == [{"after": 2, "before": 4}],
              f"gap: rcids {other.rcids()}, gap lines {gaps}")
        check('"rcid gap unexplained by this client"' in other.log() and '"missing":1' in other.log(),
              "gap: reported on stderr (structured: after, before, missing)")

        # ---- live changes arriving during the history fetch are held and merged: every rcid once, in order
        merge = watcher("merge", "--room", f"other@{servers.MUC}", "--after-rcid", "0")
        for i in range(6, 406):
            udp.sendto(template.format(i=i).encode(), ("127.0.0.1", bridge.udp_port))
            if i % 20 == 0:
                await asyncio.sleep(0.01)
        want = [1, 2] + list(range(4, 406))
        ok = await merge.wait(lambda: merge.rcids() == want, 30)
        held = re.findall(r'"held":(\d+)', merge.log())
        archived_gaps = [o["gap"] for o in merge.objects() if "gap" in o]
        check(archived_gaps == [{"after": 2, "before": 4}],
              f"gap: the same gap reported when read from the archive: {archived_gaps}")
        check(ok and other.rcids() == want, f"merge: a watcher started with --after-rcid 0 while 400 changes "
                                            f"arrive prints {len(merge.rcids())}/{len(want)} rcids once, in order "
                                            f"({held[0] if held else '?'} live changes held during its archive "
                                            "fetch and merged); the live watcher too")

        # ---- PubSub: the node holds the newest MAX_ITEMS changes
        newest = (first + second + down)[-5:]
        sub = Client(f"sub@{servers.HOST}", PASS)
        clients.append(sub)
        await sub.start(server.port)
        pushed = []
        sub.register_handler(Callback("pubsub event", MatchXPath(f"{{{NS}}}message/{{{EVENT_NS}}}event"),
                                      lambda m: pushed.extend(m.xml.findall(
                                          f"{{{EVENT_NS}}}event/{{{EVENT_NS}}}items/{{{EVENT_NS}}}item"))))
        sub.send_presence()  # available: notifications to the bare JID reach this resource
        await pubsub_set(sub, "subscribe", f"<subscribe node='wiki' jid='sub@{servers.HOST}'/>")
        items = await pubsub_get(sub, "<items node='wiki' max_items='5'/>")
        rcs = [i.find(f"{{{NS}}}rc") for i in items.findall(f"{{{PUBSUB_NS}}}items/{{{PUBSUB_NS}}}item")]
        ids = sorted(int(rc.get("rcid")) for rc in rcs if rc is not None)
        equal = sum(same_element(rc, ET.fromstring(xmlrc_from_api(run.xml[int(rc.get("rcid"))], chain.wiki_id)))
                    for rc in rcs if rc is not None and int(rc.get("rcid")) in run.xml)
        check(ids == newest and equal == 5, f"pubsub (slixmpp): the last 5 items are rcids {ids} (expected {newest}), "
                                            f"{equal}/5 <rc> equal api.php's")
        all_items = await pubsub_get(sub, "<items node='wiki'/>")
        kept = len(all_items.findall(f"{{{PUBSUB_NS}}}items/{{{PUBSUB_NS}}}item"))
        check(kept == MAX_ITEMS, f"pubsub: the node keeps {kept} items (pubsub_max_items = {MAX_ITEMS})")
        node_watch = watcher("pubsub", "--node", f"{servers.PUBSUB}/wiki", "--last", "5")
        check(await node_watch.joined(), "pubsub: the watcher subscribed to the node")
        await node_watch.wait(lambda: len(node_watch.rcids()) >= 5, 15)
        check(node_watch.rcids() == newest, f"pubsub (watcher): the last 5 items first: {node_watch.rcids()}")
        compare_json(node_watch, run, newest, chain.wiki_id, "pubsub watcher, fetched items")
        run.edits("pushed", 1)
        new = sorted(set(run.json) - set(everything + down))
        ok = await node_watch.wait(lambda: node_watch.rcids() == newest + new, 15)
        end = asyncio.get_running_loop().time() + 10
        while not any(i.get("id") == str(new[0]) for i in pushed) and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.1)
        check(ok and any(i.get("id") == str(new[0]) for i in pushed),
              f"pubsub: the new change {new} is pushed to slixmpp and to the watcher ({node_watch.rcids()[-1:]})")
        compare_json(node_watch, run, new, chain.wiki_id, "pubsub watcher, pushed item")

        # PubSub across a server restart: the node, its items and the subscription persist; the watcher
        # reconnects, fetches the newest items again (nothing printed twice) and gets the next change pushed.
        server.kill9()
        run.edits("pubsub-down", 1)
        server.start()
        await node_watch.joined(2, 30)
        run.edits("pubsub-after", 1)
        later = sorted(set(run.json) - set(everything + down + new))
        ok = await node_watch.wait(lambda: node_watch.rcids() == newest + new + later, 30)
        check(ok, f"pubsub: after kill -9 and restart the watcher printed {node_watch.rcids()[len(newest) + 1:]} "
                  f"(expected {later}: the change made while the server was down, then a pushed one)")

        published = bridge.metric("rcemit_relay_pubsub_published_total", wiki="wiki")
        failed = bridge.metric("rcemit_relay_pubsub_failed_total")
        check(published >= len(run.json),
              f"pubsub: the bridge counts {published:.0f} items published ({failed:.0f} failed: unanswered when "
              "the server was killed)")

        for w in watchers:
            if w is not missing_room:
                code = w.stop()
                check(code == 0, f"watcher {os.path.basename(w.dir)}: exit code {code} (SIGTERM or --history-only)")
    finally:
        await stop_clients(clients)
        for w in watchers:
            w.stop()
        if FAILURES:
            for w in watchers:
                print(f"--- watcher {os.path.basename(w.dir)} log (tail)\n{w.log()[-2000:]}")
            print(f"--- bridge log (tail)\n{bridge.tail()}\n--- prosody log (tail)\n{server.log()}")
        bridge.stop()
        server.stop()


async def pubsub_set(client, name, xml):
    iq = client.make_iq_set(ito=servers.PUBSUB)
    iq.xml.append(ET.fromstring(f"<pubsub xmlns='{PUBSUB_NS}'>{xml}</pubsub>"))
    return (await iq.send(timeout=15)).xml


async def pubsub_get(client, xml):
    iq = client.make_iq_get(ito=servers.PUBSUB)
    iq.xml.append(ET.fromstring(f"<pubsub xmlns='{PUBSUB_NS}'>{xml}</pubsub>"))
    return (await iq.send(timeout=15)).xml.find(f"{{{PUBSUB_NS}}}pubsub")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    started = time.monotonic()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} is missing: cargo build -p rcemit-relay")
    tmp = tempfile.mkdtemp(prefix="rcemit-watch-")
    os.chmod(tmp, 0o755)
    chain = WikiChain(tmp, REPO)
    # php -S is not the CLI: FFI (RcEmit's library) must be enabled for it, or web edits reach no feed.
    ini_dir = os.path.join(tmp, "php.d")
    os.mkdir(ini_dir)
    with open(os.path.join(ini_dir, "99-rcemit-watch.ini"), "w") as f:
        f.write("ffi.enable = 1\n")
    os.environ["PHP_INI_SCAN_DIR"] = ":" + ini_dir
    try:
        chain.create(extra="$wgUseRCPatrol = true;\n$wgUseNPPatrol = true;\n"
                           "$wgGroupPermissions['sysop']['deleterevision'] = true;\n")
        asyncio.run(asyncio.wait_for(scenario(tmp, chain), 240))
    finally:
        chain.stop()
        clean_up(tmp, args.keep)
    conclude("watcher layer", started)


if __name__ == "__main__":
    main()
