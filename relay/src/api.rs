//! A polite api.php client: one request at a time, `maxlag=5`, a descriptive User-Agent, a timeout per request,
//! and retries with backoff for what may pass (network, HTTP 5xx/429, maxlag, read-only) before giving up.

use crate::api_page::{parse_rc_page, parse_wikiid};
pub use crate::api_page::{xmlrc_datagram, RawRc, RcPage};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// XMLRC's property set: what an xmlrc datagram holds (FORMATS.md).
pub const XMLRC_PROPS: &str = "user|comment|flags|timestamp|title|ids|sizes|redirect|loginfo|tags";
/// Seconds of replication lag above which api.php refuses (and we wait): the value Wikimedia asks bots to use.
const MAXLAG: &str = "5";
/// api.php's own ceiling for rclimit (for users without apihighlimits).
pub const MAX_LIMIT: u32 = 500;
/// The longest wait between two attempts, whatever the backoff or a Retry-After header say.
const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub enum ApiError {
    /// Transport: connect, TLS, timeout, reading the body.
    Http(reqwest::Error),
    /// An HTTP status other than 200.
    Status(u16),
    /// `<error code="..." info="...">` in api.php's answer.
    Api { code: String, info: String },
    /// api.php refused because replication lag exceeds maxlag.
    Maxlag(String),
    /// The answer is not what api.php prints (HTML error page, truncated XML, missing attribute).
    Parse(String),
    /// The client could not be built (bad URL, bad User-Agent).
    Setup(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Http(e) => write!(f, "HTTP request failed: {e}"),
            ApiError::Status(s) => write!(f, "api.php answered HTTP status {s}"),
            ApiError::Api { code, info } => write!(f, "api.php error {code}: {info}"),
            ApiError::Maxlag(info) => write!(f, "api.php is lagged (maxlag): {info}"),
            ApiError::Parse(why) => write!(f, "unexpected api.php answer: {why}"),
            ApiError::Setup(why) => write!(f, "cannot set up the api.php client: {why}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// Failures that may pass by themselves and are worth retrying.
    fn transient(&self) -> bool {
        match self {
            ApiError::Http(_) | ApiError::Maxlag(_) => true,
            ApiError::Status(s) => *s == 429 || *s >= 500,
            ApiError::Api { code, .. } => {
                code == "readonly" || code == "internal_api_error_DBQueryError"
            }
            ApiError::Parse(_) | ApiError::Setup(_) => false,
        }
    }
}

pub struct ApiClient {
    http: reqwest::Client,
    url: reqwest::Url,
    /// Serialises requests: api.php etiquette is one request at a time per client.
    turn: tokio::sync::Mutex<()>,
    attempts: u32,
    first_backoff: Duration,
    requests: AtomicU64,
}

impl ApiClient {
    /// api_url: the wiki's api.php URL. user_agent: descriptive (see user_agent()). timeout: per request.
    pub fn new(api_url: &str, user_agent: &str, timeout: Duration) -> Result<ApiClient, ApiError> {
        let url = reqwest::Url::parse(api_url)
            .map_err(|e| ApiError::Setup(format!("api URL {api_url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ApiError::Setup(format!(
                "api URL {api_url:?} is not http(s)"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .build()
            .map_err(|e| ApiError::Setup(e.to_string()))?;
        Ok(ApiClient {
            http,
            url,
            turn: tokio::sync::Mutex::new(()),
            attempts: 5,
            first_backoff: Duration::from_secs(1),
            requests: AtomicU64::new(0),
        })
    }

    /// Retry policy: `attempts` tries in all, waiting `first_backoff`, doubling, between them (a maxlag answer's
    /// Retry-After wins when longer). Default: 5 attempts from 1 s (1+2+4+8 = 15 s of waiting at most).
    pub fn with_retries(mut self, attempts: u32, first_backoff: Duration) -> ApiClient {
        self.attempts = attempts.max(1);
        self.first_backoff = first_backoff;
        self
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// meta=siteinfo&siprop=general -> general.wikiid
    pub async fn wikiid(&self) -> Result<String, ApiError> {
        self.call(&[("meta", "siteinfo"), ("siprop", "general")], parse_wikiid)
            .await
    }

    /// One page of list=recentchanges in format=xml, rcdir=newer from `start` (ISO 8601 Z) with XMLRC's rcprop
    /// set, `limit` rows (at most 500), continuing with `cont` (the previous page's rccontinue).
    pub async fn recent_changes(
        &self,
        start: &str,
        cont: Option<&str>,
        limit: u32,
    ) -> Result<RcPage, ApiError> {
        let limit = limit.clamp(1, MAX_LIMIT).to_string();
        let mut params = vec![
            ("list", "recentchanges"),
            ("rcdir", "newer"),
            ("rcprop", XMLRC_PROPS),
            ("rcstart", start),
            ("rclimit", &limit),
        ];
        if let Some(cont) = cont {
            params.push(("rccontinue", cont));
        }
        self.call(&params, parse_rc_page).await
    }

    /// The newest change (rcdir=older, one row), None when the wiki has none: where `--start now` begins.
    pub async fn newest_change(&self) -> Result<Option<RawRc>, ApiError> {
        let params = [
            ("list", "recentchanges"),
            ("rcdir", "older"),
            ("rcprop", XMLRC_PROPS),
            ("rclimit", "1"),
        ];
        let page = self.call(&params, parse_rc_page).await?;
        Ok(page.changes.into_iter().next())
    }

    /// action=query with `params`, format=xml and maxlag, retried while the failure is transient.
    async fn call<T>(
        &self,
        params: &[(&str, &str)],
        parse: fn(&str) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let _turn = self.turn.lock().await;
        let mut wait = self.first_backoff;
        let mut attempt = 1;
        loop {
            let (result, retry_after) = match self.get(params).await {
                Ok((text, retry_after)) => (parse(&text), retry_after),
                Err(e) => (Err(e), None),
            };
            match result {
                Err(e) if e.transient() && attempt < self.attempts => {
                    let pause = retry_after.map_or(wait, |r| r.max(wait)).min(MAX_WAIT);
                    tracing::warn!(error = %e, attempt, retry_in = ?pause, "api.php request failed, retrying");
                    tokio::time::sleep(pause).await;
                    wait = wait.saturating_mul(2).min(MAX_WAIT);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One GET: the body and the Retry-After header (seconds), if any.
    async fn get(&self, params: &[(&str, &str)]) -> Result<(String, Option<Duration>), ApiError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .get(self.url.clone())
            .query(&[("action", "query"), ("format", "xml"), ("maxlag", MAXLAG)])
            .query(params)
            .send()
            .await
            .map_err(ApiError::Http)?;
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse().ok())
            .map(Duration::from_secs);
        let status = response.status().as_u16();
        if status != 200 {
            return Err(ApiError::Status(status));
        }
        Ok((response.text().await.map_err(ApiError::Http)?, retry_after))
    }
}

/// A descriptive User-Agent (mediawiki.org's User-Agent policy): the program, its version and how to reach the
/// operator.
pub fn user_agent(contact: Option<&str>) -> String {
    let base = concat!(
        env!("CARGO_PKG_NAME"),
        "/",
        env!("CARGO_PKG_VERSION"),
        " (RcEmit's relay, reading recent changes"
    );
    match contact {
        Some(c) => format!("{base}; {c})"),
        None => format!("{base})"),
    }
}
