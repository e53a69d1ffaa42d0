//! [`Point`]: one measurement with tags, fields and a timestamp, and its line-protocol form.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// A 64-bit float.
    Float(f64),
    /// A signed 64-bit integer (written `42i`).
    Integer(i64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
}

macro_rules! field_from {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl From<$ty> for FieldValue {
            fn from(value: $ty) -> Self {
                FieldValue::$variant(value.into())
            }
        })*
    };
}

field_from! {
    f64 => Float, f32 => Float, i64 => Integer, i32 => Integer, i16 => Integer, u32 => Integer,
    u16 => Integer, u8 => Integer, i8 => Integer, bool => Boolean, String => String,
    &str => String,
}

/// One point: a measurement, tags, at least one field and an optional timestamp in
/// nanoseconds since the Unix epoch (the server's clock when absent).
///
/// ```
/// use tamarco::influxdb::Point;
///
/// let point = Point::new("cpu").tag("host", "web 1").field("load", 0.5).field("cores", 4).at(1_000);
/// assert_eq!(point.to_line(), "cpu,host=web\\ 1 load=0.5,cores=4i 1000");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
    timestamp: Option<i64>,
}

impl Point {
    /// A point of `measurement`, without tags, fields or timestamp yet.
    pub fn new(measurement: impl Into<String>) -> Self {
        Point {
            measurement: measurement.into(),
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
        }
    }

    /// Adds a tag (indexed, text).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// Sets the timestamp, in nanoseconds since the Unix epoch.
    pub fn at(mut self, nanos: i64) -> Self {
        self.timestamp = Some(nanos);
        self
    }

    /// Sets the timestamp to now, by this machine's clock.
    pub fn now(self) -> Self {
        self.at(now_nanos())
    }

    /// The measurement's name.
    pub fn measurement(&self) -> &str {
        &self.measurement
    }

    /// Whether the point can be written: a measurement and at least one field.
    pub fn is_valid(&self) -> bool {
        !self.measurement.is_empty() && !self.fields.is_empty()
    }

    /// The point in the line protocol, without the trailing newline.
    pub fn to_line(&self) -> String {
        let mut line = String::new();
        self.write_line(&mut line);
        line.pop();
        line
    }

    /// Appends the point's line, with its newline, to `out`.
    pub(crate) fn write_line(&self, out: &mut String) {
        escape(out, &self.measurement, &[',', ' ']);
        for (key, value) in &self.tags {
            out.push(',');
            escape(out, key, &[',', '=', ' ']);
            out.push('=');
            escape(out, value, &[',', '=', ' ']);
        }
        let mut separator = ' ';
        for (key, value) in &self.fields {
            out.push(separator);
            separator = ',';
            escape(out, key, &[',', '=', ' ']);
            out.push('=');
            match value {
                FieldValue::Float(v) => {
                    let _ = write!(out, "{v}");
                }
                FieldValue::Integer(v) => {
                    let _ = write!(out, "{v}i");
                }
                FieldValue::Boolean(v) => out.push_str(if *v { "true" } else { "false" }),
                FieldValue::String(v) => {
                    out.push('"');
                    escape(out, v, &['"']);
                    out.push('"');
                }
            }
        }
        if let Some(nanos) = self.timestamp {
            let _ = write!(out, " {nanos}");
        }
        out.push('\n');
    }
}

/// Nanoseconds since the Unix epoch, by this machine's clock.
pub(crate) fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Backslash-escapes `special` characters and backslashes; newlines cannot be escaped, so
/// they become spaces (escaped where spaces are special).
fn escape(out: &mut String, text: &str, special: &[char]) {
    for c in text.chars() {
        let c = if c == '\n' || c == '\r' { ' ' } else { c };
        if c == '\\' || special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_are_escaped_where_the_protocol_needs_it() {
        let point = Point::new("disk use,total")
            .tag("path", "/a=b,c")
            .field("note", "said \"hi\"\nbye")
            .field("full", true);
        assert_eq!(
            point.to_line(),
            r#"disk\ use\,total,path=/a\=b\,c note="said \"hi\" bye",full=true"#
        );
    }
}
