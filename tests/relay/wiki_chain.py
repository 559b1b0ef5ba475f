"""The whole chain for the relay tests: a throwaway MediaWiki (scripts/mkwiki.sh) with RcEmit's xmlrc feed
pointed at the bridge's UDP port -> bridge -> room -> slixmpp. Every <rc> the client reads from the room must
equal api.php's for the same rcid (with XMLRC's wikiid appended), compared namespace-aware after parsing, and
every body must be XMLRC's. One wiki serves both servers' runs (the bridge's UDP port stays the same)."""

import os
import subprocess
import time
import xml.etree.ElementTree as ET

import servers
from client import NS
from mwdrive import Api, api_rc_elements, make_wiki, xmlrc_from_api


class WikiChain:
    def __init__(self, tmp, repo):
        self.repo = repo
        self.dir = os.path.join(tmp, "wiki")
        self.udp_port = servers.free_port()
        self.url = None

    @property
    def index(self):
        return self.url + "/index.php"

    def create(self, extra=""):
        """extra: more PHP settings for the wiki."""
        t = time.monotonic()
        lib = os.path.join(self.repo, "target", "release", "librcemit.so")
        if not os.path.exists(lib):
            raise RuntimeError(f"{lib} is missing: run `cargo build --release` (make build) first")
        self.url = make_wiki(self.dir)
        with open(os.path.join(self.dir, "extra.php"), "a") as f:
            f.write(f"""
wfLoadExtension( 'RcEmit', '{self.repo}/php/extension.json' );
$wgRcEmitLibraryPath = '{lib}';
$wgRCFeeds = [];
$wgRCFeeds['relay-xmlrc'] = [
\t'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
\t'uri' => 'udp://127.0.0.1:{self.udp_port}',
\t'format' => 'xmlrc',
];
{extra}""")
        # ffi.enable=1: RcEmit also in the web requests of php -S (edits through api.php), without the
        # production preload recipe that tests/e2e covers.
        subprocess.run([os.path.join(self.dir, "serve")], check=True, timeout=60,
                       env=dict(os.environ, SERVE_PHP_ARGS="-d ffi.enable=1"))
        self.api = Api(self.url)
        self.wiki_id = self.api.call(action="query", meta="siteinfo")["query"]["general"]["wikiid"]
        print(f"  wiki {self.url} (wikiid {self.wiki_id}) ready after {time.monotonic() - t:.1f} s", flush=True)

    def mw(self, script, *args, stdin=None):
        subprocess.run([os.path.join(self.dir, "mw"), script, *args], input=stdin, text=True, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def act(self, tag):
        """Edits, a new page, a minor bot edit and several log actions (protect, move, delete), through the
        CLI as an administrator would. api.php's <rc> of each change is read right after its action: some
        attributes (redirect) describe the page as it is when api.php is asked, not as it was."""
        page = f"Relay {tag} page"
        steps = [
            ("edit", "--user", "Admin", "--summary", f"Create <{tag}> & co", page, "Hello from the relay test.\n"),
            ("edit", "--user", "Admin", "--summary", "Second \"edit\"", page, "Hello again, longer text.\n"),
            ("edit", "--user", "Admin", "--minor", "--bot", "--summary", "minor bot", page, "Short.\n"),
            ("protect", "--user", "Admin", "--reason", "Relay protection", page, None),
            ("moveBatch", "--u", "Admin", "--r", "Relay move", f"{page}|{page} (moved)\n"),
            ("edit", "--user", "Admin", "--summary", "doomed", f"Relay {tag} doomed", "x\n"),
            ("deleteBatch", "--u", "Admin", "--r", "Relay delete", f"Relay {tag} doomed\n"),
        ]
        seen = self.rc_ids()
        elements = {}
        for *args, stdin in steps:
            self.mw(*args, stdin=stdin)
            new = self.rc_ids() - seen
            seen |= new
            elements.update(api_rc_elements(self.api, new))
        return elements

    def rc_ids(self):
        res = self.api.call(action="query", list="recentchanges", rcprop="ids", rclimit="500")
        return {rc["rcid"] for rc in res["query"]["recentchanges"]}

    async def check(self, server, bridge, client, check, compare):
        published = bridge.metric("rcemit_relay_published_total", wiki=self.wiki_id)
        elements = self.act(server.name)
        ok = await bridge.wait_metric("rcemit_relay_published_total", published + len(elements), 30,
                                      wiki=self.wiki_id)
        check(ok, f"{server.name}: wiki chain: the bridge published all {len(elements)} changes of the wiki")
        datagrams = [xmlrc_from_api(elements[i], self.wiki_id) for i in sorted(elements)]
        archived = [m for m in await client.history(f"{self.wiki_id}@{servers.MUC}", f"wiki-{server.name}")
                    if m.find(f"{{{NS}}}rc") is not None]
        kinds = sorted({"/".join(filter(None, (ET.fromstring(d).get("type"), ET.fromstring(d).get("logtype"))))
                        for d in datagrams})
        print(f"  wiki chain: {len(datagrams)} changes of kinds {', '.join(kinds)}")
        compare(server, datagrams, archived, "wiki chain (api.php vs room)", index=self.index)

    def stop(self):
        stop_wiki(self.dir)


def bulk_edits(wiki_dir, count):
    """`count` real edits (tests/relay/bulkEdits.php: MediaWiki's PageUpdater in one process); returns seconds."""
    t = time.monotonic()
    subprocess.run(["php", os.path.join(os.path.dirname(os.path.abspath(__file__)), "bulkEdits.php"),
                    "--count", str(count)], check=True,
                   env=dict(os.environ, MW_CONFIG_FILE=os.path.join(wiki_dir, "LocalSettings.php")),
                   stdout=subprocess.DEVNULL, timeout=3600)
    return time.monotonic() - t


def stop_wiki(wiki_dir):
    """Stops the wiki's php -S, if it was started."""
    stop = os.path.join(wiki_dir, "stop")
    if os.path.exists(stop):
        subprocess.run([stop], timeout=30)
