//! The readable line: time, level, logger, source location, tags, message, extra fields (the
//! error's whole chain included). Coloured only when asked (stdout on a terminal).

use std::fmt::Write;

use tracing::Level;

use super::record::{FieldValue, Record};
use super::time::write_rfc3339_millis;

/// `2024-05-01T12:30:00.123Z  INFO orders src/main.rs:42: [billing] paid order=7 user="ann"`
pub(crate) fn line(record: &Record, ansi: bool) -> String {
    let mut out = String::with_capacity(128 + record.message.len());
    write_rfc3339_millis(&mut out, record.time);
    out.push(' ');
    let (level, colour) = match record.level {
        Level::ERROR => ("ERROR", "31"),
        Level::WARN => (" WARN", "33"),
        Level::INFO => (" INFO", "32"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::TRACE => ("TRACE", "35"),
    };
    if ansi {
        let _ = write!(out, "\x1b[{colour}m{level}\x1b[0m \x1b[2m{}", record.target);
    } else {
        let _ = write!(out, "{level} {}", record.target);
    }
    if let Some(file) = &record.file {
        let _ = write!(out, " {file}");
        if let Some(line) = record.line {
            let _ = write!(out, ":{line}");
        }
    }
    out.push(':');
    if ansi {
        out.push_str("\x1b[0m");
    }
    if !record.tags.is_empty() {
        let _ = write!(out, " [{}]", record.tags.join(","));
    }
    out.push(' ');
    out.push_str(&record.message);
    for (index, (name, value)) in record.fields.iter().enumerate() {
        // A later field of the same name (the event's over its span's) wins.
        if record.fields[index + 1..].iter().any(|(n, _)| n == name) {
            continue;
        }
        let _ = write!(out, " {name}=");
        write_value(&mut out, value);
    }
    out
}

fn write_value(out: &mut String, value: &FieldValue) {
    let _ = match value {
        FieldValue::Str(s) => write!(out, "{s:?}"),
        FieldValue::Debug(s) => write!(out, "{s}"),
        FieldValue::I64(v) => write!(out, "{v}"),
        FieldValue::U64(v) => write!(out, "{v}"),
        FieldValue::I128(v) => write!(out, "{v}"),
        FieldValue::U128(v) => write!(out, "{v}"),
        FieldValue::F64(v) => write!(out, "{v}"),
        FieldValue::Bool(v) => write!(out, "{v}"),
        FieldValue::Error { chain, .. } => write!(out, "{chain:?}"),
    };
}
