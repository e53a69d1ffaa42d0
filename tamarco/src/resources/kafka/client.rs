//! What every librdkafka client of the resource shares: its logs go to `tracing`, fatal errors
//! make the resource's [`Health`] FAILED, transient ones are logged, [`Throttle`]d. The
//! producer's callbacks are here; the consumers' are in [`member`](super::member).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What made the resource FAILED, if anything: a fatal client error.
#[derive(Debug, Default)]
pub(crate) struct Health {
    fatal: Mutex<Option<String>>,
}

impl Health {
    pub(crate) fn fail(&self, resource: &str, what: String) {
        tracing::error!(
            resource,
            "kafka: fatal error, the resource is FAILED: {what}"
        );
        self.fatal.lock().expect("health lock").get_or_insert(what);
    }

    pub(crate) fn fatal(&self) -> Option<String> {
        self.fatal.lock().expect("health lock").clone()
    }

    pub(crate) fn reset(&self) {
        *self.fatal.lock().expect("health lock") = None;
    }
}

/// Logs the same transient error at most once per interval, with a count of the repeats.
#[derive(Debug)]
pub(crate) struct Throttle {
    last: Mutex<Option<(String, Instant, u64)>>,
    every: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            last: Mutex::new(None),
            every: Duration::from_secs(10),
        }
    }
}

impl Throttle {
    /// Whether to log `what` now, and how many repeats were held back.
    pub(crate) fn admit(&self, what: &str) -> Option<u64> {
        let mut last = self.last.lock().expect("throttle lock");
        let now = Instant::now();
        match &mut *last {
            Some((seen, at, held)) if seen == what && now.duration_since(*at) < self.every => {
                *held += 1;
                None
            }
            slot => {
                let held = slot.as_ref().map_or(0, |(_, _, held)| *held);
                *slot = Some((what.to_owned(), now, 0));
                Some(held)
            }
        }
    }
}

pub(crate) fn log(
    resource: &str,
    client: &str,
    level: RDKafkaLogLevel,
    facility: &str,
    message: &str,
) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", resource, client, facility, "{message}");
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", resource, client, facility, "{message}");
        }
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", resource, client, facility, "{message}");
        }
        RDKafkaLogLevel::Debug => {
            tracing::debug!(target: "librdkafka", resource, client, facility, "{message}");
        }
    }
}

pub(crate) fn is_fatal(error: &KafkaError) -> bool {
    matches!(
        error,
        KafkaError::Global(RDKafkaErrorCode::Fatal) | KafkaError::MessageConsumptionFatal(_)
    ) || error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal)
}

/// The producer's callbacks.
pub(crate) struct ProducerCallbacks {
    pub(crate) resource: String,
    pub(crate) health: Arc<Health>,
    pub(crate) throttle: Throttle,
}

impl ClientContext for ProducerCallbacks {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(&self.resource, "producer", level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if is_fatal(&error) {
            self.health
                .fail(&self.resource, format!("{error}: {reason}"));
        } else if let Some(held) = self.throttle.admit(reason) {
            tracing::warn!(
                resource = self.resource,
                repeats = held,
                "kafka producer: {error}: {reason}; retrying"
            );
        }
    }
}
