//! What every c2s session of the relay does the same way, bridge or watcher: the reconnect backoff (1 s
//! doubling to 30 s, reset by a session that lasted 30 s), waiting for the next stream event when there may
//! be no stream, and answering the server's IQs (pings; everything else is not supported).

use std::time::{Duration, Instant};
use tokio_xmpp::stanzastream::{Event, StanzaStream};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ping::Ping;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A session that lasted this long resets the backoff.
const STABLE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Backoff {
    /// When the next connection attempt is due (meaningful while there is no stream).
    pub reconnect_at: tokio::time::Instant,
    delay: Duration,
    online_since: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            reconnect_at: tokio::time::Instant::now(),
            delay: BACKOFF_MIN,
            online_since: None,
        }
    }
}

impl Backoff {
    pub fn online(&mut self) {
        self.online_since = Some(Instant::now());
    }

    /// The connection is gone: schedules the next attempt (logged).
    pub fn lost(&mut self) {
        if self
            .online_since
            .take()
            .is_some_and(|t| t.elapsed() >= STABLE)
        {
            self.delay = BACKOFF_MIN;
        }
        tracing::warn!(
            retry_in_s = self.delay.as_secs_f64(),
            "XMPP connection lost"
        );
        self.reconnect_at = tokio::time::Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(BACKOFF_MAX);
    }
}

/// The stream's next event; never resolves without a stream.
pub async fn next_event(stream: &mut Option<StanzaStream>) -> Option<Event> {
    use futures::StreamExt;
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// The answer to an IQ get the server sent: a pong to a ping, service-unavailable to anything else.
pub fn answer_get(from: Option<Jid>, id: String, payload: Element) -> Iq {
    match Ping::try_from(payload) {
        Ok(_) => Iq::Result {
            from: None,
            to: from,
            id,
            payload: None,
        },
        Err(_) => unsupported(from, id),
    }
}

pub fn unsupported(to: Option<Jid>, id: String) -> Iq {
    let error = StanzaError::new(
        ErrorType::Cancel,
        DefinedCondition::ServiceUnavailable,
        "en",
        "not supported",
    );
    Iq::Error {
        from: None,
        to,
        id,
        error,
        payload: None,
    }
}
