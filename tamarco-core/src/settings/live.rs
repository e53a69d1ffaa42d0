use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::de::DeserializeOwned;

use super::{Settings, SettingsError};

/// A typed handle on one setting that always holds its latest value: a watch decodes each new
/// value once, and [`get`](Live::get) reads it without a lookup or a lock.
///
/// A new value that does not decode is logged with its key and skipped; the handle keeps the
/// last good value.
pub struct Live<T> {
    key: Arc<str>,
    value: Arc<ArcSwap<T>>,
}

impl<T> Clone for Live<T> {
    fn clone(&self) -> Self {
        Live {
            key: Arc::clone(&self.key),
            value: Arc::clone(&self.value),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("key", &self.key)
            .field("value", &self.value.load())
            .finish()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Live<T> {
    pub(super) fn new(
        settings: &Settings,
        key: &str,
        default: Option<T>,
    ) -> Result<Self, SettingsError> {
        let default = default.map(Arc::new);
        let initial = match (settings.get_opt::<T>(key)?, &default) {
            (Some(value), _) => Arc::new(value),
            (None, Some(default)) => Arc::clone(default),
            (None, None) => {
                return Err(SettingsError::Missing {
                    key: key.to_owned(),
                });
            }
        };
        let value = Arc::new(ArcSwap::new(initial));
        let target = Arc::clone(&value);
        let weak = settings.downgrade();
        // Decoded from the settings rather than from the raw value, so that an error names the
        // value's source; calls come in change order, so the last one decodes the last value.
        settings.watch(key, move |key, new| match new {
            Some(_) => match Settings::upgrade(&weak).map(|s| s.get_opt::<T>(key)) {
                Some(Ok(Some(decoded))) => target.store(Arc::new(decoded)),
                Some(Err(error)) => tracing::error!("{error}; keeping the previous value"),
                Some(Ok(None)) | None => {}
            },
            None => match &default {
                Some(default) => target.store(Arc::clone(default)),
                None => tracing::warn!(key, "setting deleted; keeping the previous value"),
            },
        });
        Ok(Live {
            key: Arc::from(key),
            value,
        })
    }
}

impl<T> Live<T> {
    /// The latest value.
    pub fn get(&self) -> Arc<T> {
        self.value.load_full()
    }

    /// The latest value, borrowed: the cheapest read, for hot paths.
    pub fn load(&self) -> arc_swap::Guard<Arc<T>> {
        self.value.load()
    }

    /// The key this handle follows.
    pub fn key(&self) -> &str {
        &self.key
    }
}
