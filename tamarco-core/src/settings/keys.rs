//! One policy for keys a reader does not expect, shared by every resource and by logging:
//!
//! - a key of the Python original with an equivalent ([`LegacyKey::renamed`]) is read as the
//!   new key, with a one-time warning naming both (the new key wins when both are set);
//! - a key of the original without one ([`LegacyKey::no_effect`]) gets a one-time warning that
//!   it does nothing, and why;
//! - any other key the reader does not know gets a one-time warning naming it and the closest
//!   known key, or fails the start when `system.unknown_keys` is `error`.
//!
//! Every note is kept on the [`Settings`] ([`Settings::key_notes`]) as well as logged, so that
//! tests and tools can list them.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::read::{Decode, read_into};
use super::unknown::{closest, quoted};
use super::{Settings, SettingsError, SettingsView, tree, unknown};

/// The key that chooses between warning (the default) and failing on unknown keys.
pub const UNKNOWN_KEYS_POLICY: &str = "system.unknown_keys";

/// A key of the Python original, and what tamarco does with it.
#[derive(Debug, Clone, Copy)]
pub struct LegacyKey {
    key: &'static str,
    instead: Instead,
}

#[derive(Debug, Clone, Copy)]
enum Instead {
    /// Read as this key, relative to the same root.
    Key(&'static str),
    /// Read by another part of tamarco at this full key.
    Elsewhere(&'static str),
    /// Not read; the text says why.
    Nothing(&'static str),
}

impl LegacyKey {
    /// `old` (relative to the reader's root) is read as `new`.
    pub const fn renamed(old: &'static str, new: &'static str) -> Self {
        LegacyKey {
            key: old,
            instead: Instead::Key(new),
        }
    }

    /// `old` is honoured by another reader, as the full key `new`; this reader drops it.
    pub const fn read_elsewhere(old: &'static str, new: &'static str) -> Self {
        LegacyKey {
            key: old,
            instead: Instead::Elsewhere(new),
        }
    }

    /// `old` has no effect in tamarco; `why` ends the warning.
    pub const fn no_effect(old: &'static str, why: &'static str) -> Self {
        LegacyKey {
            key: old,
            instead: Instead::Nothing(why),
        }
    }

    /// The key, relative to the reader's root.
    pub fn key(&self) -> &'static str {
        self.key
    }
}

/// What a note says about a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KeyNoteKind {
    /// A key of the original, read as `instead` (a full key).
    Renamed {
        /// The full key that is read in its place.
        instead: String,
    },
    /// A key of the original that has no effect.
    NoEffect,
    /// A key nobody reads.
    Unknown {
        /// The closest known key, when one is close.
        closest: Option<String>,
    },
}

/// A warning about one key, given once per [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyNote {
    /// The full dotted key the note is about.
    pub key: String,
    /// What is wrong with it.
    pub kind: KeyNoteKind,
    /// The warning as logged.
    pub message: String,
}

impl Settings {
    /// Every note about legacy and unknown keys given so far, in the order given.
    pub fn key_notes(&self) -> Vec<KeyNote> {
        self.inner.notes.lock().expect("settings lock").clone()
    }

    /// Logs `note` unless a note about the same key was given already.
    pub(crate) fn note_key(&self, note: KeyNote) {
        let mut notes = self.inner.notes.lock().expect("settings lock");
        if notes.iter().any(|n| n.key == note.key) {
            return;
        }
        tracing::warn!(target: "tamarco::settings", "{}", note.message);
        notes.push(note);
    }

    /// Whether unknown keys fail the start (`system.unknown_keys: error`).
    fn unknown_keys_fail(&self) -> Result<bool, SettingsError> {
        let policy: String = self.get_or(UNKNOWN_KEYS_POLICY, "warn".to_owned())?;
        match policy.to_ascii_lowercase().as_str() {
            "warn" => Ok(false),
            "error" => Ok(true),
            _ => Err(SettingsError::Invalid {
                key: UNKNOWN_KEYS_POLICY.to_owned(),
                message: "expected `warn` or `error`".to_owned(),
            }),
        }
    }
}

impl SettingsView {
    /// The whole subtree as one typed value, like [`load`](SettingsView::load), under the
    /// policy of this module: `legacy` keys are read as their new names or noted as having no
    /// effect, and keys `T` does not know are noted with the closest known one (or fail, by
    /// `system.unknown_keys: error`). `T` must deny unknown fields
    /// (`#[serde(deny_unknown_fields)]` on it and on its nested structs), which is how its
    /// known keys are found.
    pub fn load_checked<T: DeserializeOwned>(
        &self,
        legacy: &[LegacyKey],
    ) -> Result<T, SettingsError> {
        self.load_checked_beside(legacy, &[])
    }

    /// [`load_checked`](SettingsView::load_checked) for a subtree that the reader reads through
    /// more than one type: the top-level keys in `beside` are read otherwise, so `T` does not
    /// see them and they are not unknown.
    pub fn load_checked_beside<T: DeserializeOwned>(
        &self,
        legacy: &[LegacyKey],
        beside: &[&str],
    ) -> Result<T, SettingsError> {
        let mut typed = None;
        self.load_checked_into(legacy, beside, &mut read_into(&mut typed))?;
        Ok(typed.expect("a checked load that succeeded kept its value"))
    }

    /// [`load_checked_beside`](SettingsView::load_checked_beside) with the type left out: the
    /// policy is compiled once, not once per settings type.
    fn load_checked_into(
        &self,
        legacy: &[LegacyKey],
        beside: &[&str],
        decode: &mut Decode<'_>,
    ) -> Result<(), SettingsError> {
        let settings = self.settings();
        let mut original = settings
            .value(self.root())
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()));
        let mut had_beside = false;
        for key in beside {
            had_beside |= tree::lookup(&original, key).is_some();
            tree::remove(&mut original, key);
        }
        let mut tree = original.clone();
        self.apply_legacy(&mut tree, legacy);
        let unknown = self.strip_unknown(&mut tree, decode);
        if !unknown.is_empty() && settings.unknown_keys_fail()? {
            let keys: Vec<String> = unknown.iter().map(|k| format!("`{k}`")).collect();
            return Err(SettingsError::Invalid {
                key: unknown[0].clone(),
                message: format!(
                    "unknown key (all unknown here: {}); `{UNKNOWN_KEYS_POLICY}` is `error`",
                    keys.join(", ")
                ),
            });
        }
        if tree == original && !had_beside {
            // The usual read, whose errors name the source of a bad value.
            return settings.decode(self.root(), true, decode).map(drop);
        }
        self.decode_tree("", &tree, decode)
    }

    /// `tree`, the subtree at `key` (relative to the root) as the reader edited it, as one
    /// typed value: text is read as a number where one is expected, as typed reads do, and an
    /// error names the full key and where its value came from.
    #[cfg(feature = "messaging")]
    pub(crate) fn read_tree<T: DeserializeOwned>(
        &self,
        key: &str,
        tree: &Value,
    ) -> Result<T, SettingsError> {
        let mut typed = None;
        self.decode_tree(key, tree, &mut read_into(&mut typed))?;
        Ok(typed.expect("a read that succeeded kept its value"))
    }

    /// [`read_tree`](SettingsView::read_tree) with the type left out.
    fn decode_tree(
        &self,
        key: &str,
        tree: &Value,
        decode: &mut Decode<'_>,
    ) -> Result<(), SettingsError> {
        // The tree read here carries no sources: the settings name the place.
        decode(tree).map_err(|failure| {
            self.settings()
                .snapshot()
                .invalid(&self.full_key(key), &failure)
        })
    }

    /// Moves (or drops) the legacy keys found in `tree`, noting each.
    fn apply_legacy(&self, tree: &mut Value, legacy: &[LegacyKey]) {
        for entry in legacy {
            let Some(value) = tree::lookup(tree, entry.key).cloned() else {
                continue;
            };
            tree::remove(tree, entry.key);
            let old = self.full_key(entry.key);
            let (kind, message) = match entry.instead {
                Instead::Key(new) => {
                    let full = self.full_key(new);
                    let message = match tree::lookup(tree, new) {
                        Some(_) => format!(
                            "setting `{old}` is the Python original's name for `{full}`; both are set, so `{full}` is used: remove `{old}`"
                        ),
                        None => {
                            tree::insert(tree, new, value);
                            format!(
                                "setting `{old}` is the Python original's name for `{full}`: it is read as `{full}`; rename it"
                            )
                        }
                    };
                    (KeyNoteKind::Renamed { instead: full }, message)
                }
                Instead::Elsewhere(full) => (
                    KeyNoteKind::Renamed {
                        instead: full.to_owned(),
                    },
                    format!(
                        "setting `{old}` is the Python original's; tamarco reads it as `{full}` (when that is not set): move it there"
                    ),
                ),
                Instead::Nothing(why) => (
                    KeyNoteKind::NoEffect,
                    format!(
                        "setting `{old}` of the Python original has no effect in tamarco: {why}"
                    ),
                ),
            };
            self.settings().note_key(KeyNote {
                key: old,
                kind,
                message,
            });
        }
    }

    /// Removes every key of `tree` that the type `decode` reads does not know, noting each;
    /// returns their full keys. Stops at the first error of another kind: the typed read
    /// reports it.
    fn strip_unknown(&self, tree: &mut Value, decode: &mut Decode<'_>) -> Vec<String> {
        let mut unknown = Vec::new();
        // Each round removes one key, so a tree of n keys takes at most n + 1 rounds.
        while unknown.len() < 256 {
            let Err(failure) = decode(tree) else { break };
            let Some((field, expected)) = unknown_field(&failure.message) else {
                break;
            };
            let mut path = failure.path;
            if path.last().map(String::as_str) != Some(field) {
                path.push(field.to_owned());
            }
            let relative = path.join(".");
            if tree::lookup(tree, &relative).is_none() {
                break;
            }
            tree::remove(tree, &relative);
            let key = self.full_key(&relative);
            let parent = match relative.rsplit_once('.') {
                Some((parent, _)) => self.full_key(parent),
                None => self.root().to_owned(),
            };
            let closest = closest(field, &expected);
            let hint = match &closest {
                Some(near) => format!("did you mean `{near}`?"),
                None if expected.is_empty() => "it takes no keys".to_owned(),
                None => format!("known keys: {}", quoted(&expected)),
            };
            let message = format!(
                "setting `{key}` is not a key of `{parent}` and is ignored ({hint}); `{UNKNOWN_KEYS_POLICY}: error` makes unknown keys fail the start"
            );
            self.settings().note_key(KeyNote {
                key: key.clone(),
                kind: KeyNoteKind::Unknown { closest },
                message,
            });
            unknown.push(key);
        }
        unknown
    }
}

/// Known keys of a reader that reads key by key (logging) rather than through one type:
/// notes the legacy keys under `root`, then every other key that `known` does not list
/// (dotted, relative to `root`; an entry ending in `.*` takes any key below it).
pub(crate) fn check_known(
    settings: &Settings,
    root: &str,
    known: &[&str],
    legacy: &[LegacyKey],
) -> Result<(), SettingsError> {
    let view = settings.view(root);
    let Some(mut tree) = settings.value(root).filter(Value::is_object) else {
        return Ok(());
    };
    view.apply_legacy(&mut tree, legacy);
    let mut unknown = Vec::new();
    unknown::unlisted(&tree, "", known, &mut unknown);
    for relative in &unknown {
        let (parent, field) = relative.rsplit_once('.').unwrap_or(("", relative));
        let candidates: Vec<&str> = known
            .iter()
            .filter_map(|k| match parent {
                "" => Some(*k),
                _ => k.strip_prefix(parent)?.strip_prefix('.'),
            })
            .map(|rest| rest.split('.').next().unwrap_or(rest))
            .collect();
        let closest = closest(field, &candidates);
        let hint = match &closest {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("known keys: {}", quoted(&candidates)),
        };
        let parent = match parent {
            "" => root.to_owned(),
            _ => view.full_key(parent),
        };
        let key = view.full_key(relative);
        settings.note_key(KeyNote {
            message: format!(
                "setting `{key}` is not a key of `{parent}` and is ignored ({hint}); `{UNKNOWN_KEYS_POLICY}: error` makes unknown keys fail the start"
            ),
            key,
            kind: KeyNoteKind::Unknown { closest },
        });
    }
    if let Some(relative) = unknown.first()
        && settings.unknown_keys_fail()?
    {
        return Err(SettingsError::Invalid {
            key: view.full_key(relative),
            message: format!("unknown key; `{UNKNOWN_KEYS_POLICY}` is `error`"),
        });
    }
    Ok(())
}

/// The field and the known fields of serde's unknown-field message (``unknown field `x`,
/// expected one of `a`, `b` ``, `` expected `a` or `b` ``, `there are no fields`).
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let (field, rest) = message.strip_prefix("unknown field `")?.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).collect();
    Some((field, expected))
}

#[cfg(all(test, feature = "yaml"))]
#[path = "keys_tests.rs"]
mod tests;
