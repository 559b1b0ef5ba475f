#!/usr/bin/python3
"""Nothing lost: the bridge's gap repair from api.php, against a real Prosody and a throwaway MediaWiki whose
RcEmit xmlrc feed reaches the bridge through a lossy UDP proxy (this file). An independent slixmpp client in the
room is the oracle's reader; api.php's own list of changes is the oracle.

Scenarios, one after the other on one wiki, one Prosody and one bridge state directory, while the project's own
watcher (`rcemit-relay watch`) follows the room from start to end and must print every rcid once, in order:
- loss: the proxy drops 10% of the datagrams (seeded) while 200 edits are made; the room must show every rcid
  exactly once, in increasing order; the fetched ones carry an XEP-0203 <delay>.
- restart: the bridge is stopped, 50 changes are made, the bridge starts again: all 50 arrive, delayed.
- server down: Prosody is killed (SIGKILL) for 20 s while edits go on, then restarted: nothing is lost (read
  back from the room's archive, MAM, by a fresh client), although the bridge's queue overflowed meanwhile.
- suppressed: an edit whose datagram is lost and whose comment is then hidden (revision deletion) before the
  catch-up: not published, counted as explained;
- deleted: an edit whose datagram is lost and whose page is then deleted: api.php lists it no more; counted as
  explained.

Usage: /usr/bin/python3 tests/relay/gaps_test.py [--keep]
"""

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))

import servers  # noqa: E402
from client import Client, NS  # noqa: E402
from mwdrive import ADMIN_PASS, Api  # noqa: E402
from relay_test import BIN, PASS, Bridge, check, FAILURES  # noqa: E402
from watch_test import Watcher  # noqa: E402
from wiki_chain import WikiChain  # noqa: E402

DELAY = "urn:xmpp:delay"
QUEUE = 60


class LossyProxy:
    """Forwards datagrams from the wiki to the bridge, dropping some on purpose: at `rate` (seeded), or every
    datagram while `blackhole` is set, or the next `drop_next` ones. Counts what it dropped."""

    def __init__(self, listen_port, forward_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", listen_port))
        self.sock.settimeout(0.2)
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.forward = ("127.0.0.1", forward_port)
        self.rate, self.drop_next, self.blackhole = 0.0, 0, False
        self.random = random.Random(12)
        self.dropped, self.forwarded = [], 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            rcid = re.search(rb' rcid="(\d+)"', data)
            rcid = int(rcid.group(1)) if rcid else None
            if self.blackhole or self.drop_next > 0 or self.random.random() < self.rate:
                self.drop_next = max(0, self.drop_next - 1)
                self.dropped.append(rcid)
                continue
            self.out.sendto(data, self.forward)
            self.forwarded += 1

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class GapBridge(Bridge):
    """The bridge for one wiki with its api.php, a state directory, short timers (grace 1 s, quiet check 3 s)
    and a queue of QUEUE changes: while the server is down it overflows, and the catch-up must fetch what it
    dropped."""

    def __init__(self, tmp, server, wiki):
        super().__init__(tmp, server, index=wiki.index, name="gap-bridge")
        self.one_wiki(wiki.wiki_id, wiki.index, wiki.url + "/api.php", {
            "gap_grace_seconds": 1, "quiet_check_seconds": 3, "max_hold_seconds": 60,
            "http_timeout_seconds": 20, "contact": "rcemit relay test"}, queue=QUEUE)


class Editor:
    """Edits through api.php as Admin (faster than the CLI: no PHP start-up per change)."""

    def __init__(self, url):
        self.api = Api(url)
        self.api.login("Admin", ADMIN_PASS)
        self.token = self.api.token()
        self.n = 0

    def edit(self, tag):
        self.n += 1
        res = self.api.call(action="edit", title=f"Gap {tag} {self.n % 7}", text=f"{tag} text {self.n}\n",
                            summary=f"{tag} {self.n}", token=self.token)
        return res["edit"].get("newrevid")

    def rcids_after(self, rcid):
        """api.php's rcids above `rcid`, oldest first (the oracle of what the room must show)."""
        out, cont = [], {}
        while True:
            res = self.api.call(action="query", list="recentchanges", rcprop="ids", rclimit="500", rcdir="newer",
                                **cont)
            out += [rc["rcid"] for rc in res["query"]["recentchanges"] if rc["rcid"] > rcid]
            if "continue" not in res:
                return sorted(out)
            cont = res["continue"]

    def newest_rcid(self):
        res = self.api.call(action="query", list="recentchanges", rcprop="ids", rclimit="1")
        rows = res["query"]["recentchanges"]
        return rows[0]["rcid"] if rows else 0


def rcid_of(msg):
    rc = msg.find(f"{{{NS}}}rc")
    return int(rc.get("rcid"))


def delayed(msg):
    return msg.find(f"{{{DELAY}}}delay") is not None


async def wait_for_rcids(client, want, timeout):
    """Waits until the client's live messages include every rcid of `want`; returns the rcids seen in order."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        seen = [rcid_of(m) for m in client.changes()]
        if set(want) <= set(seen):
            return seen
        await asyncio.sleep(0.2)
    return [rcid_of(m) for m in client.changes()]


def report(what, want, got_msgs):
    """Checks that the room showed exactly `want`, once each, in order; returns the messages of those rcids."""
    got = [rcid_of(m) for m in got_msgs]
    mine = [r for r in got if r in set(want)]
    missing = sorted(set(want) - set(got))
    dups = len(mine) - len(set(mine))
    print(f"  {what}: expected {len(want)} changes, received {len(set(mine))} (missing {len(missing)}, "
          f"duplicates {dups}, extra {len([r for r in got if r not in set(want)])})", flush=True)
    check(not missing, f"{what}: nothing missing {missing[:10]}")
    check(dups == 0, f"{what}: no rcid twice")
    check(mine == sorted(mine), f"{what}: rcids in increasing order")
    return [m for m in got_msgs if rcid_of(m) in set(want)]


async def scenario(tmp, wiki, server):
    # Revision deletion needs `deleterevision`: only the suppress group has it by default.
    wiki.mw("createAndPromote", "--force", "--custom-groups", "suppress", "Admin")
    editor = Editor(wiki.url)
    bridge = GapBridge(tmp, server, wiki)
    proxy = LossyProxy(wiki.udp_port, bridge.udp_port)
    room = f"{wiki.wiki_id}@{servers.MUC}"
    client = Client(f"watcher@{servers.HOST}", PASS)
    watcher = None
    try:
        bridge.start()
        check(await bridge.wait_metric("rcemit_relay_rooms_joined", 1, 20), "the bridge joined the wiki's room")
        await client.start(server.port)
        await client.join(room, "watcher")
        watcher = Watcher(tmp, server, "rustwatch", "--room", room).start()
        check(await watcher.joined(), "the watcher joined the room")

        # A first change sets the bridge's position (a bridge without a saved position starts at the feed).
        base = start = editor.newest_rcid()
        editor.edit("start")
        first = editor.rcids_after(base)
        await wait_for_rcids(client, first, 20)

        # 1. 10% loss while 200 edits are made.
        base = first[-1]
        proxy.rate = 0.10
        for _ in range(200):
            editor.edit("loss")
        proxy.rate = 0.0
        want = editor.rcids_after(base)
        lost = [r for r in proxy.dropped if r and r > base]
        print(f"  loss: the proxy dropped {len(lost)} of {len(want)} datagrams", flush=True)
        check(len(lost) >= 5, "loss: the proxy really dropped datagrams")
        seen = await wait_for_rcids(client, want, 60)
        msgs = report("loss (10% of datagrams dropped)", want,
                      [m for m in client.changes() if rcid_of(m) in set(want)])
        late = sorted(rcid_of(m) for m in msgs if delayed(m))
        check(set(lost) <= set(late), f"loss: every dropped change came delayed ({len(late)} delayed)")
        check(bridge.metric("rcemit_relay_backfilled_total") >= len(lost), "loss: backfilled counted")
        del seen

        # 2. The bridge stopped while 50 changes are made.
        base = want[-1]
        check(bridge.sigterm(20) == 0, "restart: the bridge exits 0 on SIGTERM")
        for _ in range(50):
            editor.edit("down")
        want = editor.rcids_after(base)
        bridge.start()
        await wait_for_rcids(client, want, 60)
        msgs = report("restart (bridge stopped for 50 changes)", want,
                      [m for m in client.changes() if rcid_of(m) in set(want)])
        check(len(msgs) == len(want) and all(delayed(m) for m in msgs),
              f"restart: all {len(want)} marked delayed ({sum(map(delayed, msgs))})")

        # 3. Prosody killed for 20 s under load.
        base = want[-1]
        stop_editing = threading.Event()

        def keep_editing():
            while not stop_editing.is_set():
                editor.edit("server")
                time.sleep(0.1)
        worker = threading.Thread(target=keep_editing)
        worker.start()
        await asyncio.sleep(3)
        server.kill9()
        down = time.monotonic()
        await asyncio.sleep(20)
        server.start()
        print(f"  server down: Prosody was down {time.monotonic() - down:.1f} s", flush=True)
        await asyncio.sleep(3)
        stop_editing.set()
        worker.join(30)
        want = editor.rcids_after(base)
        reader = Client(f"reader@{servers.HOST}", PASS)
        await reader.start(server.port)
        archived = []
        end = time.monotonic() + 60
        while time.monotonic() < end:
            reader.mam.clear()
            archived = [m for m in await reader.history(room, f"q{int(time.monotonic())}")
                        if m.find(f"{{{NS}}}rc") is not None]
            if set(want) <= {rcid_of(m) for m in archived}:
                break
            await asyncio.sleep(1)
        await reader.stop()
        report("server down (Prosody killed 20 s during edits; read from MAM)", want,
               [m for m in archived if rcid_of(m) in set(want)])
        dropped = bridge.metric("rcemit_relay_dropped_total")
        print(f"  server down: the bridge's queue ({QUEUE}) dropped {dropped:.0f} changes, fetched again", flush=True)
        check(dropped > 0 and len(want) > QUEUE, "server down: the queue overflowed while the server was down")

        # 4. A change whose datagram is lost and whose comment is hidden before the catch-up.
        await client.stop()
        client = Client(f"watcher@{servers.HOST}", PASS)
        await client.start(server.port)
        await client.join(room, "watcher")
        explained = bridge.metric("rcemit_relay_gap_changes_explained_total")
        base = editor.newest_rcid()
        proxy.drop_next = 1
        revid = editor.edit("hidden")
        hidden_rcid = editor.rcids_after(base)[0]
        editor.api.call(action="revisiondelete", type="revision", target=f"Gap hidden {editor.n % 7}",
                        ids=str(revid), hide="comment", reason="test", token=editor.token)
        editor.edit("after")
        want = [r for r in editor.rcids_after(base) if r != hidden_rcid]
        await wait_for_rcids(client, want, 30)
        got = [rcid_of(m) for m in client.changes()]
        check(hidden_rcid not in got, f"suppressed: rcid {hidden_rcid} (comment hidden) was not published")
        check(set(want) <= set(got), f"suppressed: the other {len(want)} changes were published")
        n = bridge.metric("rcemit_relay_gap_changes_explained_total") - explained
        check(n >= 1, f"suppressed: counted as explained ({n:.0f})")

        # 5. A change whose datagram is lost and whose page is deleted before the catch-up: api.php lists it no
        # more (deleting a page deletes its edits' rows).
        explained = bridge.metric("rcemit_relay_gap_changes_explained_total")
        base = editor.newest_rcid()
        proxy.drop_next = 1
        editor.api.call(action="edit", title="Gap doomed", text="soon gone\n", summary="doomed", token=editor.token)
        doomed_rcid = editor.rcids_after(base)[0]
        editor.api.call(action="delete", title="Gap doomed", reason="test", token=editor.token)
        editor.edit("after")
        want = editor.rcids_after(base)
        check(doomed_rcid not in want, f"deleted: api.php lists rcid {doomed_rcid} no more")
        await wait_for_rcids(client, want, 30)
        got = [rcid_of(m) for m in client.changes()]
        check(doomed_rcid not in got and set(want) <= set(got),
              f"deleted: the other {len(want)} changes were published, rcid {doomed_rcid} was not")
        n = bridge.metric("rcemit_relay_gap_changes_explained_total") - explained
        check(n >= 1, f"deleted: counted as explained ({n:.0f})")

        # The watcher, through all of it (it too lost its connection while Prosody was down).
        want = [r for r in editor.rcids_after(start) if r != hidden_rcid]  # the deleted one is not listed
        await watcher.wait(lambda: set(want) <= set(watcher.rcids()), 60)
        got = watcher.rcids()
        print(f"  watcher: expected {len(want)} changes, printed {len(got)} ({len(set(got))} distinct)", flush=True)
        check(got == want, "watcher: every rcid of every scenario once, in order")
        gaps = [o["gap"] for o in watcher.objects() if "gap" in o]
        check(gaps == [{"after": r - 1, "before": r + 1} for r in (hidden_rcid, doomed_rcid)],
              f"watcher: the gaps it reports are the hidden and the deleted change's ({gaps})")
        m = bridge.metrics()
        print("  bridge metrics: " + ", ".join(f"{k}={v:.0f}" for k, v in sorted(m.items())
                                                if "gap" in k or "backfill" in k or "duplicate" in k
                                                or "catchups_total" in k or "api_requests" in k), flush=True)
    finally:
        if FAILURES:
            print(f"--- bridge log (tail)\n{bridge.tail()}\n--- prosody log (tail)\n{server.log()}")
        if watcher:
            watcher.stop()
        await client.stop()
        bridge.stop()
        proxy.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} is missing: run `cargo build -p rcemit-relay` first")
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="rcemit-gaps-")
    os.chmod(tmp, 0o755)
    wiki = WikiChain(tmp, REPO)
    server = None
    try:
        wiki.create()
        sub = os.path.join(tmp, "prosody")
        os.makedirs(sub)
        os.chmod(sub, 0o755)
        server = servers.Prosody(sub)
        server.start()
        for user in ("bridge", "watcher", "reader"):
            server.register(user, PASS)
        asyncio.run(asyncio.wait_for(scenario(tmp, wiki, server), 400))
    finally:
        if server:
            server.stop()
        wiki.stop()
        if args.keep or FAILURES:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ngap repair: {len(FAILURES)} failure(s), {time.monotonic() - started:.1f} s")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
