//! Bridge CPU per change (issue 11's goal: under 10 µs): reading the datagram, and the whole path from the
//! datagram to the stanza bytes (parse, body, `<rc>` element, groupchat message, serialisation as tokio-xmpp
//! writes it). `cargo bench -p rcemit-relay --bench change -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rcemit_relay::{body, datagram, stanza};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::minidom::Element;

/// Datagrams as MediaWiki 1.39 produced them (tests/goldens/cases-1.39.json), the first with core's prefix
/// framing.
const CASES: [(&str, &str); 3] = [
    ("new", "#wiki\t <rc type=\"new\" ns=\"0\" title=\"Golden Page\" pageid=\"3\" revid=\"3\" old_revid=\"0\" rcid=\"3\" user=\"Admin\" new=\"\" oldlen=\"0\" newlen=\"35\" timestamp=\"2026-11-22T00:33:39Z\" comment=\"Created with &quot;quotes&quot;, &#039;apostrophes&#039;, &amp; ampersands, &lt;b&gt;angle&lt;/b&gt;\" wikiid=\"wiki\"><tags /></rc>\n"),
    ("edit", "<rc type=\"edit\" ns=\"0\" title=\"Multi Tag\" pageid=\"8\" revid=\"20\" old_revid=\"19\" rcid=\"20\" user=\"Admin\" minor=\"\" oldlen=\"9\" newlen=\"0\" timestamp=\"2026-11-22T00:33:44Z\" comment=\"Reverted edits by [[Special:Contributions/Editor|Editor]] ([[User talk:Editor|talk]]) to last revision by [[User:Admin|Admin]]\" wikiid=\"wiki\"><tags><tag>mw-blank</tag><tag>mw-rollback</tag></tags></rc>"),
    ("log-protect", "<rc type=\"log\" ns=\"0\" title=\"Golden Moved\" pageid=\"3\" revid=\"29\" old_revid=\"0\" rcid=\"31\" user=\"Admin\" oldlen=\"0\" newlen=\"0\" timestamp=\"2026-11-22T00:33:47Z\" comment=\"vandalism\" logid=\"20\" logtype=\"protect\" logaction=\"protect\" wikiid=\"wiki\"><logparams description=\"&#8206;[edit=sysop] (indefinite)&#8206;[move=sysop] (expires 00:33, 29 November 2026 (UTC))\"><details><_v type=\"edit\" level=\"sysop\" expiry=\"infinite\" /><_v type=\"move\" level=\"sysop\" expiry=\"2026-11-29T00:33:47Z\" /></details></logparams><tags /></rc>"),
];

fn change(c: &mut Criterion) {
    let room: BareJid = "wiki@muc.localhost".parse().expect("literal");
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(1));
    for (name, datagram) in CASES {
        let data = datagram.as_bytes();
        assert!(datagram::parse(data).is_ok(), "{name}");
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| datagram::parse(black_box(data)))
        });
        group.bench_function(format!("datagram-to-stanza-bytes/{name}"), |b| {
            let mut out = Vec::with_capacity(2048);
            b.iter(|| {
                let change = datagram::parse(black_box(data)).expect("valid");
                let text = body::body(&change.rc, "http://127.0.0.1/index.php");
                let rc = stanza::rc_element(&change.rc).expect("valid");
                let message: Element = stanza::message(&room, text, rc).into();
                out.clear();
                message.write_to(&mut out).expect("serialises");
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, change);
criterion_main!(benches);
