//! Input names kept for the life of the process, so that every message carries its input's
//! name without counting references (an `Arc<str>` costs two atomic operations per message).
//! Each distinct name is stored once, however often its input restarts; a service declares a
//! handful.

use std::sync::Mutex;

/// `name`, stored once for the life of the process.
pub(crate) fn interned(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(kept) = names.iter().find(|kept| **kept == name) {
        return kept;
    }
    let kept: &'static str = Box::leak(name.into());
    names.push(kept);
    kept
}

#[cfg(test)]
mod tests {
    use super::interned;

    #[test]
    fn a_name_is_stored_once() {
        let first = interned("orders");
        let again = interned(&String::from("orders"));
        assert!(std::ptr::eq(first, again));
        assert_eq!(interned("prices"), "prices");
    }
}
