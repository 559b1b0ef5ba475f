//! The bridge's datagram parser (relay/src/datagram.rs) on arbitrary bytes, raw and placed inside an `<rc>`
//! element's content and attribute value (so the fuzzer reaches the deep paths at once): it never panics, and
//! whatever it accepts becomes a stanza payload that serialises and reads back as the same element.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rcemit_relay::datagram::{self, Child, Node};
use rcemit_relay::{body, stanza};
use xmpp_parsers::minidom::Element;

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut inside = b"#w\t <rc wikiid=\"w\">".to_vec();
    inside.extend_from_slice(data);
    inside.extend_from_slice(b"</rc>\n");
    check(&inside);
    let mut attr = b"<rc wikiid=\"w\" comment=\"".to_vec();
    attr.extend_from_slice(data);
    attr.extend_from_slice(b"\"><tags /></rc>");
    check(&attr);
});

fn check(data: &[u8]) {
    let Ok(change) = datagram::parse(data) else {
        return;
    };
    assert_eq!(change.rc.name, "rc");
    assert_eq!(change.rc.attr("wikiid"), Some(change.wikiid.as_str()));
    let _ = body::body(&change.rc, "http://127.0.0.1/index.php");
    let rc = stanza::rc_element(&change.rc).expect("accepted names are NCNames");
    let mut out = Vec::new();
    rc.write_to(&mut out)
        .expect("an accepted element serialises");
    let back = Element::from_reader(&out[..]).expect("the serialisation parses");
    same(&back, &change.rc);
}

/// The element read back has the datagram's names, attributes (any order) and children, texts merged.
fn same(element: &Element, node: &Node) {
    assert_eq!(element.name(), node.name);
    assert_eq!(element.ns(), stanza::RC_NS);
    let attrs: Vec<(String, String)> = element
        .attrs()
        .iter()
        .map(|((_, k), v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| k != "xmlns")
        .collect();
    assert_eq!(
        attrs.len(),
        node.attrs.len(),
        "{attrs:?} vs {:?}",
        node.attrs
    );
    for (k, v) in &node.attrs {
        assert_eq!(element.attr(k.as_str()), Some(v.as_str()), "attribute {k}");
    }
    let children: Vec<&Element> = element.children().collect();
    let elements: Vec<&Node> = node
        .children
        .iter()
        .filter_map(|c| {
            if let Child::Element(n) = c {
                Some(n)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(children.len(), elements.len());
    for (e, n) in children.iter().zip(elements) {
        same(e, n);
    }
    let text: String = node
        .children
        .iter()
        .filter_map(|c| {
            if let Child::Text(t) = c {
                Some(t.as_str())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(element.text(), text);
}
