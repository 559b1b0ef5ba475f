#!/usr/bin/python3
"""make demo's second half: the whole chain on the demo's throwaway wiki.

    wiki -> RcEmit (xmlrc feed, UDP) -> rcemit-relay bridge -> a private Prosody (room per wiki) -> slixmpp client
                                                                                                -> rcemit-relay watch

The bridge listens on the UDP port the demo's feeds point at; a slixmpp client joins the wiki's room as a
visitor and prints each message's body and <rc> as they arrive, while the wiki makes a few more changes; then
the project's own watcher prints the same changes as JSON lines (api.php's formatversion=2 objects).
Everything started here is stopped here, by PID.

Usage: /usr/bin/python3 tests/relay/demo_chain.py --wiki DIR --port PORT
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import servers  # noqa: E402
from client import Client, NS  # noqa: E402
from relay_test import BIN, PASS, Bridge  # noqa: E402
from watch_test import Watcher  # noqa: E402


# Print the <rc> as the server sent it: in the default namespace jabber:client, no prefix.
ET.register_namespace("", NS)


def say(text):
    print(text, flush=True)


async def chain(wiki, port, tmp):
    url = open(os.path.join(wiki, "url")).read().strip()
    wiki_id = subprocess.run([os.path.join(wiki, "mw"), "eval"], input="echo WikiMap::getCurrentWikiId();\n",
                             text=True, capture_output=True, check=True, timeout=60).stdout.strip().splitlines()[-1]
    prosody = servers.Prosody(tmp)
    prosody.start()
    for user in ("bridge", "reader", "watcher"):
        prosody.register(user, PASS)
    say(f"Prosody on 127.0.0.1:{prosody.port} (private, plaintext on loopback), accounts bridge and reader")
    bridge = Bridge(tmp, prosody, udp_port=port, index=f"{url}/index.php")
    # The demo's wiki is the only one here: route its wikiid to its room.
    text = open(bridge.config).read().replace('id = "wiki"', f'id = "{wiki_id}"')
    text = text.replace(f'room = "wiki@{servers.MUC}"', f'room = "{wiki_id}@{servers.MUC}"')
    text = text.replace('format = "json"', 'format = "text"')
    open(bridge.config, "w").write(text)
    reader = watcher = None
    try:
        bridge.start()
        if not await bridge.wait_metric("rcemit_relay_rooms_joined", 2, 30):
            raise RuntimeError("the bridge did not join its rooms:\n" + bridge.tail())
        say(f"rcemit-relay bridge on udp://127.0.0.1:{port}: created and configured room {wiki_id}@{servers.MUC}")
        reader = Client(f"reader@{servers.HOST}", PASS)
        await reader.start(prosody.port)
        role = await reader.join(f"{wiki_id}@{servers.MUC}", "reader")
        watcher = Watcher(tmp, prosody, "demo-watch", "--room", f"{wiki_id}@{servers.MUC}").start()
        if not await watcher.joined():
            raise RuntimeError("the watcher did not join:\n" + watcher.log())
        say(f"slixmpp client reader@{servers.HOST} and rcemit-relay watch joined the room as visitors ({role});"
            " making changes:\n")

        mw = os.path.join(wiki, "mw")
        actions = [
            ([mw, "edit", "--user", "Admin", "--summary", "Start the XMPP demo", "XMPP demo"], "Hello, XMPP.\n"),
            ([mw, "edit", "--user", "Admin", "--minor", "--summary", "Say more", "XMPP demo"], "Hello, XMPP & co.\n"),
            ([mw, "protect", "--user", "Admin", "--reason", "Demo protection", "XMPP demo"], None),
        ]
        shown = 0
        for done, (cmd, stdin) in enumerate(actions, 1):
            subprocess.run(cmd, input=stdin, text=True, check=True, stdout=subprocess.DEVNULL, timeout=120)
            end = time.monotonic() + 10
            while time.monotonic() < end:
                got = reader.changes()
                for m in got[shown:]:
                    rc = m.find(f"{{{NS}}}rc")
                    say(f"<body> {m.findtext(f'{{{NS}}}body')}")
                    say(f"<rc>   {ET.tostring(rc, encoding='unicode', short_empty_elements=True)}\n")
                shown = len(got)
                if shown >= done:
                    break
                await asyncio.sleep(0.05)
        await watcher.wait(lambda: len(watcher.changes()) >= len(actions), 10)
        say("rcemit-relay watch printed (one JSON object per change, as api.php's formatversion=2 gives it):")
        for line in watcher.lines():
            say(f"  {line}")
        say("")
        m = bridge.metrics()
        say("bridge metrics: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(m.items())
                                            if k.startswith(("rcemit_relay_received", "rcemit_relay_published",
                                                             "rcemit_relay_rejected"))))
        say("(the demo's json and irc feeds aim at the same port: the bridge refuses those datagrams as malformed)")
    finally:
        if watcher:
            watcher.stop()
        if reader:
            await reader.stop()
        bridge.stop()
        prosody.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wiki", required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} is missing: cargo build -p rcemit-relay")
    tmp = tempfile.mkdtemp(prefix="rcemit-demo-relay-")
    os.chmod(tmp, 0o755)
    try:
        asyncio.run(asyncio.wait_for(chain(args.wiki, args.port, tmp), 120))
    finally:
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
