#!/usr/bin/python3
"""Figures for the bridge (issue 11's benchmarks; not a timed test): latency from UDP in to receipt by a slixmpp
client through a private Prosody at a steady rate, and the bridge's RSS while the server is down and changes
keep coming (bounded by the queue).

Usage: /usr/bin/python3 tests/relay/bench_relay.py [--server prosody|ejabberd] [--rate 1000] [--seconds 10]
       [--down-seconds 60]
Uses target/release/rcemit-relay (cargo build --release -p rcemit-relay).
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import relay_test  # noqa: E402
import servers  # noqa: E402
from client import Client, NS  # noqa: E402

relay_test.BIN = os.path.join(relay_test.REPO, "target", "release", "rcemit-relay")
TEMPLATE = ('<rc type="edit" ns="0" title="Bench page" pageid="3" revid="{i}" old_revid="1" rcid="{i}" user="Bench" '
            'oldlen="100" newlen="120" timestamp="2026-12-01T00:00:00Z" comment="bench {i}" wikiid="wiki"><tags /></rc>')


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def send_at(rate, seconds, port, start_id, sent=None):
    """Sends `rate` datagrams per second for `seconds`, paced in 10 ms slices; records send times."""
    s = relay_test.sender()
    n = int(rate * seconds)
    t0 = time.monotonic()
    for k in range(n):
        due = t0 + k / rate
        delay = due - time.monotonic()
        if delay > 0.002:
            await asyncio.sleep(delay)
        i = start_id + k
        if sent is not None:
            sent[str(i)] = time.monotonic()
        s.sendto(TEMPLATE.format(i=i).encode(), ("127.0.0.1", port))
    return n, time.monotonic() - t0


async def bench(args, tmp):
    prosody = servers.Prosody(tmp) if args.server == "prosody" else servers.Ejabberd(tmp)
    prosody.start()
    for user in ("bridge", "reader"):
        prosody.register(user, relay_test.PASS)
    bridge = relay_test.Bridge(tmp, prosody)
    text = open(bridge.config).read().replace("max_messages = 5000", "max_messages = 10000")
    open(bridge.config, "w").write(text.replace('level = "info,tokio_xmpp=warn"', 'level = "warn"'))
    reader = None
    try:
        bridge.start()
        assert await bridge.wait_metric("rcemit_relay_rooms_joined", 2, 30), bridge.tail()
        reader = Client(f"reader@{servers.HOST}", relay_test.PASS)
        await reader.start(prosody.port)
        await reader.join(f"wiki@{servers.MUC}", "reader")
        arrival = {}

        def stamp(xml):
            rc = xml.find(f"{{{NS}}}rc")
            if rc is not None:
                arrival[rc.get("rcid")] = time.monotonic()

        reader.on_groupchat = stamp
        sent = {}
        rss0 = rss_kib(bridge.proc.pid)
        n, took = await send_at(args.rate, args.seconds, bridge.udp_port, 1_000_000, sent)
        end = time.monotonic() + 30
        while len(arrival) < n and time.monotonic() < end:
            await asyncio.sleep(0.1)
        lat = sorted((arrival[k] - sent[k]) * 1000 for k in sent if k in arrival)
        pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")  # noqa: E731
        print(f"latency UDP in -> slixmpp receipt via {args.server}, {n} changes at {n / took:.0f}/s: "
              f"received {len(lat)}, p50 {pct(50):.2f} ms, p90 {pct(90):.2f} ms, p99 {pct(99):.2f} ms, "
              f"max {lat[-1] if lat else float('nan'):.2f} ms; bridge RSS {rss0} -> {rss_kib(bridge.proc.pid)} KiB",
              flush=True)
        await reader.stop()
        reader = None

        if args.down_seconds:
            prosody.kill9()
            peak = 0
            samples = []
            task = asyncio.ensure_future(send_at(args.rate, args.down_seconds, bridge.udp_port, 2_000_000))
            while not task.done():
                r = rss_kib(bridge.proc.pid)
                peak = max(peak, r)
                samples.append(r)
                await asyncio.sleep(1)
            m = bridge.metrics()
            depth = m.get('rcemit_relay_queue_depth{wiki="wiki"}', 0)
            qbytes = m.get('rcemit_relay_queue_bytes{wiki="wiki"}', 0)
            full = m.get('rcemit_relay_dropped_total{reason="queue_full"}', 0)
            print(f"server down {args.down_seconds:.0f} s at {args.rate}/s: bridge RSS peak {peak} KiB (samples "
                  f"every 10 s: {samples[::10]}), queue depth {depth:.0f}, queue bytes {qbytes:.0f}, "
                  f"dropped queue_full {full:.0f}", flush=True)
    finally:
        if reader:
            await reader.stop()
        bridge.stop()
        prosody.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="prosody", choices=["prosody", "ejabberd"])
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--down-seconds", type=float, default=60)
    args = ap.parse_args()
    if not os.path.exists(relay_test.BIN):
        sys.exit(f"{relay_test.BIN} is missing: cargo build --release -p rcemit-relay")
    tmp = tempfile.mkdtemp(prefix="rcemit-relay-bench-")
    os.chmod(tmp, 0o755)
    try:
        asyncio.run(bench(args, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
