//! Secrets: [`Secret`], a value that never prints, and [`is_secret_name`], the one list of names
//! (settings keys, log fields, `/status` fields, headers) whose values are treated as secrets
//! everywhere in tamarco.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde_json::Value;

/// What a secret prints as, in `Debug`, `Display` and when serialized.
pub const MASK: &str = "***";

/// The words that make a name secret: a name holding one of them, in any case, with `-` read
/// as `_` (`db_password`, `X-Api-Key`, `sasl.password`, `auth_token`).
pub const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "api_key",
    "apikey",
    "private_key",
    "authorization",
    "cookie",
];

/// Whether the value named `name` must never be shown: a field, a header, or a dotted settings
/// key (`system.resources.db.password`). See [`SECRET_WORDS`].
///
/// ```
/// use tamarco_core::secret::is_secret_name;
///
/// assert!(is_secret_name("system.resources.amqp.password"));
/// assert!(is_secret_name("X-Api-Key"));
/// assert!(!is_secret_name("system.resources.amqp.port"));
/// ```
pub fn is_secret_name(name: &str) -> bool {
    // Without allocating: the logging layer asks it for every field of every record and span.
    let name = name.as_bytes();
    SECRET_WORDS
        .iter()
        .any(|word| contains_folded(name, word.as_bytes()))
}

/// Whether `word` (lowercase ASCII) is in `name`, compared in lowercase with `-` read as `_`.
fn contains_folded(name: &[u8], word: &[u8]) -> bool {
    let fold = |b: u8| match b {
        b'-' => b'_',
        b => b.to_ascii_lowercase(),
    };
    name.windows(word.len())
        .any(|window| window.iter().zip(word).all(|(&n, &w)| fold(n) == w))
}

/// A value that prints as `***` with `Debug`, `Display` and `Serialize` alike, so that logging
/// it, putting it in an error or in `/status` never shows it. Read it with
/// [`expose`](Secret::expose).
///
/// It deserializes like the value it wraps, and a number or a boolean is also accepted as text
/// (`password: 12345678` in YAML gives the string `"12345678"`; quote a YAML secret to keep
/// leading zeros, as YAML reads `0123` as the number 123). A value of the wrong kind is an error
/// that names the kind found, never the value.
///
/// ```
/// use tamarco_core::secret::Secret;
///
/// let token: Secret = serde_json::from_str("12345678").unwrap();
/// assert_eq!(token.expose(), "12345678");
/// assert_eq!(format!("{token} {token:?}"), "*** ***");
/// assert_eq!(serde_json::to_string(&token).unwrap(), r#""***""#);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret<T = String>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

impl<'de, T: DeserializeOwned> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Buffered as a value so that a failed attempt can be retried as text and its error,
        // which may quote the value, replaced.
        let raw = Value::deserialize(deserializer)?;
        if let Ok(value) = T::deserialize(&raw) {
            note_read(&raw);
            return Ok(Secret(value));
        }
        let text = match &raw {
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        text.and_then(|text| T::deserialize(Value::String(text)).ok())
            .inspect(|_| note_read(&raw))
            .map(Secret)
            .ok_or_else(|| {
                let type_name = std::any::type_name::<T>();
                let type_name = type_name.rsplit("::").next().unwrap_or(type_name);
                D::Error::custom(format_args!(
                    "invalid type: found {}, expected a secret `{type_name}`",
                    kind(&raw)
                ))
            })
    }
}

thread_local! {
    /// The texts of the secrets deserialized on this thread while a settings read collects
    /// them ([`collect_read`]).
    static READ: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Runs `read` and returns, beside its result, the text of every [`Secret`] it deserialized
/// (settings remember them so that `/settings` masks values typed as secrets).
pub(crate) fn collect_read<R>(read: impl FnOnce() -> R) -> (R, Vec<String>) {
    /// Puts the outer collection back even if `read` panics.
    struct Restore(Option<Vec<String>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            READ.with(|seen| *seen.borrow_mut() = outer);
        }
    }
    let outer = READ.with(|seen| seen.borrow_mut().replace(Vec::new()));
    let restore = Restore(outer);
    let result = read();
    let seen = READ
        .with(|seen| seen.borrow_mut().take())
        .unwrap_or_default();
    drop(restore);
    (result, seen)
}

/// Adds the leaves of a secret just read to the running collection, if there is one.
fn note_read(raw: &Value) {
    READ.with(|seen| {
        if let Some(seen) = seen.borrow_mut().as_mut() {
            add_leaves(raw, seen);
        }
    });
}

fn add_leaves(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| add_leaves(item, into)),
        Value::Object(map) => map.values().for_each(|item| add_leaves(item, into)),
        leaf => into.extend(leaf_text(leaf)),
    }
}

/// A leaf's text as a secret reads it (`1234` and `"1234"` alike); `None` for null, an empty
/// text (a default that hides nothing), lists and maps.
pub(crate) fn leaf_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// The kind of a value, without the value, for errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_booleans_are_read_as_text() {
        for (json, text) in [("1234", "1234"), ("true", "true"), ("\"0123\"", "0123")] {
            let secret: Secret = serde_json::from_str(json).unwrap();
            assert_eq!(secret.expose(), text);
        }
        assert!(
            serde_json::from_str::<Secret<u32>>("\"4321\"").is_err(),
            "text is not read as a number"
        );
        let pin: Secret<u32> = serde_json::from_str("4321").unwrap();
        assert_eq!(*pin.expose(), 4321);
    }

    #[test]
    fn a_wrong_kind_names_the_kind_but_never_the_value() {
        let err = serde_json::from_str::<Secret<u16>>("\"hunter2\"")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "invalid type: found a string, expected a secret `u16`");
        assert!(!err.contains("hunter2"), "{err}");
        let err = serde_json::from_str::<Secret>("[\"hunter2\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a list") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn every_way_of_printing_is_masked() {
        let secret = Secret::new("hunter2".to_owned());
        let shown = format!(
            "{secret} {secret:?} {:?} {}",
            Some(&secret),
            serde_json::json!({ "password": secret })
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn secret_names_are_found_in_any_case_and_inside_longer_names() {
        for name in [
            "password",
            "DB_PASSWORD",
            "auth_token",
            "X-Api-Key",
            "sasl.password",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["host", "port", "user", "queues_prefix", "key"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
