#!/usr/bin/python3
"""Figures for the poller (issue 12's benchmark; not a timed test): a throwaway MediaWiki (scripts/mkwiki.sh)
gets N real edits (tests/relay/bulkEdits.php, MediaWiki's PageUpdater in one process), then one
`rcemit-relay poll --once` fetches them all from api.php (served by `php -S`, one request at a time, 500 rows
a page) and sends them to a loopback UDP port. Prints changes/s, the number of API requests and datagrams received.

Usage: /usr/bin/python3 tests/relay/bench_poll.py [--changes 10000] [--page-limit 500] [--keep]
Uses target/release/rcemit-relay (cargo build --release -p rcemit-relay).
"""

import argparse
import os
import re
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

from mwdrive import Listener, make_wiki  # noqa: E402
from wiki_chain import bulk_edits, stop_wiki  # noqa: E402

BIN = os.path.join(REPO, "target", "release", "rcemit-relay")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=10000)
    ap.add_argument("--page-limit", type=int, default=500)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"bench_poll: {BIN} is missing: cargo build --release -p rcemit-relay")
    tmp = tempfile.mkdtemp(prefix="rcemit-bench-poll-")
    wiki = os.path.join(tmp, "wiki")
    try:
        url = make_wiki(wiki)
        seconds = bulk_edits(wiki, args.changes)
        print(f"{args.changes} edits through PageUpdater in {seconds:.1f} s", flush=True)
        subprocess.run([os.path.join(wiki, "serve")], check=True, timeout=60)
        listener = Listener(["poller"])
        state = os.path.join(tmp, "state.json")
        cmd = [BIN, "poll", "--api", url + "/api.php", "--to", f"127.0.0.1:{listener.ports['poller']}",
               "--state", state, "--start", "1970-01-01T00:00:00Z", "--page-limit", str(args.page_limit), "--once"]
        received = 0
        t = time.monotonic()
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=dict(os.environ, NO_COLOR="1"))
        while proc.poll() is None:  # drain while it runs: 10,000 datagrams exceed the socket buffer
            received += len(listener.take("poller"))
            time.sleep(0.01)
        wall = time.monotonic() - t
        listener.settle()
        received += len(listener.take("poller"))
        err = proc.stderr.read()
        done = re.findall(r"poll done.*", err)
        if proc.returncode != 0 or not done:
            sys.exit(f"bench_poll: the poller failed ({proc.returncode}):\n{err[-2000:]}")
        tally = dict(re.findall(r"(\w+)=(\S+)", done[-1]))
        sent, seconds = int(tally["sent"]), float(tally["seconds"])
        print(f"poll --once: {sent} changes sent ({received} datagrams received, hidden {tally['hidden']}), "
              f"{tally['requests']} API requests of up to {args.page_limit} rows, {seconds:.2f} s polling "
              f"({wall:.2f} s with start-up and siteinfo): {sent / seconds:.0f} changes/s", flush=True)
        if received != sent or sent < args.changes:
            sys.exit(f"bench_poll: expected at least {args.changes} changes sent and all received")
    finally:
        stop_wiki(wiki)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
