//! XMLRC's human-readable `<body>`: `"[[%s]] %s %s * %s * %s %s" % (target, flags, url, user, sizediff,
//! comment)` (FORMATS.md, "XMPP: what XMLRC's udp2xmpp sent").

use crate::datagram::Node;

/// The body for one change; `index_url` is the wiki's `index.php` URL (links are built on it).
pub fn body(rc: &Node, index_url: &str) -> String {
    let attr = |name: &str| rc.attr(name).unwrap_or("");
    let (target, flags, url) = if attr("type") == "log" {
        (
            format!("Special:Log/{}", attr("logtype")),
            attr("logaction").to_owned(),
            String::new(),
        )
    } else {
        let mut flags = String::new();
        for (name, flag) in [("new", 'N'), ("minor", 'M'), ("bot", 'B')] {
            if rc.attr(name).is_some() {
                flags.push(flag);
            }
        }
        let url = if attr("type") == "new" {
            format!("{index_url}?oldid={}&rcid={}", attr("revid"), attr("rcid"))
        } else {
            format!(
                "{index_url}?diff={}&oldid={}&rcid={}",
                attr("revid"),
                attr("old_revid"),
                attr("rcid")
            )
        };
        (attr("title").to_owned(), flags, url)
    };
    let len = |name: &str| attr(name).parse::<i64>().unwrap_or(0);
    let sizediff = len("newlen").saturating_sub(len("oldlen"));
    format!(
        "[[{target}]] {flags} {url} * {} * ({sizediff:+}) {}",
        attr("user"),
        attr("comment")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagram::parse;

    const BASE: &str = "http://127.0.0.1:8080/index.php";

    fn body_of(xml: &str) -> String {
        body(&parse(xml.as_bytes()).unwrap().rc, BASE)
    }

    #[test]
    fn new_page_links_the_revision() {
        let xml = r#"<rc type="new" ns="0" title="Golden Page" pageid="3" revid="3" old_revid="0" rcid="3" user="Admin" new="" oldlen="0" newlen="35" comment="made" wikiid="wiki"><tags /></rc>"#;
        assert_eq!(
            body_of(xml),
            format!("[[Golden Page]] N {BASE}?oldid=3&rcid=3 * Admin * (+35) made")
        );
    }

    #[test]
    fn edit_links_the_diff_with_minor_and_bot_flags() {
        let xml = r#"<rc type="edit" title="P" revid="9" old_revid="7" rcid="8" user="Bot" bot="" minor="" oldlen="14" newlen="4" comment="c &amp; d" wikiid="w"/>"#;
        assert_eq!(
            body_of(xml),
            format!("[[P]] MB {BASE}?diff=9&oldid=7&rcid=8 * Bot * (-10) c & d")
        );
    }

    #[test]
    fn log_rows_name_the_log_and_action_without_a_link() {
        let xml = r#"<rc type="log" ns="0" title="Golden Page" rcid="27" user="Admin" oldlen="0" newlen="0" comment="moved" logid="16" logtype="move" logaction="move" wikiid="wiki"><logparams target_ns="0" target_title="Golden Moved" /><tags /></rc>"#;
        assert_eq!(
            body_of(xml),
            "[[Special:Log/move]] move  * Admin * (+0) moved"
        );
    }
}
