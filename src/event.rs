//! The owned, validated recent change that every formatter reads.
//!
//! An [`Event`] is produced by [`crate::payload::decode`] on the sender thread. Strings are valid UTF-8
//! (invalid sequences were replaced by U+FFFD while decoding) but otherwise untouched: each formatter applies
//! its own format's rules for characters that format cannot carry (XML 1.0 forbidden characters, IRC line
//! breaks), so nothing is lost for formats that can represent it.

use serde_json::Value;

/// `rc_type` as MediaWiki stores it (`RC_EDIT` = 0, `RC_NEW` = 1, `RC_LOG` = 3, `RC_CATEGORIZE` = 6).
/// `RC_EXTERNAL` (5) never reaches a feed: core skips it before calling `notify()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Edit,
    New,
    Log,
    Categorize,
}

impl ChangeType {
    pub fn from_rc_type(value: i64) -> Option<Self> {
        match value {
            0 => Some(Self::Edit),
            1 => Some(Self::New),
            3 => Some(Self::Log),
            6 => Some(Self::Categorize),
            _ => None,
        }
    }

    /// The name `RecentChange::parseFromRCType()` gives, used by the API and core's packets.
    pub fn name(self) -> &'static str {
        match self {
            Self::Edit => "edit",
            Self::New => "new",
            Self::Log => "log",
            Self::Categorize => "categorize",
        }
    }
}

/// `rc_patrolled`: `RecentChange::PRC_UNPATROLLED` (0), `PRC_PATROLLED` (1), `PRC_AUTOPATROLLED` (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patrolled {
    Unpatrolled,
    Patrolled,
    Autopatrolled,
}

impl Patrolled {
    pub fn from_rc_patrolled(value: i64) -> Option<Self> {
        match value {
            0 => Some(Self::Unpatrolled),
            1 => Some(Self::Patrolled),
            2 => Some(Self::Autopatrolled),
            _ => None,
        }
    }
}

/// Log-specific part of a change (`rc_type == RC_LOG`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogInfo {
    /// `rc_logid`.
    pub id: i64,
    /// `rc_log_type`, e.g. `protect`.
    pub log_type: String,
    /// `rc_log_action`, e.g. `modify`.
    pub action: String,
    /// Core feed's `log_params`: unserialised `rc_params` with `N::`/`N:type:` key prefixes stripped.
    /// `None` when core omits the key (empty `rc_params`).
    pub params_raw: Option<Value>,
    /// `LogFormatter::formatParametersForApi()` output, ApiResult metadata keys (`_element`, `_type`, ...)
    /// included, for the API's `<logparams>`. `None` when the PHP side did not compute it.
    pub params_api: Option<Value>,
    /// The IRC action comment core passes to `notify()` (plain text, may contain `[[Target]]`).
    pub action_comment: String,
}

/// One recent change.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub rc_id: i64,
    pub change_type: ChangeType,
    pub namespace: i64,
    /// `Title::getPrefixedText()` of the changed page (for log rows: the log target).
    pub title: String,
    /// `rc_cur_id`.
    pub page_id: i64,
    /// `rc_this_oldid` (0 when the change has no revision).
    pub this_oldid: i64,
    /// `rc_last_oldid` (0 for new pages and logs).
    pub last_oldid: i64,
    /// `rc_user_text`.
    pub user: String,
    /// Local user id; 0 for anonymous (IP) users.
    pub user_id: i64,
    pub bot: bool,
    pub minor: bool,
    /// The page was a redirect once the change was saved (`page_is_redirect`).
    pub redirect: bool,
    pub patrolled: Patrolled,
    /// `rc_old_len`; `None` when MediaWiki stored NULL.
    pub old_len: Option<i64>,
    /// `rc_new_len`; `None` when MediaWiki stored NULL.
    pub new_len: Option<i64>,
    /// `rc_timestamp` as Unix seconds (UTC).
    pub timestamp: i64,
    /// `rc_comment` text (the edit summary, or the log comment).
    pub comment: String,
    /// The API's `parsedcomment`, when the PHP side supplied it.
    pub parsed_comment: Option<String>,
    /// The revision's SHA-1 in hex as the API prints it, when the PHP side supplied it.
    pub sha1: Option<String>,
    /// MediaWiki's URL of the change (`RecentChange::getNotifyUrl()`, the IRC line's URL), when the PHP side
    /// supplied it because an `IRCLineURL` hook handler may change it; otherwise formats compute it.
    pub notify_url: Option<String>,
    /// `Title::getCanonicalURL()` of the page, when the PHP side supplied it because a URL hook handler may
    /// change it; otherwise formats compute it.
    pub title_url: Option<String>,
    /// PHP failed to compute an optional part (sha1, parsedcomment, log params) this change should carry.
    pub part_failed: bool,
    pub log: Option<LogInfo>,
    /// Change tags in the order the API lists them.
    pub tags: Vec<String>,
}

impl Event {
    /// True for anonymous (IP) edits, as the API's `anon` flag.
    pub fn is_anon(&self) -> bool {
        self.user_id == 0
    }
}

/// Splits Unix seconds into a UTC civil date and time (proleptic Gregorian), without a date library.
pub fn civil_from_unix(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Inverse of [`civil_from_unix`] for the date part: days since 1970-01-01.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ISO 8601 with `Z`, as `wfTimestamp( TS_ISO_8601, ... )` prints it: `2026-11-21T23:05:33Z`.
pub fn iso8601(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil_from_unix(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        // date -u -d @1795302333 +%FT%TZ
        assert_eq!(iso8601(1_795_302_333), "2026-11-21T23:05:33Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn civil_round_trips() {
        for secs in [0i64, 86_399, 951_782_400, 1_795_302_333, 4_102_444_800] {
            let (y, mo, d, h, mi, s) = civil_from_unix(secs);
            let back = days_from_civil(y, mo, d) * 86_400
                + i64::from(h) * 3600
                + i64::from(mi) * 60
                + i64::from(s);
            assert_eq!(back, secs);
        }
    }
}
