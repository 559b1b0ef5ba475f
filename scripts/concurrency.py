#!/usr/bin/env python3
"""The measuring half of scripts/concurrency.sh (which sets up Apache and the wiki; see there).

Listens on the two feeds' UDP ports, runs concurrent api.php clients (each logs in as ConcurrencyN and takes its
own csrf token), then checks:
- delivery: every rc_id the run added to the recentchanges table arrived exactly once on each feed;
- crashes: Apache's error log has no worker that exited on a signal, and the worker pids did not change;
- content: each rcemit json packet equals core's own JSONRCFeedFormatter packet for the same rc_id (a core
  feed runs side by side), so no worker mixed up the payloads of concurrent requests;
- counters: the sum of every worker's rcemit_stats (read through a status endpoint, one request per worker held
  open so that concurrent requests reach distinct workers) equals the datagrams received, with no drops.
Prints the result table; exits 1 when any check fails.
"""

import argparse
import json
import os
import re
import sqlite3
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mwdrive import Api, Listener  # noqa: E402

FEEDS = ("json", "xmlrc")
# Messages in Apache's error log that mean a worker died or PHP failed.
CRASH = re.compile(r"exit signal|Segmentation fault|core dumped|AH00052|PHP Fatal error|zend_mm_heap corrupted")


class Received:
    """The rc_ids that arrived on one feed, with the first datagram of each."""

    def __init__(self, parse):
        self.parse = parse
        self.ids, self.first = {}, {}
        self.bad = 0
        self.last = time.monotonic()

    def add(self, data):
        self.last = time.monotonic()
        rcid = self.parse(data)
        if rcid is None:
            self.bad += 1
        else:
            self.ids[rcid] = self.ids.get(rcid, 0) + 1
            self.first.setdefault(rcid, data)


def collect(udp, received):
    """Moves what arrived on the sockets into each feed's Received."""
    for name, feed in received.items():
        for data in udp.take(name):
            feed.add(data)


def json_id(data):
    try:
        return int(json.loads(data)["id"])
    except (ValueError, KeyError, TypeError):
        return None


def xmlrc_id(data):
    m = re.match(rb'<rc [^>]*\brcid="(\d+)"', data)
    return int(m.group(1)) if m else None


class Client(threading.Thread):
    """One API client: logs in, takes a csrf token, then edits while edits remain and the deadline allows."""

    def __init__(self, n, args, work, deadline):
        super().__init__(daemon=True)
        self.n, self.work, self.deadline = n, work, deadline
        self.api = Api(args.url)
        self.done, self.failed, self.retries = 0, [], 0

    def run(self):
        try:
            self.api.login(f"Concurrency{self.n}", f"rcemit-Concurrency-pass-{self.n}")
            csrf = self.api.token()
        except Exception as e:  # reported in the table, the other clients go on
            self.failed.append(f"client {self.n} setup: {e}")
            return
        while time.monotonic() < self.deadline:
            i = self.work.take()
            if i is None:
                return
            params = {"action": "edit", "title": f"Concurrency {self.n}/{i % 20}", "format": "json",
                      "formatversion": "2", "text": f"Edit {i} by client {self.n}.",
                      "summary": f"concurrency edit {i}", "token": csrf}
            for attempt in range(3):
                try:
                    r = json.loads(self.api.raw(params))
                except Exception as e:
                    r = {"error": {"code": "http", "info": str(e)}}
                if r.get("edit", {}).get("result") == "Success":
                    self.done += 1
                    break
                # Only a failure that saved nothing is retried (a locked database rolls the edit back).
                if "locked" not in json.dumps(r) or attempt == 2:
                    self.failed.append(f"edit {i}: {json.dumps(r)[:300]}")
                    break
                self.retries += 1
                time.sleep(0.2)


class Work:
    def __init__(self, total):
        self.next, self.total, self.lock = 0, total, threading.Lock()

    def take(self):
        with self.lock:
            if self.next >= self.total:
                return None
            self.next += 1
            return self.next - 1


def worker_pids(master):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == master:
                    pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return sorted(pids)


def worker_stats(url, pids):
    """Each worker's rcemit counters: rounds of len(pids) concurrent held requests until every pid answered."""
    seen = {}
    for _ in range(6):
        results, threads = [], []

        def fetch():
            try:
                with urllib.request.urlopen(url + "/rcemit-stats.php?hold=0.5", timeout=30) as resp:
                    results.append(json.loads(resp.read()))
            except Exception as e:
                results.append({"error": str(e)})

        for _ in pids:
            threads.append(threading.Thread(target=fetch))
            threads[-1].start()
        for t in threads:
            t.join()
        for r in results:
            if "pid" in r:
                seen[r["pid"]] = r
        if set(pids) <= set(seen):
            break
    return seen


def main():
    p = argparse.ArgumentParser()
    for name in ("url", "db", "error-log", "rcemit-log"):
        p.add_argument("--" + name, required=True)
    for name in ("json-port", "xmlrc-port", "core-json-port", "edits", "clients", "deadline", "master-pid"):
        p.add_argument("--" + name, type=int, required=True)
    args = p.parse_args()

    udp = Listener(["json", "xmlrc", "core"],
                   ports={"json": args.json_port, "xmlrc": args.xmlrc_port, "core": args.core_json_port})
    listeners = {"json": Received(json_id), "xmlrc": Received(xmlrc_id)}
    core = Received(json_id)
    received = {**listeners, "core": core}
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True, timeout=60)
    before = db.execute("SELECT COALESCE(MAX(rc_id), 0) FROM recentchanges").fetchone()[0]
    pids_before = worker_pids(args.master_pid)

    work = Work(args.edits)
    start = time.monotonic()
    clients = [Client(n, args, work, start + args.deadline) for n in range(1, args.clients + 1)]
    for c in clients:
        c.start()
    while any(c.is_alive() for c in clients):
        # Drained while the clients run: the sockets' buffers need not hold the whole run.
        collect(udp, received)
        time.sleep(0.05)
    duration = time.monotonic() - start

    rcids = [r[0] for r in db.execute("SELECT rc_id FROM recentchanges WHERE rc_id > ? ORDER BY rc_id", (before,))]
    wanted = set(rcids)
    # Wait for the last datagrams: until every rc_id arrived on every feed, or 5 s without any datagram.
    while any(not wanted <= set(r.ids) for r in received.values()) and \
            time.monotonic() - max(r.last for r in received.values()) < 5:
        collect(udp, received)
        time.sleep(0.1)
    pids_after = worker_pids(args.master_pid)
    stats = worker_stats(args.url, pids_after)

    rows, ok = [], True

    def row(name, value, good=True):
        nonlocal ok
        rows.append((name, value, "" if good else "  <-- FAIL"))
        ok = ok and good

    edits = sum(c.done for c in clients)
    failures = [f for c in clients for f in c.failed]
    row("clients (own login + csrf token)", args.clients)
    row("edits requested", args.edits)
    row("edits saved (api.php Success)", edits, edits == args.edits)
    row("edit failures", len(failures), not failures)
    row("retries after 'database is locked'", sum(c.retries for c in clients))
    row("duration of the edit phase (s)", f"{duration:.1f}")
    row("edits per second", f"{edits / duration:.1f}")
    row("rc_ids added to recentchanges", len(rcids), len(rcids) == edits)
    for name, listener in listeners.items():
        got = listener.ids
        missing = len(wanted - set(got))
        dups = sum(n - 1 for i, n in got.items() if i in wanted and n > 1)
        stray = len(set(got) - wanted)
        row(f"{name}: delivered rc_ids", len(wanted & set(got)), missing == 0)
        row(f"{name}: missing", missing, missing == 0)
        row(f"{name}: duplicates", dups, dups == 0)
        row(f"{name}: not in the table / unparsable", f"{stray} / {listener.bad}", stray == 0 and listener.bad == 0)
    compared = wanted & set(core.first) & set(listeners["json"].first)
    differ = [i for i in compared if json.loads(core.first[i]) != json.loads(listeners["json"].first[i])]
    row("core's json feed: rc_ids received", len(wanted & set(core.first)), wanted <= set(core.first))
    row("json packets equal to core's (compared)", f"{len(compared) - len(differ)} of {len(compared)}",
        not differ and compared == wanted)
    crashes = []
    with open(args.error_log, errors="replace") as f:
        crashes = [line.strip() for line in f if CRASH.search(line)]
    row("Apache workers (before / after)", f"{len(pids_before)} / {len(pids_after)}")
    row("workers replaced during the run", len(set(pids_before) - set(pids_after)),
        set(pids_before) == set(pids_after))
    row("crash lines in Apache's error log", len(crashes), not crashes)
    rcemit_log = open(args.rcemit_log).read().splitlines() if os.path.exists(args.rcemit_log) else []
    row("lines on the rcemit log channel", len(rcemit_log), not rcemit_log)
    answered = [s for s in stats.values() if "stats" in s]
    row("workers whose counters were read", f"{len(answered)} of {len(pids_after)}",
        set(pids_after) <= {s["pid"] for s in answered})
    modes = sorted({s.get("mode", "?") for s in answered})
    row("library load mode in the workers", ",".join(modes), modes == ["cdef"])
    total = {k: sum(s["stats"][k] for s in answered) for k in (answered[0]["stats"] if answered else {})}
    arrived = sum(sum(listener.ids.values()) for listener in listeners.values())
    row("sum of workers' enqueued", total.get("enqueued"), total.get("enqueued") == len(FEEDS) * len(rcids))
    row("sum of workers' sent", total.get("sent"), total.get("sent") == arrived)
    row("datagrams received (both rcemit feeds)", arrived)
    # Settings, not events: the queue's capacity and the number of feeds opened.
    drops = {k: v for k, v in total.items() if k not in ("enqueued", "sent", "bytes_sent", "queue_capacity", "feeds")
             and v}
    row("other non-zero counters", json.dumps(drops) if drops else "none", not drops)
    per_worker = sorted((s["stats"]["enqueued"] for s in answered), reverse=True)
    row("enqueued per worker", " ".join(map(str, per_worker)))

    width = max(len(r[0]) for r in rows)
    print("\nRcEmit under concurrency: Apache prefork + mod_php, production FFI recipe, SQLite wiki")
    for name, value, mark in rows:
        print(f"  {name:<{width}}  {value}{mark}")
    for i in sorted(differ)[:3]:
        print(f"  rc_id {i}: rcemit {listeners['json'].first[i][:300]!r}\n           core   {core.first[i][:300]!r}")
    for f in failures[:10]:
        print("  failure:", f)
    for line in crashes[:10]:
        print("  error log:", line)
    for line in rcemit_log[:5]:
        print("  rcemit log:", line)
    for s in stats.values():
        if "error" in s:
            print("  stats endpoint:", s["error"])
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
