//! The duration type of every settings struct: `timeout: 10` (seconds, as the Python original),
//! `timeout: 0.25`, or `timeout: 250ms` / `"1s"` / `"5m"` / `"1h 30m"`.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration read from settings. A plain number is seconds (int or float, also when it comes
/// as text, e.g. from an environment variable); text with units goes through `humantime`
/// (`250ms`, `1s`, `5m`, `1h`, `1h 30m`). Negative, infinite and malformed values are errors,
/// which the settings reader reports with the full key. It serializes as a number of seconds.
///
/// It dereferences to [`std::time::Duration`].
///
/// ```
/// use tamarco_core::settings::Duration;
///
/// let parsed: Vec<Duration> = serde_json::from_str(r#"[10, 0.25, "250ms", "5m", "2"]"#).unwrap();
/// let secs: Vec<f64> = parsed.iter().map(|d| d.as_secs_f64()).collect();
/// assert_eq!(secs, [10.0, 0.25, 0.25, 300.0, 2.0]);
/// assert!(serde_json::from_str::<Duration>("-1").is_err());
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// Zero: by convention in settings, "off" (no timeout, no delay).
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Duration(std::time::Duration::from_millis(millis))
    }

    /// The standard library duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }

    /// `None` for zero, which settings use for "off"; the duration otherwise.
    pub fn non_zero(self) -> Option<std::time::Duration> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

impl Deref for Duration {
    type Target = std::time::Duration;
    fn deref(&self) -> &std::time::Duration {
        &self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(duration: std::time::Duration) -> Self {
        Duration(duration)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(duration: Duration) -> Self {
        duration.0
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&humantime::format_duration(self.0), f)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0.as_secs_f64())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

const EXPECTED: &str =
    "a duration: seconds (10, 0.5) or text with a unit (\"250ms\", \"1s\", \"5m\", \"1h\")";

struct DurationVisitor;

impl DurationVisitor {
    fn seconds<E: de::Error>(secs: f64) -> Result<Duration, E> {
        if secs < 0.0 {
            return Err(E::custom("a duration cannot be negative"));
        }
        std::time::Duration::try_from_secs_f64(secs)
            .map(Duration)
            .map_err(|_| E::custom(format!("expected {EXPECTED}; the number is out of range")))
    }
}

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(secs))
    }

    fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Duration, E> {
        match u64::try_from(secs) {
            Ok(secs) => self.visit_u64(secs),
            Err(_) => Err(E::custom("a duration cannot be negative")),
        }
    }

    fn visit_f64<E: de::Error>(self, secs: f64) -> Result<Duration, E> {
        Self::seconds(secs)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        let text = text.trim();
        // Numbers kept as text (environment variables) are seconds, as in a file.
        if let Ok(secs) = text.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        if let Ok(secs) = text.parse::<f64>() {
            return Self::seconds(secs);
        }
        // Settings errors never carry the value (it may be a misplaced secret), so humantime's
        // message, which quotes it, is replaced by the kind of mistake.
        humantime::parse_duration(text)
            .map(Duration)
            .map_err(|error| {
                let reason = match error {
                    humantime::DurationError::Empty => "it is empty",
                    humantime::DurationError::UnknownUnit { .. } => "the unit is unknown",
                    humantime::DurationError::NumberOverflow => "it is too large",
                    _ => "it is not a number with a unit",
                };
                E::custom(format!("expected {EXPECTED}; {reason}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<std::time::Duration, String> {
        serde_json::from_str::<Duration>(json)
            .map(Duration::get)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_are_seconds_as_in_the_original() {
        assert_eq!(parse("10"), Ok(std::time::Duration::from_secs(10)));
        assert_eq!(parse("0.25"), Ok(std::time::Duration::from_millis(250)));
        assert_eq!(parse("0"), Ok(std::time::Duration::ZERO));
        assert_eq!(parse(r#""10""#), Ok(std::time::Duration::from_secs(10)));
        assert_eq!(
            parse(r#"" 1.5 ""#),
            Ok(std::time::Duration::from_millis(1500))
        );
    }

    #[test]
    fn text_with_units() {
        assert_eq!(
            parse(r#""250ms""#),
            Ok(std::time::Duration::from_millis(250))
        );
        assert_eq!(parse(r#""1s""#), Ok(std::time::Duration::from_secs(1)));
        assert_eq!(parse(r#""5m""#), Ok(std::time::Duration::from_secs(300)));
        assert_eq!(parse(r#""1h""#), Ok(std::time::Duration::from_secs(3600)));
        assert_eq!(
            parse(r#""1h 30m""#),
            Ok(std::time::Duration::from_secs(5400))
        );
    }

    #[test]
    fn bad_values_are_errors_that_do_not_echo_them() {
        for bad in [
            r#""-1""#,
            "-1",
            "-0.5",
            "1e300",
            r#""soon""#,
            r#""5 parsecs""#,
            "true",
            "[1]",
        ] {
            let error = parse(bad).expect_err(bad);
            assert!(
                !error.contains("parsecs") && !error.contains("soon"),
                "{error}"
            );
        }
        assert!(parse("-1").unwrap_err().contains("negative"));
        assert!(parse(r#""soon""#).unwrap_err().contains("250ms"));
    }

    #[test]
    fn round_trips_through_serialize() {
        let value = Duration::from_millis(1500);
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, "1.5");
        assert_eq!(serde_json::from_str::<Duration>(&json).unwrap(), value);
        assert_eq!(value.to_string(), "1s 500ms");
        assert_eq!(Duration::ZERO.non_zero(), None);
        assert_eq!(
            value.non_zero(),
            Some(std::time::Duration::from_millis(1500))
        );
    }

    #[test]
    fn the_settings_error_names_the_full_key() {
        let settings = crate::Settings::new("svc");
        settings
            .set_internal("system.resources.db.timeout", "a while")
            .unwrap();
        let error = settings
            .get::<Duration>("system.resources.db.timeout")
            .unwrap_err()
            .to_string();
        assert!(error.contains("system.resources.db.timeout"), "{error}");
        assert!(!error.contains("a while"), "{error}");
    }
}
