//! api.php's XML answers read with quick-xml by byte position: each `<rc>` element is kept exactly as api.php
//! printed it, because XMLRC's datagram is that text with `wikiid` appended (FORMATS.md).

use crate::api::ApiError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One page of `list=recentchanges`.
#[derive(Debug)]
pub struct RcPage {
    pub changes: Vec<RawRc>,
    /// The `rccontinue` value for the next page; None on the last page.
    pub cont: Option<String>,
}

/// One `<rc>` element of api.php's answer.
#[derive(Debug, Clone)]
pub struct RawRc {
    pub rcid: u64,
    /// As api.php printed it, e.g. 2026-11-21T23:05:33Z.
    pub timestamp: String,
    /// The `<rc ...>...</rc>` or `<rc .../>` element exactly as api.php printed it.
    pub xml: String,
    /// api.php marked a part hidden (revision deletion) or the row suppressed.
    pub hidden: bool,
}

/// The flags MediaWiki 1.39's ApiQueryRecentChanges prints for rc_deleted bits (`actionhidden`, `userhidden`,
/// `commenthidden`, `sha1hidden`) and for suppression (`suppressed`), as empty attributes in format=xml.
const HIDDEN_FLAGS: [&[u8]; 5] = [
    b"actionhidden",
    b"userhidden",
    b"commenthidden",
    b"sha1hidden",
    b"suppressed",
];

/// XMLRC's datagram from an api.php element: `wikiid` inserted as the last attribute of the start tag.
/// api.php escapes `>` in attribute values, so the first `>` ends the start tag.
pub fn xmlrc_datagram(rc_xml: &str, wikiid: &str) -> String {
    let mut end = rc_xml.find('>').unwrap_or(rc_xml.len());
    if rc_xml[..end].ends_with('/') {
        end -= 1;
        if rc_xml[..end].ends_with(' ') {
            end -= 1;
        }
    }
    let escaped = wikiid
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    format!("{} wikiid=\"{escaped}\"{}", &rc_xml[..end], &rc_xml[end..])
}

/// A `list=recentchanges` answer in format=xml.
pub fn parse_rc_page(text: &str) -> Result<RcPage, ApiError> {
    let mut page = RcPage {
        changes: Vec::new(),
        cont: None,
    };
    walk(text, |reader, before, e, empty| {
        match e.local_name().as_ref() {
            b"rc" => {
                let (rcid, timestamp, hidden) = rc_attributes(e)?;
                let end = if empty {
                    pos(reader)
                } else {
                    reader.read_to_end(e.name()).map_err(parse_error)?;
                    pos(reader)
                };
                let xml = text[before..end].to_string();
                page.changes.push(RawRc {
                    rcid,
                    timestamp,
                    xml,
                    hidden,
                });
            }
            b"continue" => page.cont = attribute(e, b"rccontinue")?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(page)
}

/// `general.wikiid` of a `meta=siteinfo&siprop=general` answer in format=xml.
pub fn parse_wikiid(text: &str) -> Result<String, ApiError> {
    let mut found = None;
    walk(text, |_, _, e, _| {
        if e.local_name().as_ref() == b"general" {
            found = attribute(e, b"wikiid")?;
        }
        Ok(())
    })?;
    found.ok_or_else(|| ApiError::Parse("siteinfo has no general wikiid".into()))
}

/// Calls `visit(reader, start offset, element, is_empty)` for every element below `<api>`; turns `<error>` into
/// ApiError::Api (ApiError::Maxlag for code maxlag) and anything but an `<api>` document into ApiError::Parse.
fn walk<F>(text: &str, mut visit: F) -> Result<(), ApiError>
where
    F: FnMut(&mut Reader<&[u8]>, usize, &BytesStart, bool) -> Result<(), ApiError>,
{
    let mut reader = Reader::from_str(text);
    let mut seen_api = false;
    loop {
        let before = pos(&reader);
        let (e, empty) = match reader.read_event().map_err(parse_error)? {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Eof => break,
            _ => continue,
        };
        if !seen_api {
            if e.local_name().as_ref() != b"api" {
                return Err(ApiError::Parse(format!(
                    "not an api.php XML answer: {}",
                    excerpt(text)
                )));
            }
            seen_api = true;
            continue;
        }
        if e.local_name().as_ref() == b"error" {
            let code = attribute(&e, b"code")?.unwrap_or_default();
            let info = attribute(&e, b"info")?.unwrap_or_default();
            return Err(if code == "maxlag" {
                ApiError::Maxlag(info)
            } else {
                ApiError::Api { code, info }
            });
        }
        visit(&mut reader, before, &e, empty)?;
    }
    if seen_api {
        Ok(())
    } else {
        Err(ApiError::Parse(format!(
            "not an api.php XML answer: {}",
            excerpt(text)
        )))
    }
}

fn rc_attributes(e: &BytesStart) -> Result<(u64, String, bool), ApiError> {
    let (mut rcid, mut timestamp, mut hidden) = (None, None, false);
    for attr in e.attributes() {
        let attr = attr.map_err(|err| ApiError::Parse(format!("<rc> attribute: {err}")))?;
        match attr.key.as_ref() {
            b"rcid" => rcid = Some(value(&attr)?),
            b"timestamp" => timestamp = Some(value(&attr)?),
            key if HIDDEN_FLAGS.contains(&key) => hidden = true,
            _ => {}
        }
    }
    let rcid = rcid.ok_or_else(|| ApiError::Parse("<rc> without rcid".into()))?;
    let rcid = rcid
        .parse()
        .map_err(|_| ApiError::Parse(format!("<rc> rcid {rcid:?} is not a number")))?;
    let timestamp = timestamp
        .ok_or_else(|| ApiError::Parse(format!("<rc rcid=\"{rcid}\"> without timestamp")))?;
    Ok((rcid, timestamp, hidden))
}

fn attribute(e: &BytesStart, name: &[u8]) -> Result<Option<String>, ApiError> {
    match e.try_get_attribute(name) {
        Ok(Some(attr)) => value(&attr).map(Some),
        Ok(None) => Ok(None),
        Err(err) => Err(ApiError::Parse(format!("attribute: {err}"))),
    }
}

fn value(attr: &quick_xml::events::attributes::Attribute) -> Result<String, ApiError> {
    attr.unescape_value()
        .map(|v| v.into_owned())
        .map_err(|err| ApiError::Parse(format!("attribute value: {err}")))
}

fn pos(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

fn parse_error(err: quick_xml::Error) -> ApiError {
    ApiError::Parse(format!("api.php XML: {err}"))
}

/// The start of an unexpected answer (e.g. an HTML error page), for the error message.
fn excerpt(text: &str) -> String {
    text.chars()
        .take(120)
        .collect::<String>()
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured with curl from a throwaway MediaWiki 1.39.17 (Debian bookworm, scripts/mkwiki.sh) api.php, read
    // anonymously: rcdir=newer, XMLRC's rcprop set, rclimit=3, after a revision deletion hid rcid 4's summary;
    // then the next (last) page through its rccontinue.
    const PAGE: &str = include_str!("../tests/fixtures/rc_page_1.39.xml");
    const LAST_PAGE: &str = include_str!("../tests/fixtures/rc_last_page_1.39.xml");
    // The same api.php with maxlag=-2 (SQLite reports lag -1, so always lagged), and a bad rcstart.
    const MAXLAG: &str = include_str!("../tests/fixtures/maxlag_1.39.xml");
    const BAD_START: &str = include_str!("../tests/fixtures/badtimestamp_1.39.xml");
    const SITEINFO: &str = include_str!("../tests/fixtures/siteinfo_1.39.xml");

    #[test]
    fn page_keeps_each_element_exactly() {
        let page = parse_rc_page(PAGE).unwrap();
        assert_eq!(page.changes.len(), 3);
        for rc in &page.changes {
            assert!(PAGE.contains(&rc.xml));
            assert!(
                rc.xml.starts_with("<rc ") && (rc.xml.ends_with("</rc>") || rc.xml.ends_with("/>"))
            );
            assert!(rc.xml.contains(&format!(" rcid=\"{}\"", rc.rcid)));
            assert!(rc.xml.contains(&format!(" timestamp=\"{}\"", rc.timestamp)));
        }
        assert!(page
            .changes
            .windows(2)
            .all(|w| (&w[0].timestamp, w[0].rcid) < (&w[1].timestamp, w[1].rcid)));
        let cont = page.cont.expect("a continuation");
        let last = page.changes.last().unwrap();
        assert_eq!(
            cont.split('|').nth(1),
            Some((last.rcid + 1).to_string()).as_deref()
        );
    }

    #[test]
    fn last_page_has_no_continuation_and_keeps_children() {
        let page = parse_rc_page(LAST_PAGE).unwrap();
        assert_eq!(page.cont, None);
        assert_eq!(
            page.changes.iter().map(|rc| rc.rcid).collect::<Vec<_>>(),
            [5, 6]
        );
        assert!(page.changes[1]
            .xml
            .ends_with("<new bitmask=\"2\" comment=\"\" /></logparams><tags /></rc>"));
        assert!(page.changes.iter().all(|rc| !rc.hidden));
    }

    #[test]
    fn hidden_parts_are_flagged() {
        let page = parse_rc_page(PAGE).unwrap();
        let hidden: Vec<_> = page.changes.iter().filter(|rc| rc.hidden).collect();
        assert_eq!(hidden.len(), 1);
        assert!(hidden[0].xml.contains("commenthidden=\"\""));
        assert!(!hidden[0].xml.contains(" comment="));
    }

    #[test]
    fn errors_become_api_errors() {
        assert!(
            matches!(parse_rc_page(MAXLAG), Err(ApiError::Maxlag(info)) if info.contains("lag"))
        );
        match parse_rc_page(BAD_START) {
            Err(ApiError::Api { code, info }) => {
                assert_eq!(code, "badtimestamp");
                assert!(info.contains("rcstart"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_rc_page("<html><body>502</body></html>"),
            Err(ApiError::Parse(_))
        ));
        assert!(matches!(parse_rc_page(""), Err(ApiError::Parse(_))));
        assert!(matches!(
            parse_rc_page("<api><query><recentchanges><rc type=\"edit\"/>"),
            Err(ApiError::Parse(_))
        ));
    }

    #[test]
    fn wikiid_from_siteinfo() {
        assert_eq!(parse_wikiid(SITEINFO).unwrap(), "wiki");
        assert!(matches!(
            parse_wikiid("<?xml version=\"1.0\"?><api><query/></api>"),
            Err(ApiError::Parse(_))
        ));
    }

    #[test]
    fn datagram_appends_wikiid_last() {
        assert_eq!(
            xmlrc_datagram("<rc type=\"edit\" rcid=\"1\" />", "w"),
            "<rc type=\"edit\" rcid=\"1\" wikiid=\"w\" />"
        );
        assert_eq!(
            xmlrc_datagram("<rc rcid=\"1\"/>", "a&\"<"),
            "<rc rcid=\"1\" wikiid=\"a&amp;&quot;&lt;\"/>"
        );
        assert_eq!(
            xmlrc_datagram("<rc rcid=\"2\"><tags><tag>x</tag></tags></rc>", "w"),
            "<rc rcid=\"2\" wikiid=\"w\"><tags><tag>x</tag></tags></rc>"
        );
    }
}
