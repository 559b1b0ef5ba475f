#!/usr/bin/python3
"""Relay layer: rcemit-relay's bridge against real Prosody and ejabberd (Debian's), checked by an independent
slixmpp client. Loopback only; every process started here is stopped here by its PID.

Per server: the bridge creates and configures both rooms; a visitor's message is refused; real xmlrc
datagrams (MediaWiki's own, from tests/goldens/cases-1.39.json) arrive as messages whose <rc> equals the datagram's
(namespace-aware) and whose body is XMLRC's; hostile datagrams are counted by reason; a late joiner gets the
history through MAM; kill -9 of the server mid-stream, datagrams while it is down, restart: the bridge
reconnects and publishes what it queued; received = published + dropped + rejected; SIGTERM drains and exits 0.
With --wiki, the same chain from a throwaway MediaWiki (RcEmit's xmlrc feed) is compared with api.php.

Usage: /usr/bin/python3 tests/relay/relay_test.py [--server prosody|ejabberd|all] [--wiki] [--tls] [--keep]
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # never leave __pycache__ in the checkout
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))

import servers  # noqa: E402
from client import Client, NS  # noqa: E402

BIN = os.path.join(REPO, "target", "debug", "rcemit-relay")
PASS = "relay-test-pass-1"
INDEX = "http://127.0.0.1:8080/index.php"
FAILURES = []


def check(cond, what):
    print(("  ok    " if cond else "  FAIL  ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


# ---- what the bridge must produce ------------------------------------------------------------------------------

def expected_body(rc, index=INDEX):
    """XMLRC's body, written independently of relay/src/body.rs from FORMATS.md."""
    a = rc.attrib
    if a.get("type") == "log":
        target, flags, url = "Special:Log/" + a.get("logtype", ""), a.get("logaction", ""), ""
    else:
        target = a.get("title", "")
        flags = "".join(f for k, f in (("new", "N"), ("minor", "M"), ("bot", "B")) if k in a)
        if a.get("type") == "new":
            url = f"{index}?oldid={a.get('revid', '')}&rcid={a.get('rcid', '')}"
        else:
            url = f"{index}?diff={a.get('revid', '')}&oldid={a.get('old_revid', '')}&rcid={a.get('rcid', '')}"
    diff = int(a.get("newlen", "0") or 0) - int(a.get("oldlen", "0") or 0)
    return f"[[{target}]] {flags} {url} * {a.get('user', '')} * ({diff:+d}) {a.get('comment', '')}"


def same_element(got, want, ns=NS):
    """Namespace-aware equality: got is in `ns`, want is un-namespaced (as XMLRC printed it)."""
    if got.tag != f"{{{ns}}}{want.tag}" or got.attrib != want.attrib:
        return False
    if (got.text or "") != (want.text or ""):
        return False
    if len(got) != len(want):
        return False
    return all(same_element(g, w, ns) and (g.tail or "") == (w.tail or "") for g, w in zip(got, want))


def ws_normalized(element):
    """The element as a parser reads it after a server wrote attribute newlines and tabs literally."""
    copy = ET.fromstring(ET.tostring(element))
    for e in copy.iter():
        for k, v in e.attrib.items():
            e.set(k, re.sub(r"[\t\n\r]", " ", v))
    return copy


def compare(server, datagrams, messages, what, index=INDEX):
    """Every datagram must have its message (by rcid) with an equal <rc> and XMLRC's body. Prosody writes
    newlines and tabs inside attribute values literally (util/stanza.lua escapes only the five XML
    characters), so its clients read them as spaces: counted apart, and accepted only on Prosody."""
    by_rcid = {m.find(f"{{{NS}}}rc").get("rcid"): m for m in messages}
    exact = ws_only = body_ok = 0
    for d in datagrams:
        want = ET.fromstring(d)
        m = by_rcid.get(want.get("rcid"))
        if m is None:
            continue
        rc = m.find(f"{{{NS}}}rc")
        if same_element(rc, want):
            exact += 1
        elif same_element(rc, ws_normalized(want)):
            ws_only += 1
        elif os.environ.get("RELAY_DEBUG"):
            print("    differs:", d, "\n    got:    ", ET.tostring(rc, encoding="unicode"))
        body_ok += m.findtext(f"{{{NS}}}body") == expected_body(want, index)
    n = len(datagrams)
    if server.name == "prosody":
        check(exact + ws_only == n, f"{server.name}: {what}: {exact + ws_only}/{n} <rc> equal to the datagram's "
                                    f"({exact} byte-for-byte after parsing, {ws_only} with attribute newlines/tabs "
                                    f"read back as spaces because Prosody writes them literally)")
    else:
        check(exact == n, f"{server.name}: {what}: {exact}/{n} <rc> equal to the datagram's")
    check(body_ok == n, f"{server.name}: {what}: {body_ok}/{n} bodies as XMLRC wrote them")


def golden_datagrams():
    """MediaWiki's own xmlrc datagrams, each given a unique rcid so that every message can be told apart."""
    cases = json.load(open(os.path.join(REPO, "tests", "goldens", "cases-1.39.json")))
    out = []
    for run in cases["runs"]:
        for case in run["cases"]:
            x = case["expected"].get("xmlrc")
            if isinstance(x, str):
                out.append(x)
    return [re.sub(r' rcid="\d+"', f' rcid="{900000 + i}"', x, count=1) for i, x in enumerate(out)]


# ---- the bridge under test -------------------------------------------------------------------------------------

class Bridge:
    def __init__(self, tmp, server, udp_port=None, index=INDEX, tls="none", drain=5, env=None, name="bridge",
                 pubsub_max_items=None):
        """pubsub_max_items: also publish wiki's changes to the node `wiki` of servers.PUBSUB, keeping that many."""
        self.dir = os.path.join(tmp, name)
        self.env = env
        os.makedirs(self.dir, exist_ok=True)
        self.udp_port = udp_port or servers.free_port()
        self.index = index
        self.metrics_port = servers.free_port()
        with open(os.path.join(self.dir, "password"), "w") as f:
            f.write(PASS + "\n")
        self.config = os.path.join(self.dir, "bridge.toml")
        server_line = f'server = "127.0.0.1:{server.port}"'
        pubsub = (f'pubsub_service = "{servers.PUBSUB}"\npubsub_node = "wiki"\npubsub_max_items = {pubsub_max_items}\n'
                  if pubsub_max_items else "")
        with open(self.config, "w") as f:
            f.write(f"""[xmpp]
jid = "bridge@{servers.HOST}"
password_file = "{self.dir}/password"
{server_line}
tls = "{tls}"
nick = "rcbot"

[udp]
listen = ["127.0.0.1:{self.udp_port}", "[::1]:{self.udp_port}"]
allow = ["127.0.0.1/32", "::1/128"]
max_datagram_bytes = 8192

[queue]
max_messages = 5000
max_bytes = 8388608

[metrics]
listen = "127.0.0.1:{self.metrics_port}"

[log]
format = "json"
level = "info,tokio_xmpp=warn"

[shutdown]
drain_seconds = {drain}

[[wiki]]
id = "wiki"
room = "wiki@{servers.MUC}"
index_url = "{index}"
{pubsub}
[[wiki]]
id = "other"
room = "other@{servers.MUC}"
index_url = "http://other.example/w/index.php"
""")
        self.proc = None

    def one_wiki(self, wiki_id, index, api_url, catchup, queue=None):
        """Rewrites the configuration for one wiki with gap repair from `api_url`: `catchup` holds the
        [catchup] settings (state_dir is self.state_dir), `queue` the per-room bound in changes."""
        self.state_dir = os.path.join(self.dir, "state")
        os.makedirs(self.state_dir, exist_ok=True)
        text = open(self.config).read()
        text = text[:text.index("[[wiki]]")]
        if queue:
            text = text.replace("max_messages = 5000", f"max_messages = {queue}")
        text += "[catchup]\n" + "".join(f"{k} = {json.dumps(v)}\n"
                                       for k, v in {"state_dir": self.state_dir, **catchup}.items())
        text += f"""
[[wiki]]
id = "{wiki_id}"
room = "{wiki_id}@{servers.MUC}"
index_url = "{index}"
api_url = "{api_url}"
"""
        open(self.config, "w").write(text)

    def start(self):
        self.log = open(os.path.join(self.dir, "bridge.log"), "a")
        self.proc = subprocess.Popen([BIN, "bridge", "--config", self.config], stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=self.env)

    def metrics(self):
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def metric(self, name, **labels):
        m = self.metrics()
        if labels:
            key = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
            return m.get(key, 0)
        return sum(v for k, v in m.items() if k == name or k.startswith(name + "{"))

    async def wait_metric(self, name, value, timeout, **labels):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.metric(name, **labels) >= value:
                return True
            if self.proc.poll() is not None:
                return False
            await asyncio.sleep(0.1)
        return False

    def sigterm(self, limit):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None

    def stop(self):
        servers.stop(self.proc, limit=10)

    def tail(self):
        try:
            return open(os.path.join(self.dir, "bridge.log"), errors="replace").read()[-4000:]
        except OSError:
            return ""


def sender(source="127.0.0.1"):
    s = socket.socket(socket.AF_INET6 if ":" in source else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    return s


# ---- the scenario, once per server -----------------------------------------------------------------------------

async def run_server(server, tmp, wiki=None):
    t0 = time.monotonic()
    print(f"\n== {server.name}", flush=True)
    server.start()
    print(f"  {server.name} listening on 127.0.0.1:{server.port} after {time.monotonic() - t0:.1f} s")
    for user in ("bridge", "watcher", "late", "after"):
        server.register(user, PASS)
    bridge = Bridge(tmp, server, udp_port=wiki.udp_port if wiki else None, index=wiki.index if wiki else INDEX)
    clients = []
    try:
        bridge.start()
        check(await bridge.wait_metric("rcemit_relay_rooms_joined", 2, 30),
              f"{server.name}: the bridge created, configured and joined both rooms")
        room = f"wiki@{servers.MUC}"

        watcher = Client(f"watcher@{servers.HOST}", PASS)
        clients.append(watcher)
        await watcher.start(server.port)
        role = await watcher.join(room, "watcher")
        check(role == "visitor", f"{server.name}: another account joins as a visitor (role {role!r})")
        said = await watcher.say(room, "a visitor tries to speak")
        check(said == "refused", f"{server.name}: the room refuses the visitor's message ({said})")

        # Real datagrams, half with core's prefix framing, the last one over IPv6.
        datagrams = golden_datagrams()
        udp4, udp6 = sender("127.0.0.1"), sender("::1")
        for i, d in enumerate(datagrams):
            payload = (f"#wiki\t {d}\n" if i % 2 else d).encode()
            if i == len(datagrams) - 1:
                await asyncio.sleep(0.2)
                udp6.sendto(payload, ("::1", bridge.udp_port))
            else:
                udp4.sendto(payload, ("127.0.0.1", bridge.udp_port))
            if i % 50 == 49:
                await asyncio.sleep(0.02)
        got = await watcher.wait_changes(len(datagrams), 30)
        check(len(got) == len(datagrams), f"{server.name}: {len(got)}/{len(datagrams)} messages arrived live")
        compare(server, datagrams, got, "live", bridge.index)
        order = [m.find(f"{{{NS}}}rc").get("rcid") for m in got]
        check(order == sorted(order), f"{server.name}: messages arrived in datagram order")

        # Routing by wikiid: the other wiki's change goes to its own room.
        other = datagrams[0].replace('wikiid="wiki"', 'wikiid="other"')
        udp4.sendto(other.encode(), ("127.0.0.1", bridge.udp_port))
        check(await bridge.wait_metric("rcemit_relay_published_total", 1, 10, wiki="other"),
              f"{server.name}: a change of wiki 'other' is published to its room")

        await hostile(bridge, server.name)

        # A late joiner reads the history through MAM.
        late = Client(f"late@{servers.HOST}", PASS)
        clients.append(late)
        await late.start(server.port)
        archived = [m for m in await late.history(room, "late") if m.find(f"{{{NS}}}rc") is not None]
        compare(server, datagrams, archived, "MAM (late joiner)", bridge.index)

        if wiki:
            await wiki.check(server, bridge, late, check, compare)

        await kill_and_restart(server, bridge, udp4)

        # Counters add up once everything left the queues.
        await asyncio.sleep(0.5)
        m = bridge.metrics()
        received = bridge.metric("rcemit_relay_received_total")
        published = bridge.metric("rcemit_relay_published_total")
        dropped = bridge.metric("rcemit_relay_dropped_total")
        rejected = bridge.metric("rcemit_relay_rejected_total")
        depth = bridge.metric("rcemit_relay_queue_depth")
        check(received == published + dropped + rejected and depth == 0,
              f"{server.name}: received {received:.0f} = published {published:.0f} + dropped {dropped:.0f} "
              f"+ rejected {rejected:.0f} (queued {depth:.0f})")
        check(m.get("rcemit_relay_reconnects_total", 0) >= 1, f"{server.name}: reconnects counted "
              f"({m.get('rcemit_relay_reconnects_total', 0):.0f})")

        for c in clients:
            await c.stop()
        clients = []
        # SIGTERM: the queue is drained (empty here) and the process exits cleanly within the deadline.
        start = time.monotonic()
        code = bridge.sigterm(20)
        check(code == 0, f"{server.name}: SIGTERM: exit code {code} after {time.monotonic() - start:.1f} s")
    finally:
        await stop_clients(clients)
        if FAILURES:
            print(f"--- bridge log (tail)\n{bridge.tail()}\n--- {server.name} log (tail)\n{server.log()}")
        bridge.stop()
        server.stop()
    print(f"  {server.name}: {time.monotonic() - t0:.1f} s", flush=True)


async def stop_clients(clients):
    """Stops every slixmpp client, whatever happens to the others (cleanup)."""
    for c in clients:
        try:
            await c.stop()
        except Exception:  # noqa: BLE001 - cleanup must go on
            pass


async def hostile(bridge, name):
    before = {r: bridge.metric("rcemit_relay_rejected_total", reason=r)
              for r in ("malformed", "entity", "size", "utf8", "doctype", "source", "unknown_wiki")}
    good = '<rc type="edit" title="T" rcid="1" wikiid="wiki"><tags /></rc>'
    cases = {
        "malformed": [good[:-7], good + good, "<rc wikiid='wiki'>", "not xml at all"],
        "entity": ['<rc title="&nbsp;" wikiid="wiki"/>', '<rc title="&#1;" wikiid="wiki"/>'],
        "size": ['<rc title="' + "x" * 9000 + '" wikiid="wiki"/>'],
        "utf8": [b'<rc title="\xc3\x28" wikiid="wiki"/>'],
        "doctype": ['<!DOCTYPE rc [<!ENTITY e "x">]><rc title="&e;" wikiid="wiki"/>'],
        "unknown_wiki": ['<rc title="T" wikiid="nosuchwiki"/>'],
    }
    s = sender()
    for reason, items in cases.items():
        for d in items:
            s.sendto(d if isinstance(d, bytes) else d.encode(), ("127.0.0.1", bridge.udp_port))
    # A spoofed source: 127.0.0.2 is loopback but outside the configured 127.0.0.1/32.
    sender("127.0.0.2").sendto(good.encode(), ("127.0.0.1", bridge.udp_port))
    cases["source"] = [good]
    await asyncio.sleep(0.5)
    for reason, items in cases.items():
        n = bridge.metric("rcemit_relay_rejected_total", reason=reason) - before[reason]
        check(n == len(items), f"{name}: hostile datagrams rejected as {reason}: {n:.0f}/{len(items)}")
    check(bridge.proc.poll() is None, f"{name}: the bridge still runs after hostile datagrams")


async def kill_and_restart(server, bridge, udp):
    """kill -9 mid-stream, datagrams while down, restart: what was queued must be published."""
    name = server.name
    base = bridge.metric("rcemit_relay_published_total", wiki="wiki")
    template = '<rc type="edit" ns="0" title="Fault {i}" revid="{i}" old_revid="1" rcid="{i}" user="F" oldlen="1" newlen="2" comment="c" wikiid="wiki"><tags /></rc>'
    during = [template.format(i=800000 + i) for i in range(20)]
    down = [template.format(i=810000 + i) for i in range(30)]
    for d in during:
        udp.sendto(d.encode(), ("127.0.0.1", bridge.udp_port))
    server.kill9()
    for d in down:
        udp.sendto(d.encode(), ("127.0.0.1", bridge.udp_port))
    await asyncio.sleep(0.3)
    queued = bridge.metric("rcemit_relay_queue_depth", wiki="wiki")
    check(queued >= len(down), f"{name}: while the server is down, {queued:.0f} changes wait in the queue")
    t = time.monotonic()
    server.start()
    ok = await bridge.wait_metric("rcemit_relay_published_total", base + len(during) + len(down), 60, wiki="wiki")
    check(ok, f"{name}: after the restart the bridge republished the queue "
              f"({bridge.metric('rcemit_relay_published_total', wiki='wiki') - base:.0f} of {len(during) + len(down)} "
              f"in {time.monotonic() - t:.1f} s)")
    after = Client(f"after@{servers.HOST}", PASS)
    await after.start(server.port)
    archived = await after.history(f"wiki@{servers.MUC}", "after")
    await after.stop()
    rcids = {m.find(f"{{{NS}}}rc").get("rcid") for m in archived if m.find(f"{{{NS}}}rc") is not None}
    got_down = sum(str(810000 + i) in rcids for i in range(len(down)))
    got_during = sum(str(800000 + i) in rcids for i in range(len(during)))
    check(got_down == len(down), f"{name}: all {got_down}/{len(down)} changes sent while the server was down "
                                 f"are in the room's archive ({got_during}/{len(during)} of those in flight at the kill)")


def make_ca(tmp):
    """A private CA and a leaf certificate for localhost signed by it (a self-signed CA:TRUE certificate used
    as the server's own is refused by rustls/webpki)."""
    d = os.path.join(tmp, "pki")
    os.makedirs(d)
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True, timeout=60)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=rcemit relay test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost")
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,DNS:muc.localhost\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "leaf.pem",
        "-days", "2", "-extfile", "leaf.ext")
    return os.path.join(d, "ca.pem"), os.path.join(d, "leaf.pem"), os.path.join(d, "leaf.key")


async def run_tls(tmp):
    """STARTTLS, required by default, against Prosody with a certificate from a private CA: trusted through
    SSL_CERT_FILE the bridge joins and publishes; with the system store alone it must not connect."""
    t0 = time.monotonic()
    print("\n== prosody with STARTTLS (private CA)", flush=True)
    ca, leaf, key = make_ca(tmp)
    server = servers.Prosody(tmp, cert=(leaf, key))
    server.start()
    server.register("bridge", PASS)
    trusting = Bridge(tmp, server, tls="starttls", env=dict(os.environ, SSL_CERT_FILE=ca), name="bridge-ca")
    untrusting_env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    untrusting = Bridge(tmp, server, tls="starttls", env=untrusting_env, name="bridge-system-store")
    try:
        trusting.start()
        check(await trusting.wait_metric("rcemit_relay_rooms_joined", 2, 30),
              "prosody/TLS: with SSL_CERT_FILE=private CA the bridge negotiates STARTTLS and joins both rooms")
        s = sender()
        for d in golden_datagrams()[:5]:
            s.sendto(d.encode(), ("127.0.0.1", trusting.udp_port))
        check(await trusting.wait_metric("rcemit_relay_published_total", 5, 15, wiki="wiki"),
              "prosody/TLS: 5 changes published over TLS")
        untrusting.start()
        await asyncio.sleep(4)
        joined = untrusting.metric("rcemit_relay_rooms_joined")
        log = untrusting.tail()
        check(joined == 0 and "certificate" in log.lower(),
              f"prosody/TLS: with the system store only, the certificate is refused (rooms joined: {joined:.0f})")
    finally:
        if FAILURES:
            print(f"--- bridge log (tail)\n{trusting.tail()}\n--- prosody log (tail)\n{server.log()}")
        trusting.stop()
        untrusting.stop()
        server.stop()
    print(f"  prosody/TLS: {time.monotonic() - t0:.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="all", choices=["prosody", "ejabberd", "all"])
    ap.add_argument("--wiki", action="store_true", help="also run the end-to-end chain from a throwaway MediaWiki")
    ap.add_argument("--tls", action="store_true", help="also run the STARTTLS test with a private CA (Prosody)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="rcemit-relay-")
    os.chmod(tmp, 0o755)
    wiki = None
    try:
        if args.wiki:
            from wiki_chain import WikiChain
            wiki = WikiChain(tmp, REPO)
            wiki.create()
        names = ["prosody", "ejabberd"] if args.server == "all" else [args.server]
        for n in names:
            sub = os.path.join(tmp, n)
            os.makedirs(sub)
            os.chmod(sub, 0o755)
            server = servers.Prosody(sub) if n == "prosody" else servers.Ejabberd(sub)
            asyncio.run(asyncio.wait_for(run_server(server, sub, wiki), 240))
        if args.tls:
            sub = os.path.join(tmp, "tls")
            os.makedirs(sub)
            asyncio.run(asyncio.wait_for(run_tls(sub), 120))
    finally:
        if wiki:
            wiki.stop()
        clean_up(tmp, args.keep)
    conclude("relay layer", started)


def clean_up(tmp, keep):
    """Keeps the run's directory when asked or when something failed, else removes it."""
    if keep or FAILURES:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def conclude(layer, started):
    print(f"\n{layer}: {len(FAILURES)} failure(s), {time.monotonic() - started:.1f} s")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
