//! How an input is declared ([`InputSpec`], from code or an attribute), how settings override
//! it ([`InputOptions`] under `inputs.<name>` of the resource), and what the transport is told
//! when it opens the input ([`InputInfo`]).

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::settings::SettingsError;

/// An input as declared: its name and the options given in code. Settings override each option
/// under the resource's `inputs.<name>` key; what neither gives comes from the resource's
/// defaults.
///
/// ```
/// use tamarco_core::messaging::InputSpec;
///
/// let spec = InputSpec::new("orders").concurrency(4).retries(2);
/// assert_eq!(spec.name(), "orders");
/// assert_eq!(spec.options().concurrency, Some(4));
/// ```
#[derive(Debug, Clone)]
pub struct InputSpec {
    name: String,
    options: InputOptions,
    transport: Vec<(String, Value)>,
}

impl InputSpec {
    /// An input reading `name` (a queue or topic, as the transport understands it).
    pub fn new(name: impl Into<String>) -> Self {
        InputSpec {
            name: name.into(),
            options: InputOptions::default(),
            transport: Vec::new(),
        }
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The options given in code.
    pub fn options(&self) -> &InputOptions {
        &self.options
    }

    /// How many messages are handled at once; at least 1. With 1, in order.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.options.concurrency = Some(concurrency.max(1));
        self
    }

    /// How many unsettled messages the broker sends ahead.
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.options.prefetch = Some(prefetch);
        self
    }

    /// How many times a failing handler is retried before the message is dead-lettered.
    pub fn retries(mut self, retries: u32) -> Self {
        self.options.retries = Some(retries);
        self
    }

    /// The wait before the first retry; it doubles each time.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.options.retry_backoff = Some(backoff.into());
        self
    }

    /// The dead-letter target, as the transport understands it (a queue, a topic).
    pub fn dead_letter(mut self, target: impl Into<String>) -> Self {
        self.options.dead_letter = Some(target.into());
        self
    }

    /// An option that only the input's transport understands, by the key it has in settings
    /// (Kafka's `topics`, `group` and `offset_reset`). Settings under `inputs.<name>.<key>`
    /// override it; the transport reads the result with [`InputInfo::transport_option`] when it
    /// opens the input. The engine refuses a key that its transport does not list in
    /// [`INPUT_KEYS`](super::Transport::INPUT_KEYS). Shown in `/status`: no secrets here.
    ///
    /// ```
    /// use tamarco_core::messaging::InputSpec;
    ///
    /// let spec = InputSpec::new("billing").transport_option("topics", ["orders", "refunds"]);
    /// assert_eq!(spec.transport_options()[0].0, "topics");
    /// ```
    pub fn transport_option(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.transport.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.transport.push((key, value)),
        }
        self
    }

    /// The transport options given in code, in the order given.
    pub fn transport_options(&self) -> &[(String, Value)] {
        &self.transport
    }

    /// Dead-letters a message the broker delivered more than `max` times, without running the
    /// handler (a message that crashes the process is not redelivered for ever). Needs a
    /// transport that counts deliveries.
    pub fn max_deliveries(mut self, max: u32) -> Self {
        self.options.max_deliveries = Some(max.max(1));
        self
    }
}

/// The options of an input, each optional: given in code ([`InputSpec`]), in settings
/// (`system.resources.<resource>.inputs.<input>`), or by the resource's defaults, in that
/// order of precedence from last to first (settings win).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputOptions {
    /// Messages handled at once.
    pub concurrency: Option<usize>,
    /// Unsettled messages the broker sends ahead.
    pub prefetch: Option<u16>,
    /// Retries of a failing handler.
    pub retries: Option<u32>,
    /// The wait before the first retry: a [settings duration](crate::settings::Duration)
    /// (`0.5`, `"250ms"`, `"1s"`). The former `retry_backoff_ms` (milliseconds) is read in its
    /// place, with a warning naming both keys.
    pub retry_backoff: Option<crate::settings::Duration>,
    /// The dead-letter target.
    pub dead_letter: Option<String>,
    /// The most deliveries of one message before it is dead-lettered.
    pub max_deliveries: Option<u32>,
}

impl InputOptions {
    /// These options, with what they leave open taken from `fallback`.
    pub fn or(self, fallback: &InputOptions) -> InputOptions {
        InputOptions {
            concurrency: self.concurrency.or(fallback.concurrency),
            prefetch: self.prefetch.or(fallback.prefetch),
            retries: self.retries.or(fallback.retries),
            retry_backoff: self.retry_backoff.or(fallback.retry_backoff),
            dead_letter: self.dead_letter.or_else(|| fallback.dead_letter.clone()),
            max_deliveries: self.max_deliveries.or(fallback.max_deliveries),
        }
    }
}

/// An input as the engine runs it and the transport opens it: its name, its kind, and its
/// options resolved (code, then settings, then the resource's defaults).
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// Kept for the life of the process ([`interned`](super::names::interned)).
    pub(crate) name: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) mode: &'static str,
    pub(crate) codec: String,
    pub(crate) options: InputOptions,
    pub(crate) transport: Vec<TransportOption>,
}

/// A transport option as resolved: the settings' value (with the key it came from) or the
/// code's.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TransportOption {
    pub(crate) key: String,
    pub(crate) value: Value,
    /// The full settings key, when the value came from settings.
    pub(crate) from: Option<String>,
}

impl InputInfo {
    /// The input's name, as declared.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its kind (`pull`, `subscribe`, `request`, `topic`...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// `handler` or `stream`.
    pub fn mode(&self) -> &'static str {
        self.mode
    }

    /// Its codec's name.
    pub fn codec(&self) -> &str {
        &self.codec
    }

    /// Its options, resolved.
    pub fn options(&self) -> &InputOptions {
        &self.options
    }

    /// A transport option ([`InputSpec::transport_option`]): the value under the settings key
    /// `inputs.<name>.<key>` of the resource, else the one given in code, else `None`. A value
    /// of the wrong type is an error naming where it came from.
    pub fn transport_option<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SettingsError> {
        let Some(option) = self.transport.iter().find(|o| o.key == key) else {
            return Ok(None);
        };
        serde_json::from_value(option.value.clone())
            .map(Some)
            .map_err(|error| SettingsError::Invalid {
                key: match &option.from {
                    Some(from) => from.clone(),
                    None => format!("inputs.{}.{key} (given in code)", self.name),
                },
                message: error.to_string(),
            })
    }

    /// Messages handled at once (at least 1).
    pub fn concurrency(&self) -> usize {
        self.options.concurrency.unwrap_or(1).max(1)
    }

    /// Retries of a failing handler (0 when nothing says).
    pub fn retries(&self) -> u32 {
        self.options.retries.unwrap_or(0)
    }

    /// The wait before the first retry (100 ms when nothing says).
    pub fn retry_backoff(&self) -> Duration {
        self.options
            .retry_backoff
            .map_or(Duration::from_millis(100), |backoff| *backoff)
    }
}
