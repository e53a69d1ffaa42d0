//! [`Record`]: one event, captured on the caller's thread into owned values, with the fields of
//! its spans, secrets removed. Rendering (text, JSON) happens later, on the sink's thread.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::time::SystemTime;

use tracing::Level;
use tracing::field::{Field, Visit};

use crate::secret::is_secret_name;

/// A field's value, keeping JSON types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    /// Recorded as a string: printed quoted in text.
    Str(String),
    /// Recorded with `Debug` or `Display` (`?x`, `%x`): printed as is.
    Debug(String),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
    /// An error: its message, and its whole chain (`top: cause: cause`).
    Error {
        message: String,
        chain: String,
    },
}

/// One log event, ready for any sink.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) time: SystemTime,
    pub(crate) level: Level,
    pub(crate) target: Cow<'static, str>,
    pub(crate) file: Option<Cow<'static, str>>,
    pub(crate) line: Option<u32>,
    pub(crate) message: String,
    pub(crate) tags: Vec<String>,
    /// Span fields (outermost first), then the event's own; a later name wins.
    pub(crate) fields: Vec<(&'static str, FieldValue)>,
    /// The chain of the first error recorded, outermost first.
    pub(crate) errors: Vec<String>,
    /// The name of the thread that logged, kept only with an error (documents show it then).
    pub(crate) thread: Option<String>,
    /// The trace and span ids (hex) of the span it was logged in, when that span is exported.
    pub(crate) trace: Option<(String, String)>,
}

/// The field names that are never kept: those [`is_secret_name`] finds, and these extra ones.
#[derive(Debug, Clone)]
pub(crate) struct SecretNames(Vec<String>);

impl SecretNames {
    pub(crate) fn new(names: Vec<String>) -> Self {
        SecretNames(names)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        is_secret_name(name) || self.0.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// Fields collected from an event or a span.
#[derive(Debug, Default, Clone)]
pub(crate) struct Collected {
    pub(crate) message: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) fields: Vec<(&'static str, FieldValue)>,
    pub(crate) errors: Vec<String>,
}

/// A visitor filling [`Collected`], skipping secret fields and `log.*` bookkeeping fields.
pub(crate) struct Collector<'a> {
    pub(crate) out: &'a mut Collected,
    pub(crate) secrets: &'a SecretNames,
}

impl Collector<'_> {
    fn push(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
        // `otel.name`, `otel.kind`...: instructions to the OpenTelemetry layer, not data.
        if name.starts_with("log.") || name.starts_with("otel.") || self.secrets.contains(name) {
            return;
        }
        self.out.fields.push((name, value));
    }

    fn text(&mut self, field: &Field, text: String, quoted: bool) {
        match field.name() {
            "message" => self.out.message = Some(text),
            "tags" => self.out.tags.extend(parse_tags(&text)),
            _ if quoted => self.push(field, FieldValue::Str(text)),
            _ => self.push(field, FieldValue::Debug(text)),
        }
    }
}

/// Tags from `"a,b"` or from the `Debug` of a list (`["a", "b"]`).
fn parse_tags(text: &str) -> impl Iterator<Item = String> + '_ {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner
        .split(',')
        .map(|tag| tag.trim().trim_matches('"').trim())
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
}

impl Visit for Collector<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.secrets.contains(field.name()) {
            return;
        }
        self.text(field, format!("{value:?}"), false);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.secrets.contains(field.name()) {
            return;
        }
        self.text(field, value.to_owned(), true);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, FieldValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, FieldValue::U128(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        if self.secrets.contains(field.name()) {
            return;
        }
        let mut chain = vec![value.to_string()];
        let mut source = value.source();
        while let Some(error) = source {
            chain.push(error.to_string());
            source = error.source();
        }
        let value = FieldValue::Error {
            message: chain[0].clone(),
            chain: chain.join(": "),
        };
        if self.out.errors.is_empty() {
            self.out.errors = chain;
        }
        self.push(field, value);
    }
}
