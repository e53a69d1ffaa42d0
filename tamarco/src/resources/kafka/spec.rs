//! What a Kafka input reads besides what the engine knows of it ([`Subscription`]: its topics,
//! group and offset reset, given as the engine's transport options and overridable under
//! `inputs.<name>` in settings), and the offset reset it may choose: read by the input builder,
//! the transport and the settings (kept apart so that none of them imports another).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use tamarco_core::SettingsError;
use tamarco_core::messaging::{InputInfo, InputSpec};

/// The transport options of a Kafka input: the keys it has in `#[input(kafka, ...)]`, in
/// settings (`inputs.<name>.<key>`) and in the input's `/status` entry.
pub(crate) const INPUT_KEYS: &[&str] = &[TOPICS, GROUP, OFFSET_RESET];
const TOPICS: &str = "topics";
const GROUP: &str = "group";
const OFFSET_RESET: &str = "offset_reset";

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

/// What an input subscribes to, beyond its name: declared with the input builder or
/// `#[input(kafka, topics = [...], group = "...", offset_reset = "...")]`, overridden by
/// settings, read by the transport when it opens the input. An input that says none of it
/// reads the topic of its name in the resource's group.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Subscription {
    /// The topics; empty means the input's name.
    pub(crate) topics: Vec<String>,
    /// The consumer group, when not the resource's.
    pub(crate) group: Option<String>,
    /// Where a group without a commit starts, when not the resource's setting.
    pub(crate) offset_reset: Option<OffsetReset>,
}

impl Subscription {
    /// Adds what this subscription says to `spec`, as the engine's transport options.
    pub(crate) fn declare(&self, mut spec: InputSpec) -> InputSpec {
        if !self.topics.is_empty() {
            spec = spec.transport_option(TOPICS, self.topics.clone());
        }
        if let Some(group) = &self.group {
            spec = spec.transport_option(GROUP, group.as_str());
        }
        if let Some(reset) = self.offset_reset {
            spec = spec.transport_option(OFFSET_RESET, reset.as_str());
        }
        spec
    }

    /// What `input` subscribes to, resolved by the engine (settings over code); an empty topic
    /// list, an empty topic or group name and an unknown offset reset are errors naming the
    /// setting.
    pub(crate) fn of(input: &InputInfo) -> Result<Subscription, SettingsError> {
        let topics: Option<Names<Topic>> = input.transport_option(TOPICS)?;
        let group: Option<Name<Group>> = input.transport_option(GROUP)?;
        Ok(Subscription {
            topics: topics.map_or_else(Vec::new, |t| t.0.into_iter().map(|n| n.0).collect()),
            group: group.map(|g| g.0),
            offset_reset: input.transport_option(OFFSET_RESET)?,
        })
    }

    /// The topics of the input named `input`.
    pub(crate) fn topics<'a>(&'a self, input: &'a str) -> Vec<&'a str> {
        if self.topics.is_empty() {
            vec![input]
        } else {
            self.topics.iter().map(String::as_str).collect()
        }
    }
}

/// What a name in a subscription names, for the error about an empty one.
trait Named {
    const NOUN: &'static str;
}

/// A topic.
struct Topic;

impl Named for Topic {
    const NOUN: &'static str = "topic";
}

/// A consumer group.
struct Group;

impl Named for Group {
    const NOUN: &'static str = "consumer group";
}

/// A name that is not empty.
struct Name<N>(String, std::marker::PhantomData<N>);

impl<'de, N: Named> Deserialize<'de> for Name<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name.is_empty() {
            return Err(de::Error::custom(format_args!(
                "a {} name cannot be empty",
                N::NOUN
            )));
        }
        Ok(Name(name, std::marker::PhantomData))
    }
}

/// A list of at least one name.
struct Names<N>(Vec<Name<N>>);

impl<'de, N: Named> Deserialize<'de> for Names<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<Name<N>>::deserialize(deserializer)?;
        if names.is_empty() {
            return Err(de::Error::custom(format_args!(
                "the list is empty: name at least one {}",
                N::NOUN
            )));
        }
        Ok(Names(names))
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
