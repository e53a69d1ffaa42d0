//! An input's options as the engine runs it: settings (`inputs.<name>` under the resource's
//! settings) over code over the resource's defaults, with the former `retry_backoff_ms` read
//! as `retry_backoff`, and the transport's own options (its `INPUT_KEYS`) set apart for it.

use serde_json::Value;

use super::spec::{InputOptions, InputSpec, TransportOption};
use crate::resource::ResourceContext;
use crate::settings::{Duration, KeyNote, KeyNoteKind, SettingsError};

/// The per-input key that `retry_backoff` replaced: an integer of milliseconds.
const RETRY_BACKOFF_MS: &str = "retry_backoff_ms";

/// An input's options, resolved.
#[derive(Debug, Clone)]
pub(super) struct Resolved {
    /// The engine's: settings, code, defaults.
    pub(super) options: InputOptions,
    /// The transport's: settings, code.
    pub(super) transport: Vec<TransportOption>,
}

impl Resolved {
    /// What code and defaults say, without settings (when the settings cannot be read).
    pub(super) fn from_code(spec: &InputSpec, defaults: &InputOptions) -> Resolved {
        Resolved {
            options: spec.options().clone().or(defaults),
            transport: code_options(spec),
        }
    }
}

fn code_options(spec: &InputSpec) -> Vec<TransportOption> {
    spec.transport_options()
        .iter()
        .map(|(key, value)| TransportOption {
            key: key.clone(),
            value: value.clone(),
            from: None,
        })
        .collect()
}

/// An input's options: settings (`inputs.<name>`) over code over the resource's defaults;
/// `transport_keys` under `inputs.<name>` are the transport's, over what the code gave.
pub(super) fn resolve(
    cx: &ResourceContext,
    spec: &InputSpec,
    defaults: &InputOptions,
    transport_keys: &[&str],
) -> Result<Resolved, SettingsError> {
    let key = format!("inputs.{}", spec.name());
    let settings = cx.settings();
    let mut transport = code_options(spec);
    let tree = settings.settings().value(&settings.full_key(&key));
    let own: Vec<(&str, Value)> = transport_keys
        .iter()
        .filter_map(|k| Some((*k, tree.as_ref()?.get(*k)?.clone())))
        .collect();
    let legacy = format!("{key}.{RETRY_BACKOFF_MS}");
    let legacy_ms = settings.get_opt::<u64>(&legacy)?;
    let written = match (own.is_empty(), legacy_ms) {
        // The usual read, whose errors name the source of a bad value.
        (true, None) => settings.get_opt::<InputOptions>(&key)?,
        (_, legacy_ms) => {
            let mut tree = tree.unwrap_or_else(|| Value::Object(Default::default()));
            if let Value::Object(map) = &mut tree {
                map.remove(RETRY_BACKOFF_MS);
                for (k, _) in &own {
                    map.remove(*k);
                }
            }
            let mut options: InputOptions = settings.read_tree(&key, &tree)?;
            if let Some(ms) = legacy_ms {
                read_legacy_backoff(cx, &key, ms, &mut options);
            }
            Some(options)
        }
    };
    for (k, value) in own {
        let option = TransportOption {
            key: k.to_owned(),
            value,
            from: Some(settings.full_key(&format!("{key}.{k}"))),
        };
        match transport.iter_mut().find(|o| o.key == k) {
            Some(slot) => *slot = option,
            None => transport.push(option),
        }
    }
    Ok(Resolved {
        options: written.unwrap_or_default().or(spec.options()).or(defaults),
        transport,
    })
}

/// Takes the former `retry_backoff_ms` as `retry_backoff` unless that is set too; either way
/// the settings note the old key.
fn read_legacy_backoff(cx: &ResourceContext, key: &str, ms: u64, options: &mut InputOptions) {
    let settings = cx.settings();
    let (old, new) = (
        settings.full_key(&format!("{key}.{RETRY_BACKOFF_MS}")),
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
}
