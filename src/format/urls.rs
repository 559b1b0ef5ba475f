//! The two URLs core's formats carry: the change's URL (the IRC line's, `notify_url` of core's packets since
//! MediaWiki 1.41) and the page's canonical URL (`title_url`, since 1.41).
//!
//! Both are computed here from the feed's context, exactly as MediaWiki computes them when no hook handler
//! changes them. When one may (an `IRCLineURL`, `GetLocalURL*` or `GetCanonicalURL` handler is registered),
//! the PHP side puts MediaWiki's own value into the payload and that value is used instead.

use std::borrow::Cow;
use std::fmt::Write;

use crate::context::FeedContext;
use crate::event::{ChangeType, Event};

/// `RecentChange::getNotifyUrl()`: `$wgCanonicalServer$wgScript` plus `?oldid=` (page creations) or
/// `?diff=&oldid=`, plus `&rcid=` where the change can be patrolled; `None` for log rows.
pub fn notify_url<'a>(event: &'a Event, ctx: &FeedContext) -> Option<Cow<'a, str>> {
    if event.change_type == ChangeType::Log {
        return None;
    }
    if let Some(url) = &event.notify_url {
        return Some(Cow::Borrowed(url));
    }
    let is_new = event.change_type == ChangeType::New;
    let mut url = String::with_capacity(ctx.canonical_server.len() + ctx.script.len() + 48);
    url.push_str(&ctx.canonical_server);
    url.push_str(&ctx.script);
    let _ = if is_new {
        write!(url, "?oldid={}", event.this_oldid)
    } else {
        write!(url, "?diff={}&oldid={}", event.this_oldid, event.last_oldid)
    };
    if ctx.use_rc_patrol || (is_new && ctx.use_np_patrol) {
        let _ = write!(url, "&rcid={}", event.rc_id);
    }
    Some(Cow::Owned(url))
}

/// `Title::getCanonicalURL()` of the change's page: `$wgArticlePath` with `$1` replaced by the
/// `wfUrlencode`d prefixed DB key (or `/` for the main page with `$wgMainPageIsDomainRoot`), expanded against
/// `$wgCanonicalServer` as `UrlUtils::expand( ..., PROTO_CANONICAL )` does.
pub fn title_url<'a>(event: &'a Event, ctx: &FeedContext) -> Cow<'a, str> {
    if let Some(url) = &event.title_url {
        return Cow::Borrowed(url);
    }
    let local = if ctx.main_page_at_root.as_deref() == Some(event.title.as_str()) {
        Cow::Borrowed("/")
    } else {
        let db_key = event.title.replace(' ', "_");
        Cow::Owned(ctx.article_path.replace("$1", &wf_urlencode(&db_key)))
    };
    Cow::Owned(expand_canonical(&local, &ctx.canonical_server))
}

/// `UrlUtils::expand( $url, PROTO_CANONICAL )` for the forms an article path takes: server-relative
/// (`/wiki/$1`), protocol-relative (`//host/wiki/$1`) or absolute.
fn expand_canonical(url: &str, canonical_server: &str) -> String {
    if let Some(rest) = url.strip_prefix("//") {
        let scheme = canonical_server.split_once("//").map_or("", |(s, _)| s);
        format!("{scheme}//{rest}")
    } else if url.starts_with('/') {
        format!("{canonical_server}{url}")
    } else {
        url.to_owned()
    }
}

/// `wfUrlencode()`: PHP's `urlencode()` (all but `A-Za-z0-9_.-` percent-encoded, space as `+`), then
/// `; @ $ ! * ( ) , / ~ :` left readable.
fn wf_urlencode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len() + 8);
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => out.push(b as char),
            b';' | b'@' | b'$' | b'!' | b'*' | b'(' | b')' | b',' | b'/' | b'~' | b':' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::samples;

    #[test]
    fn wf_urlencode_keeps_what_mediawiki_keeps() {
        // php -r 'require "/usr/share/mediawiki/includes/GlobalFunctions.php"; echo wfUrlencode(...);'
        assert_eq!(
            wf_urlencode("Talk:A_&_B/C?d=e#f;g@h$i!j*k(l)m,n~o%p+q"),
            "Talk:A_%26_B/C%3Fd%3De%23f;g@h$i!j*k(l)m,n~o%25p%2Bq"
        );
        assert_eq!(wf_urlencode("Ünïcødé"), "%C3%9Cn%C3%AFc%C3%B8d%C3%A9");
    }

    #[test]
    fn title_url_expands_the_article_path() {
        let mut ctx = samples::context();
        let mut event = samples::edit();
        event.title = "Talk:Some page".into();
        ctx.canonical_server = "https://wiki.example".into();
        ctx.article_path = "/wiki/$1".into();
        assert_eq!(
            title_url(&event, &ctx),
            "https://wiki.example/wiki/Talk:Some_page"
        );
        ctx.article_path = "//cdn.example/w/index.php?title=$1".into();
        assert_eq!(
            title_url(&event, &ctx),
            "https://cdn.example/w/index.php?title=Talk:Some_page"
        );
        ctx.main_page_at_root = Some("Talk:Some page".into());
        assert_eq!(title_url(&event, &ctx), "https://wiki.example/");
        event.title_url = Some("https://hooked.example/x".into());
        assert_eq!(title_url(&event, &ctx), "https://hooked.example/x");
    }

    #[test]
    fn notify_url_prefers_the_payload_and_skips_logs() {
        let ctx = samples::context();
        let mut event = samples::edit();
        event.notify_url = Some("https://hooked.example/?diff=1".into());
        assert_eq!(
            notify_url(&event, &ctx).as_deref(),
            Some("https://hooked.example/?diff=1")
        );
        let log = samples::log(None);
        assert_eq!(notify_url(&log, &ctx), None);
    }
}
