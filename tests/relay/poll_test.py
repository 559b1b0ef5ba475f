#!/usr/bin/python3
"""Poll layer: `rcemit-relay poll` against a throwaway MediaWiki (scripts/mkwiki.sh) whose RcEmit xmlrc feed
sends to one loopback UDP port while the poller, reading the same wiki's api.php, sends to another.

Checks: a first run without a state file (--start now) sends nothing old; after mwdrive's scripted actions
(edits, new pages, moves, deletions, uploads, blocks, rights, imports, revision deletion, ...) one --once run with
small pages (continuation) sends, per rcid, what RcEmit sent, byte for byte except the fields api.php evaluates
at query time (relay/README.md lists them; each difference is shown), and what api.php prints now exactly; rows
with hidden parts are not sent; resume sends exactly the newer changes, none twice; a second run with nothing new
sends nothing; the daemon (--interval) picks up new changes and exits 0 on SIGTERM; a garbled state file is a
clear error. A missing wiki, binary or library fails the test. Every process started here is stopped by its PID.

Usage: /usr/bin/python3 tests/relay/poll_test.py [--keep]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))

from mwdrive import ADMIN_PASS, XMLRC_PROPS, Api, Listener, actions, mw, xmlrc_from_api  # noqa: E402
from wiki_chain import WikiChain  # noqa: E402

BIN = os.path.join(REPO, "target", "debug", "rcemit-relay")
FAILURES = []
RCID = re.compile(rb' rcid="(\d+)"')
HIDDEN = re.compile(rb' (?:actionhidden|userhidden|commenthidden|sha1hidden|suppressed)=""')
# What api.php evaluates when asked, not when the change was made (relay/README.md, "poll").
QUERY_TIME = [("redirect", re.compile(rb' redirect=""')),
              ("tags", re.compile(rb'<tags />|<tags>.*?</tags>'))]


def check(cond, what):
    print(("  ok    " if cond else "  FAIL  ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def by_rcid(datagrams):
    out = {}
    for d in datagrams:
        m = RCID.search(d)
        out.setdefault(int(m.group(1)) if m else 0, []).append(d)
    return out


class Run:
    """mwdrive.actions()'s protocol (see scripts/mwdrive.py), without per-step recording."""

    def __init__(self, chain):
        self.url, self.dir = chain.url, chain.dir
        self.admin, self.anon = Api(self.url), Api(self.url)
        self.ctx = {"use_rc_patrol": False, "use_np_patrol": False}

    def mw(self, script, *args, stdin=None):
        return mw(self.dir, script, *args, stdin=stdin)

    def step(self, name, fn, may_be_empty=False):
        fn()

    def rc_id_of(self, name):
        raise RuntimeError("patrol is off in this wiki")


class Poller:
    def __init__(self, tmp, api, port):
        self.api, self.port = api, port
        self.state = os.path.join(tmp, "poll-state.json")

    def args(self, *extra):
        return [BIN, "poll", "--api", self.api, "--to", f"127.0.0.1:{self.port}", "--state", self.state, *extra]

    def once(self, *extra):
        res = subprocess.run(self.args("--once", *extra), capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, NO_COLOR="1", RUST_LOG="info"))
        done = re.findall(r"poll done.*", res.stderr)
        return res, (dict(re.findall(r"(\w+)=(\S+)", done[-1])) if done else {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    for path in (BIN, "/usr/share/mediawiki/api.php"):
        if not os.path.exists(path):
            sys.exit(f"poll_test: {path} is missing (cargo build -p rcemit-relay; scripts/install-deps.sh)")
    tmp = tempfile.mkdtemp(prefix="rcemit-poll-")
    listener = Listener(["rcemit", "poller"])
    chain = WikiChain(tmp, REPO)
    chain.udp_port = listener.ports["rcemit"]
    daemon = None
    # php -S is not the cli SAPI, where PHP's default ffi.enable=preload allows FFI: let the web requests load
    # RcEmit's library with FFI::cdef too (an extra ini directory after Debian's, for this process tree only).
    ini_dir = os.path.join(tmp, "php.d")
    os.makedirs(ini_dir)
    with open(os.path.join(ini_dir, "ffi.ini"), "w") as f:
        f.write("ffi.enable=true\n")
    os.environ["PHP_INI_SCAN_DIR"] = ":" + ini_dir
    try:
        chain.create()
        with open(os.path.join(chain.dir, "extra.php"), "a") as f:
            f.write("$wgGroupPermissions['sysop']['deleterevision'] = true;\n$wgRCWatchCategoryMembership = true;\n")
        poller = Poller(tmp, chain.url + "/api.php", listener.ports["poller"])

        print("poll: first run without a state file (--start now)", flush=True)
        res, tally = poller.once()
        listener.settle()
        check(res.returncode == 0, f"exit status 0 ({res.returncode})") or print(res.stderr)
        check(tally.get("sent") == "0" and not listener.take("poller"), "nothing old sent")
        with open(poller.state) as f:
            first = json.load(f)
        check(first["rcid"] >= 1, f"state file written at the newest change ({first})")

        print("poll: mwdrive's scripted actions", flush=True)
        t = time.monotonic()
        actions(Run(chain))
        chain.mw("runJobs.php")
        listener.settle(quiet=0.5, limit=15)
        print(f"  actions done in {time.monotonic() - t:.1f} s", flush=True)
        rcemit = by_rcid(listener.take("rcemit"))

        res, tally = poller.once("--page-limit", "7")
        listener.settle()
        check(res.returncode == 0, f"--once exit status 0 ({res.returncode})") or print(res.stderr)
        got = listener.take("poller")
        polled = by_rcid(got)
        check(all(len(v) == 1 for v in polled.values()), f"each rcid sent once ({len(got)} datagrams)")
        check(int(tally.get("pages", 0)) >= 2 and int(tally.get("requests", 0)) == int(tally.get("pages", -1)),
              f"continuation followed: {tally.get('pages')} pages of at most 7, {tally.get('requests')} requests")
        order = [int(RCID.search(d).group(1)) for d in got]
        timestamps = [re.search(rb' timestamp="([^"]+)"', d).group(1) for d in got]
        check(list(zip(timestamps, order)) == sorted(zip(timestamps, order)), "sent in api.php's (timestamp, rcid) order")

        api = Api(chain.url)
        elements = all_rc_elements(api)
        emitted = set(rcemit) - {0}
        # Deleting a page deletes its edits' rows from recentchanges (moving over a redirect deletes the redirect):
        # those changes are gone from api.php before the poll and only RcEmit (which sends at save time) has them.
        gone = emitted - set(elements)
        hidden = {i for i, e in elements.items() if HIDDEN.search(e.encode())}
        wanted = emitted - gone - hidden
        print(f"  RcEmit sent {len(emitted)} changes; api.php no longer lists {len(gone)} (deleted with their page: "
              f"rcid {sorted(gone)}); {len(hidden)} with hidden parts (rcid {sorted(hidden)})")
        check(set(polled) == wanted and set(elements) - {first["rcid"]} <= emitted,
              f"the poller sent every change RcEmit sent that api.php still lists without hidden parts "
              f"({len(wanted)}); missing {sorted(wanted - set(polled))}, extra {sorted(set(polled) - wanted)}")
        check(len(hidden) >= 1 and int(tally.get("hidden", -1)) == len(hidden),
              f"rows with hidden parts counted, not sent ({tally.get('hidden')})")
        if 0 in rcemit:
            print(f"  RcEmit datagrams without an rcid (changes not stored in recentchanges): {len(rcemit[0])}")
        same, explained, unexplained = 0, {}, []
        for i in sorted(polled):
            mine, theirs = polled[i][0], rcemit.get(i, [b""])[0]
            if mine != xmlrc_from_api(elements[i], chain.wiki_id).encode():
                unexplained.append((i, "differs from api.php's element now", mine, b""))
            if mine == theirs:
                same += 1
                continue
            a, b, fields = mine, theirs, []
            for name, pattern in QUERY_TIME:
                a2, b2 = pattern.sub(b"", a), pattern.sub(b"", b)
                if pattern.findall(a) != pattern.findall(b):
                    fields.append(name)
                a, b = a2, b2
            if a == b and fields:
                explained.setdefault("+".join(fields), []).append(i)
            else:
                unexplained.append((i, "differs from RcEmit's", mine, theirs))
        kinds = sorted({m.decode() for d in got for m in re.findall(rb' type="(\w+)"', d[:40])}
                       | {m.decode() for d in got for m in re.findall(rb' logtype="(\w+)"', d)})
        print(f"  {len(polled)} changes of kinds {', '.join(kinds)}")
        for fields, ids in explained.items():
            print(f"  differ only in query-time {fields}: rcid {ids}")
        for i, why, mine, theirs in unexplained[:5]:
            print(f"  rcid {i} {why}:\n    poller {mine[:400]!r}\n    rcemit {theirs[:400]!r}")
        check(not unexplained and same + sum(map(len, explained.values())) == len(polled),
              f"byte-equal to RcEmit's datagram: {same}; differing only in query-time fields: "
              f"{sum(map(len, explained.values()))}; otherwise: {len(unexplained)}")
        check(same >= len(polled) * 3 // 4, f"most are byte-equal ({same} of {len(polled)})")

        print("poll: resume", flush=True)
        res, tally = poller.once()
        listener.settle()
        check(tally.get("sent") == "0" and not listener.take("poller"), "nothing new: nothing sent")
        admin = Api(chain.url)
        admin.login("Admin", ADMIN_PASS)
        for n in range(6):
            admin.call(action="edit", title=f"Resume page {n % 2}", text=f"text {n}", summary=f"resume {n}",
                       token=admin.token())
        listener.settle()
        fresh = by_rcid(listener.take("rcemit"))
        res, tally = poller.once("--page-limit", "4")
        listener.settle()
        again = by_rcid(listener.take("poller"))
        check(sorted(again) == sorted(fresh) and all(len(v) == 1 for v in again.values()),
              f"exactly the {len(fresh)} new changes, once each (got rcids {sorted(again)})")
        check(all(again[i] == fresh[i] for i in again), "and byte-equal to RcEmit's")

        print("poll: daemon and SIGTERM", flush=True)
        daemon = subprocess.Popen(poller.args("--interval", "0.5"), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, env=dict(os.environ, NO_COLOR="1"))
        for n in range(3):
            admin.call(action="edit", title="Daemon page", text=f"daemon {n}", summary=f"daemon {n}",
                       token=admin.token())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and listener.count("poller") < 3:
            time.sleep(0.05)
        listener.settle()
        check(len(listener.take("poller")) == 3, "the daemon sent the 3 new changes")
        daemon.send_signal(signal.SIGTERM)
        try:
            code = daemon.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        err = daemon.stderr.read()
        check(code == 0 and "SIGTERM: stopping" in err, f"SIGTERM: exit status 0 ({code})")
        daemon = None

        with open(poller.state, "w") as f:
            f.write('{"rcid": "x"}')
        res, _ = poller.once()
        check(res.returncode == 1 and "poll-state.json" in res.stderr,
              f"garbled state file: exit status 1 and a clear error ({res.stderr.strip()[-200:]})")
    finally:
        if daemon:
            daemon.kill()
            daemon.wait()
        chain.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"poll_test: {len(FAILURES)} check(s) failed", flush=True)
        sys.exit(1)
    print("poll_test: all checks passed", flush=True)


def all_rc_elements(api):
    """Every <rc> element api.php prints now (XMLRC's rcprop set, read anonymously as the poller does), by rcid;
    the test wiki has fewer than 500 changes, so one page."""
    text = api.raw({"action": "query", "list": "recentchanges", "format": "xml", "rcprop": XMLRC_PROPS,
                    "rclimit": "500"}, post=False).decode("utf-8")
    if "<continue " in text:
        raise RuntimeError("more than 500 changes: all_rc_elements reads one page")
    return {int(RCID.search(m.group(0).encode()).group(1)): m.group(0)
            for m in re.finditer(r"<rc [^>]*?(?:/>|>.*?</rc>)", text, re.S)}


if __name__ == "__main__":
    main()
