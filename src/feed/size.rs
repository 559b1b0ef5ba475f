//! The datagram size policy, the one deliberate difference from core (README, "Formats"): never cut bytes
//! out of a rendered datagram. When the framed datagram is over the feed's limit, the free-text fields (edit
//! summary, parsed summary, log action comment) are shortened on character boundaries, marked with `...`, and
//! the event is rendered again; the longest length that fits is found by binary search (at most ~23 renders
//! even for a 4 MiB summary). If the event does
//! not fit with those fields reduced to `...`, it is refused.

use crate::event::Event;

/// Marks a shortened field, as MediaWiki's own `...` ellipsis does.
const ELLIPSIS: &str = "...";

/// Result of fitting one event into one feed's datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    /// Fits as rendered.
    Whole(Vec<u8>),
    /// Fits after shortening the free-text fields.
    Shortened(Vec<u8>),
    /// The format has nothing to send for this change.
    Nothing,
    /// Too large even with the free-text fields shortened to nothing.
    Oversize,
}

/// Fits an event into `max` bytes. `full` is the framed datagram of the unmodified event (computed by the
/// caller, who may share the render between feeds); `render` renders and frames a modified event.
pub fn fit(
    event: &Event,
    full: Option<Vec<u8>>,
    max: usize,
    render: impl Fn(&Event) -> Option<Vec<u8>>,
) -> Fit {
    let Some(full) = full else {
        return Fit::Nothing;
    };
    if full.len() <= max {
        return Fit::Whole(full);
    }
    let longest = free_text_chars(event);
    if longest == 0 {
        return Fit::Oversize;
    }
    // Invariant: keeping `lo` characters fits (once `best` is set), keeping `hi` does not.
    let (mut lo, mut hi) = (0usize, longest);
    let mut best = match render(&shortened(event, 0)) {
        Some(bytes) if bytes.len() <= max => bytes,
        _ => return Fit::Oversize,
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match render(&shortened(event, mid)) {
            Some(bytes) if bytes.len() <= max => {
                lo = mid;
                best = bytes;
            }
            _ => hi = mid,
        }
    }
    Fit::Shortened(best)
}

fn free_text_chars(event: &Event) -> usize {
    let mut longest = event.comment.chars().count();
    if let Some(parsed) = &event.parsed_comment {
        longest = longest.max(parsed.chars().count());
    }
    if let Some(log) = &event.log {
        longest = longest.max(log.action_comment.chars().count());
    }
    longest
}

/// A copy of `event` whose free-text fields keep at most `keep` characters each (plus the ellipsis).
pub fn shortened(event: &Event, keep: usize) -> Event {
    let mut event = event.clone();
    cut(&mut event.comment, keep, false);
    if let Some(parsed) = &mut event.parsed_comment {
        cut(parsed, keep, true);
    }
    if let Some(log) = &mut event.log {
        cut(&mut log.action_comment, keep, false);
    }
    event
}

/// Cuts `text` to `keep` characters and appends the ellipsis, unless it is already short enough. For HTML
/// (the parsed summary) the cut also backs off so no tag or character reference is left open.
fn cut(text: &mut String, keep: usize, html: bool) {
    let Some((mut end, _)) = text.char_indices().nth(keep) else {
        return;
    };
    if html {
        let head = &text[..end];
        if let Some(lt) = head.rfind('<') {
            if head[lt..].find('>').is_none() {
                end = lt;
            }
        }
        let head = &text[..end];
        if let Some(amp) = head.rfind('&') {
            if head[amp..].find(';').is_none() {
                end = amp;
            }
        }
    }
    text.truncate(end);
    text.push_str(ELLIPSIS);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ChangeType, LogInfo, Patrolled};

    fn event(comment: &str) -> Event {
        Event {
            rc_id: 1,
            change_type: ChangeType::Edit,
            namespace: 0,
            title: "T".into(),
            page_id: 1,
            this_oldid: 2,
            last_oldid: 1,
            user: "U".into(),
            user_id: 1,
            bot: false,
            minor: false,
            redirect: false,
            patrolled: Patrolled::Unpatrolled,
            old_len: Some(1),
            new_len: Some(2),
            timestamp: 0,
            comment: comment.into(),
            parsed_comment: None,
            sha1: None,
            notify_url: None,
            title_url: None,
            part_failed: false,
            log: None,
            tags: vec![],
        }
    }

    // A stand-in renderer: the comment between fixed text, so sizes are easy to reason about.
    fn render(e: &Event) -> Option<Vec<u8>> {
        let mut out = b"<c>".to_vec();
        out.extend_from_slice(e.comment.as_bytes());
        if let Some(log) = &e.log {
            out.extend_from_slice(log.action_comment.as_bytes());
        }
        out.extend_from_slice(b"</c>");
        Some(out)
    }

    #[test]
    fn small_events_pass_unchanged() {
        let e = event("hello");
        assert_eq!(
            fit(&e, render(&e), 100, render),
            Fit::Whole(b"<c>hello</c>".to_vec())
        );
    }

    #[test]
    fn shortens_on_character_boundaries_to_the_longest_fit() {
        let e = event(&"äöü€".repeat(50));
        for max in 10..60 {
            let Fit::Shortened(bytes) = fit(&e, render(&e), max, render) else {
                panic!("max {max}: expected a shortened datagram");
            };
            let text = String::from_utf8(bytes.clone()).expect("valid UTF-8");
            assert!(bytes.len() <= max, "{} > {max}", bytes.len());
            assert!(text.ends_with("...</c>"));
            // One more character would not have fitted.
            let kept = text.chars().count() - "<c>...</c>".len();
            let longer = render(&shortened(&e, kept + 1)).unwrap();
            assert!(longer.len() > max);
        }
    }

    #[test]
    fn refuses_when_even_an_empty_comment_is_too_large() {
        let e = event("a long enough comment");
        assert_eq!(fit(&e, render(&e), 9, render), Fit::Oversize);
        let e = event("");
        assert_eq!(fit(&e, render(&e), 5, render), Fit::Oversize);
    }

    #[test]
    fn nothing_stays_nothing() {
        let e = event("x");
        assert_eq!(fit(&e, None, 5, |_| None), Fit::Nothing);
    }

    #[test]
    fn log_action_comments_are_shortened_too() {
        let mut e = event("c");
        e.change_type = ChangeType::Log;
        e.log = Some(LogInfo {
            id: 1,
            log_type: "block".into(),
            action: "block".into(),
            params_raw: None,
            params_api: None,
            action_comment: "x".repeat(1000),
        });
        let Fit::Shortened(bytes) = fit(&e, render(&e), 100, render) else {
            panic!("expected shortened");
        };
        assert_eq!(bytes.len(), 100);
    }

    #[test]
    fn html_cuts_never_leave_a_tag_or_entity_open() {
        let mut s = "a <a href=\"/wiki/X\">X</a> &amp; b".to_string();
        cut(&mut s, 8, true);
        assert_eq!(s, "a ...");
        let mut s = "a &amp; b".to_string();
        cut(&mut s, 4, true);
        assert_eq!(s, "a ...");
        let mut s = "short".to_string();
        cut(&mut s, 5, true);
        assert_eq!(s, "short");
    }
}
