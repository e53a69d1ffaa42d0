//! What a Kafka input reads besides what the engine knows of it ([`Subscription`]: its topics,
//! group and offset reset), and the offset reset it may choose: read by the input builder, the
//! transport and the settings (kept apart so that none of them imports another).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Where a consumer group with no committed offset starts reading a partition.
///
/// Settings say `earliest` or `latest`; the Python original's `smallest` and `largest` are
/// read as `earliest` and `latest`, with a deprecation warning (once per process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

    /// Reads a settings value: `earliest`, `latest`, or the deprecated `smallest` and
    /// `largest` (with their replacement, to warn about).
    pub(crate) fn parse(value: &str) -> Option<(OffsetReset, Option<&'static str>)> {
        match value {
            "earliest" => Some((OffsetReset::Earliest, None)),
            "latest" => Some((OffsetReset::Latest, None)),
            "smallest" => Some((OffsetReset::Earliest, Some("earliest"))),
            "largest" => Some((OffsetReset::Latest, Some("latest"))),
            _ => None,
        }
    }
}

/// Warns once per process and per legacy value that `auto_offset_reset` uses the original's
/// spelling, naming the value written and the one to write instead.
fn warn_legacy(written: &str, instead: &'static str) {
    static SMALLEST: AtomicBool = AtomicBool::new(false);
    static LARGEST: AtomicBool = AtomicBool::new(false);
    let once = if written == "smallest" {
        &SMALLEST
    } else {
        &LARGEST
    };
    if !once.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "kafka: `auto_offset_reset: {written}` is the Python original's spelling, read as \
             `{instead}`; write `auto_offset_reset: {instead}` (`{written}` is deprecated)"
        );
    }
}

impl<'de> Deserialize<'de> for OffsetReset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Reset;

        impl Visitor<'_> for Reset {
            type Value = OffsetReset;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`earliest` or `latest` (or the deprecated `smallest`, `largest`)")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<OffsetReset, E> {
                let Some((reset, legacy)) = OffsetReset::parse(value) else {
                    return Err(E::invalid_value(de::Unexpected::Str(value), &self));
                };
                if let Some(instead) = legacy {
                    warn_legacy(value, instead);
                }
                Ok(reset)
            }
        }

        deserializer.deserialize_str(Reset)
    }
}

/// What an input subscribes to, beyond its name: declared with the input builder, looked up
/// by the transport when it opens the input. An input declared with `#[input(kafka, topic =
/// "t")]` has none: it reads the topic `t` in the resource's group.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subscription {
    /// The topics; empty means the input's name.
    pub(crate) topics: Vec<String>,
    /// The consumer group, when not the resource's.
    pub(crate) group: Option<String>,
    /// Where a group without a commit starts, when not the resource's setting.
    pub(crate) offset_reset: Option<OffsetReset>,
}

impl Subscription {
    /// The topics of the input named `input`.
    pub(crate) fn topics<'a>(&'a self, input: &'a str) -> Vec<&'a str> {
        if self.topics.is_empty() {
            vec![input]
        } else {
            self.topics.iter().map(String::as_str).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what the `fmt` subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_originals_spellings_map_to_earliest_and_latest_with_one_warning_each() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let read = |v: &str| serde_json::from_value::<OffsetReset>(serde_json::json!(v));
        tracing::subscriber::with_default(subscriber, || {
            assert_eq!(read("smallest").unwrap(), OffsetReset::Earliest);
            assert_eq!(read("largest").unwrap(), OffsetReset::Latest);
            assert_eq!(read("smallest").unwrap(), OffsetReset::Earliest);
            assert_eq!(read("earliest").unwrap(), OffsetReset::Earliest);
            assert_eq!(read("latest").unwrap(), OffsetReset::Latest);
        });
        let error = read("oldest").unwrap_err().to_string();
        assert!(
            error.contains("earliest") && error.contains("oldest"),
            "{error}"
        );
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(warnings.len(), 2, "one warning per legacy value: {logs}");
        assert!(
            warnings[0].contains("smallest") && warnings[0].contains("earliest"),
            "{logs}"
        );
        assert!(
            warnings[1].contains("largest") && warnings[1].contains("latest"),
            "{logs}"
        );
    }
}
