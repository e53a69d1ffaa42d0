//! What an input was declared with, and the offset reset it may choose: read by the input
//! and by the settings that complete it (kept apart so that neither imports the other).

use std::time::Duration;

use serde::Deserialize;

/// Where a consumer group with no committed offset starts reading a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    /// From the oldest message still on the broker (the default).
    #[default]
    Earliest,
    /// Only messages produced after the group joined.
    Latest,
}

impl OffsetReset {
    /// `earliest` or `latest`, as librdkafka spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

/// What an input was declared with; settings fill in what the code leaves out.
#[derive(Debug, Clone)]
pub(crate) struct InputSpec {
    pub(crate) name: String,
    pub(crate) topics: Vec<String>,
    pub(crate) group: Option<String>,
    pub(crate) offset_reset: Option<OffsetReset>,
    pub(crate) retries: Option<u32>,
    pub(crate) retry_backoff: Option<Duration>,
    pub(crate) dead_letter_topic: Option<String>,
    pub(crate) named: bool,
}

impl InputSpec {
    pub(crate) fn new(topic: &str) -> Self {
        InputSpec {
            name: topic.to_owned(),
            topics: vec![topic.to_owned()],
            group: None,
            offset_reset: None,
            retries: None,
            retry_backoff: None,
            dead_letter_topic: None,
            named: false,
        }
    }
}
