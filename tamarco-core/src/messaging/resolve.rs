//! An input's options as the engine runs it: settings (`inputs.<name>` under the resource's
//! settings) over code over the resource's defaults, with the former `retry_backoff_ms` read
//! as `retry_backoff`.

use serde_json::Value;

use super::spec::{InputOptions, InputSpec};
use crate::resource::ResourceContext;
use crate::settings::{Duration, KeyNote, KeyNoteKind, SettingsError};

/// The per-input key that `retry_backoff` replaced: an integer of milliseconds.
const RETRY_BACKOFF_MS: &str = "retry_backoff_ms";

/// An input's options: settings (`inputs.<name>`) over code over the resource's defaults.
pub(super) fn resolve(
    cx: &ResourceContext,
    spec: &InputSpec,
    defaults: &InputOptions,
) -> Result<InputOptions, SettingsError> {
    let key = format!("inputs.{}", spec.name());
    let settings = cx.settings();
    let legacy = format!("{key}.{RETRY_BACKOFF_MS}");
    let written = match settings.get_opt::<u64>(&legacy)? {
        None => settings.get_opt::<InputOptions>(&key)?,
        Some(ms) => {
            let mut tree: Value = settings.get(&key)?;
            if let Value::Object(map) = &mut tree {
                map.remove(RETRY_BACKOFF_MS);
            }
            let mut options: InputOptions =
                serde_json::from_value(tree).map_err(|error| SettingsError::Invalid {
                    key: settings.full_key(&key),
                    message: error.to_string(),
                })?;
            let (old, new) = (
                settings.full_key(&legacy),
                settings.full_key(&format!("{key}.retry_backoff")),
            );
            let message = match options.retry_backoff {
                Some(_) => format!(
                    "setting `{old}` is the former name of `{new}`; both are set, so `{new}` is used: remove `{old}`"
                ),
                None => {
                    options.retry_backoff = Some(Duration::from_millis(ms));
                    format!(
                        "setting `{old}` is the former name of `{new}` (a duration: \"{ms}ms\"): it is read as `{new}`; rename it"
                    )
                }
            };
            settings.settings().note_key(KeyNote {
                key: old,
                kind: KeyNoteKind::Renamed { instead: new },
                message,
            });
            Some(options)
        }
    };
    Ok(written.unwrap_or_default().or(spec.options()).or(defaults))
}
