//! Keys a reader does not list, and the known key a mistyped one most likely meant: the pure
//! part of the unknown-key policy (`keys.rs`).

use serde_json::Value;

/// Collects the keys below `node` (at `prefix`) that `known` does not list.
pub(super) fn unlisted(node: &Value, prefix: &str, known: &[&str], out: &mut Vec<String>) {
    let Some(map) = node.as_object() else { return };
    for (name, value) in map {
        let path = match prefix {
            "" => name.clone(),
            _ => format!("{prefix}.{name}"),
        };
        let below = |dir: &str| path == dir || path.starts_with(&format!("{dir}."));
        if known.contains(&path.as_str())
            || known
                .iter()
                .any(|k| k.strip_suffix(".*").is_some_and(below))
        {
            continue;
        }
        if known.iter().any(|k| k.starts_with(&format!("{path}."))) {
            unlisted(value, &path, known, out);
        } else {
            out.push(path);
        }
    }
}

/// The known name closest to `field`, when it is close enough to be a typo of it.
pub(super) fn closest(field: &str, expected: &[&str]) -> Option<String> {
    expected
        .iter()
        .map(|name| (strsim::levenshtein(field, name), *name))
        .filter(|(distance, name)| {
            *distance <= (field.len().max(name.len()) / 3).max(2)
                || name.contains(field)
                || field.contains(name)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.to_owned())
}

/// The names in backquotes, for a message listing them.
pub(super) fn quoted(names: &[&str]) -> String {
    let mut names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    names.dedup();
    names.join(", ")
}
