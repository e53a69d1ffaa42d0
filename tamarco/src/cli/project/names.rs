//! The checks on a project's answers: names Cargo and Rust accept, versions, one-line texts
//! that the templates can quote.

use std::str::FromStr;

/// Checks a project name: what Cargo accepts as a package name, and a directory name.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid && !is_reserved(name) {
        Ok(())
    } else {
        Err(format!(
            "invalid project name `{name}`: a valid name starts with an ASCII letter, has only \
             ASCII letters, digits, `-` and `_`, at most 64 of them, and is not a Rust keyword \
             or `test` (`orders`, `price-feed`)"
        ))
    }
}

/// Checks a slug: a Rust identifier in snake case.
pub fn check_slug(slug: &str) -> Result<(), String> {
    let valid = slug.starts_with(|c: char| c.is_ascii_lowercase())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid && !is_reserved(slug) {
        Ok(())
    } else {
        Err(format!(
            "invalid slug `{slug}`: a valid slug is a snake_case Rust identifier (lowercase ASCII \
             letters, digits and `_`, starting with a letter, not a keyword), like `price_feed`"
        ))
    }
}

fn is_reserved(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "gen",
        "test",
        "core",
        "std",
        "alloc",
        "proc_macro",
        "tamarco",
    ];
    RESERVED.contains(&name.replace('-', "_").as_str())
}

pub(super) fn check_version(version: &str) -> Result<(), String> {
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| u64::from_str(p).is_ok()) {
        Ok(())
    } else {
        Err(format!(
            "invalid version `{version}`: give MAJOR.MINOR.PATCH, like `0.1.0`"
        ))
    }
}

pub(super) fn check_line(what: &str, value: &str) -> Result<(), String> {
    if value.contains(['"', '\\', '\n', '\r']) {
        Err(format!(
            "invalid {what} `{value}`: no quotes, backslashes or line breaks"
        ))
    } else {
        Ok(())
    }
}
