//! etcd (v3 API) as a settings source and backend, behind the `etcd` feature.
//!
//! # Enabling it
//!
//! The runtime connects at start when `TAMARCO_ETCD_HOST` or `TAMARCO_ETCD_ENDPOINTS` is set
//! ([`EtcdConfig::from_env`]); code can also call [`connect`] with an [`EtcdConfig`] built by
//! hand.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TAMARCO_ETCD_HOST` | host of one endpoint | (etcd off) |
//! | `TAMARCO_ETCD_PORT` | its port | 2379 |
//! | `TAMARCO_ETCD_ENDPOINTS` | comma list of `host:port` or `http(s)://host:port`, for a cluster | |
//! | `TAMARCO_ETCD_USER`, `TAMARCO_ETCD_PASSWORD` | credentials (the password is never logged or shown) | none |
//! | `TAMARCO_ETCD_TLS_CA_FILE`, `..._CERT_FILE`, `..._KEY_FILE`, `..._DOMAIN` | TLS (feature `etcd-tls`) | off |
//! | `TAMARCO_ETCD_PREFIX` | prepended to every etcd key (`apps/`) | empty |
//! | `TAMARCO_ETCD_CONNECT_RETRIES` | retries at start, waits doubling from 0.2 s to 5 s, then the service fails naming the endpoints | 5 |
//! | `ETCD_CHECK_KEY` | wait for this key before starting (dotted, or a raw etcd key if it contains `/`) | none |
//! | `TAMARCO_ETCD_CHECK_RETRIES` | seconds to wait for `ETCD_CHECK_KEY`, logged each second, then fail | 10 |
//!
//! # Mapping
//!
//! One etcd key per leaf ([`KeyMapping`]): `system.resources.db.port` is stored at
//! `<prefix>system/resources/db/port`, its value JSON (`5432`, `"5432"`, `true`, `null`,
//! `[1, 2]`). A value that is not valid JSON reads as a string (keys written by other tools).
//! The registry's subtree (`<prefix>system/discovery/` by default, see
//! [`registry`](crate::registry)) is skipped: its records are not settings.
//! Lists are leaves. A subtree reads back as a nested map. At start everything under
//! `<prefix>system/` is loaded into [`Layer::Etcd`].
//!
//! # Live updates
//!
//! One watch over `<prefix>system/`, from the loaded revision + 1, applies each batch of
//! events at once (watchers fire once per batch). When the stream or the connection is lost
//! the service keeps its last values, logs one warning, shows `"etcd":"DISCONNECTED"` in
//! `/status`, and reconnects with backoff for as long as it runs; the watch resumes at the last
//! seen revision + 1, so no change is missed. If that revision was compacted meanwhile, the
//! whole prefix is read again and watchers see only what changed.
//!
//! # Writes
//!
//! With etcd attached, [`Settings::set`] and [`Settings::delete`] write through it. A map is
//! stored leaf by leaf in one transaction that also removes the old leaves under the key, and
//! `set` returns once the watch has applied the write, so a read that follows sees it.

mod config;
mod follow;
mod keys;
mod rpc;
mod store;
mod tls;

use std::sync::Arc;

use serde_json::Value;

use self::follow::{Follower, Health};
use super::running::Sources;
use super::{Layer, Settings, SettingsBackend, SettingsError};
use futures_util::future::BoxFuture;

pub use config::{
    CHECK_KEY_VAR, CHECK_RETRIES_VAR, CONNECT_RETRIES_VAR, ENDPOINTS_VAR, EtcdConfig, EtcdTls,
    HOST_VAR, PASSWORD_VAR, PORT_VAR, PREFIX_VAR, TLS_CA_VAR, TLS_CERT_VAR, TLS_DOMAIN_VAR,
    TLS_KEY_VAR, USER_VAR,
};
pub use keys::KeyMapping;
pub use store::{EtcdStore, Snapshot};

/// The root key a service loads and watches.
const ROOT: &str = "system";

/// Connects `settings` to etcd: waits for the check key if there is one, loads everything
/// under `<prefix>system/` into the etcd layer, makes `set`/`delete` write through etcd, and
/// follows changes until the returned [`Sources`] drop. Must run inside a tokio runtime.
pub async fn connect(settings: &Settings, config: EtcdConfig) -> Result<Sources, SettingsError> {
    let store = EtcdStore::connect(config).await?;
    if let Some(key) = store.config().check_key() {
        store
            .wait_for_key(key, store.config().check_retries())
            .await?;
    }
    let mut skip = registry_subtree(settings, store.mapping())?;
    let mut snapshot = store.snapshot_skipping(ROOT, &skip).await?;
    settings.name_source(Layer::Etcd, store.config().mapping().prefix());
    settings.replace_layer(Layer::Etcd, snapshot.tree);
    // The registry's path may be set in etcd itself: read it again with etcd loaded, and load
    // again without that subtree when it moved.
    let moved = registry_subtree(settings, store.mapping())?;
    if moved != skip {
        skip = moved;
        snapshot = store.snapshot_skipping(ROOT, &skip).await?;
        settings.replace_layer(Layer::Etcd, snapshot.tree);
    }
    let health = Health::new(snapshot.revision);
    settings.attach_backend(Arc::new(EtcdBackend {
        store: store.clone(),
        health: Arc::clone(&health),
    }));
    tracing::info!(
        "settings from {}: loaded at revision {}; following changes",
        store.describe(),
        snapshot.revision
    );
    let follower =
        Follower::new(store.clone(), settings.clone(), health, snapshot.revision).skipping(skip);
    let mut sources = Sources::default();
    sources.set_etcd(store);
    sources.keep(tokio::spawn(follower.run()));
    Ok(sources)
}

/// The etcd key prefix of the registry's records (`<prefix>system/discovery/`), which the
/// settings loader and its watch skip: registrations are not settings. Its dotted path is
/// `system.resources.registry.path`, read from the settings as loaded so far.
fn registry_subtree(settings: &Settings, mapping: &KeyMapping) -> Result<String, SettingsError> {
    let path_key = format!("{}.path", crate::registry::ROOT);
    let path: String = settings.get_or(&path_key, crate::registry::DEFAULT_PATH.to_owned())?;
    mapping
        .subtree_prefix(&path)
        .map_err(|error| SettingsError::Invalid {
            key: path_key,
            message: error.to_string(),
        })
}

/// What [`Settings::set`] and [`Settings::delete`] write through.
struct EtcdBackend {
    store: EtcdStore,
    health: Arc<Health>,
}

impl EtcdBackend {
    /// Waits until the follower applied `revision`, when the key is one it follows, so that the
    /// local apply of [`Settings::set`] never races an older event.
    async fn settle(&self, key: &str, revision: i64) {
        let followed = key == ROOT
            || key
                .strip_prefix(ROOT)
                .is_some_and(|rest| rest.starts_with('.'));
        if followed
            && !self
                .health
                .wait_applied(revision, self.store.config().request_timeout())
                .await
        {
            tracing::debug!(
                key,
                revision,
                "the etcd watch has not applied the write yet"
            );
        }
    }
}

impl SettingsBackend for EtcdBackend {
    fn describe(&self) -> String {
        self.store.describe()
    }

    fn is_connected(&self) -> bool {
        self.health.is_connected()
    }

    fn layer(&self) -> Layer {
        Layer::Etcd
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a Value,
    ) -> BoxFuture<'a, Result<(), SettingsError>> {
        Box::pin(async move {
            let revision = self.store.put(key, value).await?;
            self.settle(key, revision).await;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SettingsError>> {
        Box::pin(async move {
            let (deleted, revision) = self.store.delete(key).await?;
            if deleted > 0 {
                self.settle(key, revision).await;
            }
            Ok(())
        })
    }
}
