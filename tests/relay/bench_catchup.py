#!/usr/bin/python3
"""Figures for the bridge's catch-up (issue 12's benchmark; not a timed test): a throwaway MediaWiki gets N real
edits (tests/relay/bulkEdits.php, MediaWiki's PageUpdater) while no bridge runs; the bridge then starts with a
saved position from before them and fetches all N from api.php (php -S, one request at a time, 500 rows a page)
into its room on a private Prosody. Prints changes/s for the catch-up (fetch and queue) and until the server
confirmed every change, and the number of API requests.

Usage: /usr/bin/python3 tests/relay/bench_catchup.py [--changes 10000] [--keep]
Uses target/release/rcemit-relay (cargo build --release -p rcemit-relay).
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))

import relay_test  # noqa: E402
import servers  # noqa: E402
from mwdrive import Api, make_wiki  # noqa: E402
from wiki_chain import bulk_edits, stop_wiki  # noqa: E402

BIN = os.path.join(REPO, "target", "release", "rcemit-relay")


async def measure(args, tmp, url, wiki_id, base):
    server = servers.Prosody(os.path.join(tmp, "prosody"))
    server.start()
    server.register("bridge", relay_test.PASS)
    relay_test.BIN = BIN
    bridge = relay_test.Bridge(tmp, server, index=url + "/index.php", name="bridge")
    bridge.one_wiki(wiki_id, url + "/index.php", url + "/api.php", {"max_changes": args.changes}, queue=50000)
    with open(os.path.join(bridge.state_dir, f"{wiki_id}.json"), "w") as f:
        json.dump(base, f)
    try:
        t = time.monotonic()
        bridge.start()
        ok = await bridge.wait_metric("rcemit_relay_backfilled_total", args.changes, 600, wiki=wiki_id)
        fetched = time.monotonic() - t
        ok = ok and await bridge.wait_metric("rcemit_relay_published_total", args.changes, 600, wiki=wiki_id)
        published = time.monotonic() - t
        m = bridge.metrics()
        if not ok:
            sys.exit(f"bench_catchup: not all {args.changes} changes arrived:\n{bridge.tail()}")
        requests = m.get(f'rcemit_relay_api_requests_total{{wiki="{wiki_id}"}}', 0)
        spent = m.get(f'rcemit_relay_catchup_duration_seconds_sum{{wiki="{wiki_id}"}}', 0)
        rounds = m.get(f'rcemit_relay_catchup_duration_seconds_count{{wiki="{wiki_id}"}}', 0)
        print(f"catch-up of {args.changes} missed changes: {requests:.0f} API requests, {rounds:.0f} catch-up "
              f"round(s) taking {spent:.2f} s ({args.changes / spent:.0f} changes/s fetched and queued); all "
              f"queued {fetched:.2f} s and all confirmed by Prosody {published:.2f} s after the bridge started "
              f"({args.changes / published:.0f} changes/s end to end)", flush=True)
    finally:
        bridge.stop()
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=10000)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"bench_catchup: {BIN} is missing: cargo build --release -p rcemit-relay")
    tmp = tempfile.mkdtemp(prefix="rcemit-bench-catchup-")
    os.chmod(tmp, 0o755)
    wiki = os.path.join(tmp, "wiki")
    try:
        url = make_wiki(wiki)
        subprocess.run([os.path.join(wiki, "serve")], check=True, timeout=60)
        api = Api(url)
        wiki_id = api.call(action="query", meta="siteinfo")["query"]["general"]["wikiid"]
        newest = api.call(action="query", list="recentchanges", rcprop="ids|timestamp", rclimit="1")
        row = newest["query"]["recentchanges"][0]
        base = {"rcid": row["rcid"], "timestamp": row["timestamp"]}
        seconds = bulk_edits(wiki, args.changes)
        print(f"{args.changes} edits through PageUpdater in {seconds:.1f} s (no bridge running)", flush=True)
        asyncio.run(measure(args, tmp, url, wiki_id, base))
    finally:
        stop_wiki(wiki)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
