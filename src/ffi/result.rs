//! The result codes every exported function returns.

use std::fmt;

/// What an rcemit function did. `RCEMIT_RESULT_OK` (7100) is success; every other value is a failure that
/// `rcemit_result_message()` describes. The distinctive base makes a stray 0 or -1 from elsewhere
/// recognisable as "not an rcemit result".
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rcemit_result {
    /// Success.
    Ok = 7100,
    /// A required pointer argument was NULL.
    NullParameter = 7101,
    /// The payload is over the size cap of emit (4 MiB).
    InvalidPayload = 7102,
    /// A feed configuration or an init parameter was rejected; `rcemit_last_error()` names the key.
    InvalidConfig = 7103,
    /// The queue is full; the event was dropped and counted (`dropped_queue_full`).
    QueueFull = 7104,
    /// The feed handle is not one `rcemit_feed_open()` returned in this process.
    UnknownFeed = 7105,
    /// The output buffer is too small for the message; nothing was written.
    BufferTooSmall = 7106,
    /// rcemit panicked internally (a bug); the call had no effect. `rcemit_last_error()` has the message.
    Panic = 7107,
    /// The timeout passed before the queue was flushed.
    Timeout = 7108,
    /// All feed slots are taken (256 distinct configurations per process).
    TooManyFeeds = 7109,
    /// `rcemit_init()` came after the sender started with another queue capacity.
    AlreadyStarted = 7110,
}

impl rcemit_result {
    const ALL: [Self; 11] = [
        Self::Ok,
        Self::NullParameter,
        Self::InvalidPayload,
        Self::InvalidConfig,
        Self::QueueFull,
        Self::UnknownFeed,
        Self::BufferTooSmall,
        Self::Panic,
        Self::Timeout,
        Self::TooManyFeeds,
        Self::AlreadyStarted,
    ];

    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| *r as u32 == code)
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NullParameter => "a required pointer argument was NULL",
            Self::InvalidPayload => "the payload is larger than emit accepts (4 MiB)",
            Self::InvalidConfig => "invalid configuration (see rcemit_last_error for the key)",
            Self::QueueFull => "the queue is full: the event was dropped and counted",
            Self::UnknownFeed => {
                "unknown feed handle (not returned by rcemit_feed_open in this process)"
            }
            Self::BufferTooSmall => "the output buffer is too small",
            Self::Panic => "internal error (panic) in rcemit; see rcemit_last_error",
            Self::Timeout => "the timeout passed before the queue was flushed",
            Self::TooManyFeeds => "too many distinct feeds in this process (at most 256)",
            Self::AlreadyStarted => "the sender already runs with another queue capacity",
        }
    }
}

impl fmt::Display for rcemit_result {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::rcemit_result;

    #[test]
    fn codes_are_contiguous_from_the_base_and_round_trip() {
        for (i, result) in rcemit_result::ALL.into_iter().enumerate() {
            assert_eq!(result as u32, 7100 + i as u32);
            assert_eq!(rcemit_result::from_code(result as u32), Some(result));
        }
        assert_eq!(rcemit_result::from_code(0), None);
        assert_eq!(
            rcemit_result::from_code(7100 + rcemit_result::ALL.len() as u32),
            None
        );
    }
}
