//! The `irc` format: core's `IRCColourfulRCFeedFormatter::getLine()` (MediaWiki 1.39), byte for byte, without
//! framing (the feed adds the prefix). Categorisation changes have no IRC line.
//!
//! Like core, only character references, `\n` (to a space) and `\r` (removed) are cleaned from titles, user
//! names and comments; other control characters pass through unchanged, as core sends them. One deliberate
//! difference: core does not clean the configured parts of the line (server, script path, interwiki prefix,
//! Special namespace name) nor the log action, so a line break there would split core's line in two; here
//! the same cleaning is applied to the whole line, which changes nothing unless such a value has a line
//! break. The result is always exactly one line.

use std::borrow::Cow;
use std::io::Write;

use super::{char_refs, urls};
use crate::context::FeedContext;
use crate::event::{ChangeType, Event, Patrolled};

/// `IRCColourfulRCFeedFormatter::cleanupForIRC()`: decode character references, `\n` to a space, drop `\r`.
fn cleanup(text: &str) -> Cow<'_, str> {
    let decoded = char_refs::decode(text);
    if !decoded.bytes().any(|b| b == b'\n' || b == b'\r') {
        return decoded;
    }
    Cow::Owned(
        decoded
            .chars()
            .filter(|&c| c != '\r')
            .map(|c| if c == '\n' { ' ' } else { c })
            .collect(),
    )
}

fn push(line: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        line.extend_from_slice(part.as_bytes());
    }
}

pub fn format(event: &Event, ctx: &FeedContext) -> Option<Vec<u8>> {
    let log = match event.change_type {
        ChangeType::Categorize => return None,
        ChangeType::Log => event.log.as_ref(),
        ChangeType::Edit | ChangeType::New => None,
    };
    let is_log = event.change_type == ChangeType::Log;
    let is_new = event.change_type == ChangeType::New;

    // Log rows are titled Special:Log/<type> (getPrefixedText() shows underscores as spaces).
    let log_type = log.map_or("", |l| l.log_type.as_str());
    let log_title;
    let title = if is_log {
        log_title = format!("{}:Log/{}", ctx.special_namespace, log_type).replace('_', " ");
        cleanup(&log_title)
    } else {
        cleanup(&event.title)
    };
    let user = cleanup(&event.user);

    let patrolling = ctx.use_rc_patrol || (is_new && ctx.use_np_patrol);
    let (flag, comment): (Cow<str>, Cow<str>) = if is_log {
        let action_comment = log.map_or("", |l| l.action_comment.as_str());
        let target = &event.title;
        let linked = action_comment.replace(
            &format!("[[{target}]]"),
            &format!("[[\x0302{target}\x0310]]"),
        );
        let comment = Cow::Owned(cleanup(&linked).into_owned());
        (
            Cow::Borrowed(log.map_or("", |l| l.action.as_str())),
            comment,
        )
    } else {
        let mut flag = String::with_capacity(4);
        if event.patrolled == Patrolled::Unpatrolled && patrolling {
            flag.push('!');
        }
        for (on, letter) in [(is_new, 'N'), (event.minor, 'M'), (event.bot, 'B')] {
            if on {
                flag.push(letter);
            }
        }
        (Cow::Owned(flag), cleanup(&event.comment))
    };

    let mut line = Vec::with_capacity(128 + title.len() + user.len() + comment.len());
    match &ctx.irc_interwiki_prefix {
        Some(prefix) => {
            push(
                &mut line,
                &["\x0314[[\x0303", prefix, ":\x0307", &title, "\x0314]]"],
            );
        }
        None => {
            push(&mut line, &["\x0314[[\x0307", &title, "\x0314]]"]);
        }
    }
    push(&mut line, &["\x034 ", &flag, "\x0310 \x0302"]);
    if let Some(url) = urls::notify_url(event, ctx) {
        line.extend_from_slice(url.as_bytes());
    }
    push(
        &mut line,
        &["\x03 \x035*\x03 \x0303", &user, "\x03 \x035*\x03 "],
    );
    if let (Some(old), Some(new)) = (event.old_len, event.new_len) {
        // i128: no overflow whatever the lengths (PHP would switch to floats there).
        let diff = i128::from(new) - i128::from(old);
        let _ = if diff < -500 {
            write!(line, "(\x02{diff}\x02)")
        } else if diff >= 0 {
            write!(line, "(+{diff})")
        } else {
            write!(line, "({diff})")
        };
    }
    push(&mut line, &[" \x0310", &comment, "\x03"]);
    if line.contains(&b'\n') || line.contains(&b'\r') {
        line.retain(|&b| b != b'\r');
        for b in &mut line {
            if *b == b'\n' {
                *b = b' ';
            }
        }
    }
    line.push(b'\n');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::super::php_oracle;
    use super::*;
    use crate::event::LogInfo;
    use crate::testing::hostile;

    fn context() -> FeedContext {
        FeedContext {
            canonical_server: "https://wiki.example".into(),
            script: "/w/index.php".into(),
            special_namespace: "Special".into(),
            ..FeedContext::default()
        }
    }

    fn edit(title: &str, user: &str, comment: &str) -> Event {
        Event {
            rc_id: 7,
            change_type: ChangeType::Edit,
            namespace: 0,
            title: title.into(),
            page_id: 2,
            this_oldid: 5,
            last_oldid: 4,
            user: user.into(),
            user_id: 1,
            bot: false,
            minor: true,
            redirect: false,
            patrolled: Patrolled::Unpatrolled,
            old_len: Some(10),
            new_len: Some(1000),
            timestamp: 1_795_302_333,
            comment: comment.into(),
            parsed_comment: None,
            sha1: None,
            notify_url: None,
            title_url: None,
            part_failed: false,
            log: None,
            tags: Vec::new(),
        }
    }

    #[test]
    fn cleanup_matches_mediawiki() {
        let inputs = hostile::strings();
        let expected = php_oracle::cleanup_for_irc(&inputs);
        for (input, want) in inputs.iter().zip(expected) {
            assert_eq!(cleanup(input), want, "{input:?}");
        }
    }

    fn assert_one_line(line: &[u8]) {
        let (last, body) = line.split_last().expect("non-empty");
        assert_eq!(*last, b'\n');
        assert!(
            !body.contains(&b'\n') && !body.contains(&b'\r'),
            "{:?}",
            String::from_utf8_lossy(line)
        );
        assert!(std::str::from_utf8(line).is_ok());
    }

    #[test]
    fn every_line_is_exactly_one_line() {
        let mut ctx = context();
        for text in &hostile::strings() {
            for change_type in [ChangeType::Edit, ChangeType::New, ChangeType::Log] {
                let mut event = edit(text, text, text);
                event.change_type = change_type;
                if change_type == ChangeType::Log {
                    event.log = Some(LogInfo {
                        id: 1,
                        log_type: format!("t{text}"),
                        action: format!("a{text}"),
                        params_raw: None,
                        params_api: None,
                        action_comment: format!("moved [[{text}]] to [[B]]: {text}"),
                    });
                }
                ctx.irc_interwiki_prefix = Some(text.to_string());
                ctx.special_namespace = format!("Sp{text}");
                ctx.canonical_server = format!("https://{text}");
                assert_one_line(&format(&event, &ctx).expect("a line"));
            }
        }
        let huge = "&#10;x\n".repeat(150_000);
        assert_one_line(&format(&edit("T", "U", &huge), &context()).expect("a line"));
    }

    #[test]
    fn categorize_has_no_line() {
        let mut event = edit("Category:X", "U", "");
        event.change_type = ChangeType::Categorize;
        assert_eq!(format(&event, &context()), None);
    }

    #[test]
    fn size_difference_cannot_overflow() {
        let mut event = edit("T", "U", "c");
        event.old_len = Some(i64::MAX);
        event.new_len = Some(i64::MIN);
        assert_one_line(&format(&event, &context()).expect("a line"));
    }
}
