//! Following etcd: one watch over `<prefix>system/` applies each change to the etcd layer and
//! tracks the revision. A lost stream or connection is retried with backoff, for as long as the
//! service runs, and the watch resumes at the last seen revision + 1, so no change is missed;
//! if that revision was compacted meanwhile, the whole prefix is read again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::{EventType, WatchOptions, WatchResponse};

use super::rpc::{describe_error, header_revision};
use super::{EtcdStore, KeyMapping, ROOT, keys};
use crate::settings::{Layer, Settings, SettingsError};

/// Whether etcd is reachable, and the last revision applied to the settings.
#[derive(Debug)]
pub(super) struct Health {
    connected: AtomicBool,
    applied: tokio::sync::watch::Sender<i64>,
}

impl Health {
    pub(super) fn new(revision: i64) -> Arc<Self> {
        Arc::new(Health {
            connected: AtomicBool::new(true),
            applied: tokio::sync::watch::Sender::new(revision),
        })
    }

    pub(super) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Sets the state; returns the previous one.
    fn set_connected(&self, connected: bool) -> bool {
        self.connected.swap(connected, Ordering::Relaxed)
    }

    fn applied(&self, revision: i64) {
        self.applied.send_if_modified(|last| {
            let newer = revision > *last;
            if newer {
                *last = revision;
            }
            newer
        });
    }

    /// Waits (at most `within`) until the change at `revision` has been applied; false if not.
    pub(super) async fn wait_applied(&self, revision: i64, within: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(within, applied.wait_for(|last| *last >= revision))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Why one watch stream ended.
enum Ended {
    /// The stream or the connection was lost.
    Lost(String),
    /// The revision to resume at was compacted: read everything again.
    Compacted(i64),
}

/// The background task that keeps the etcd layer up to date.
pub(super) struct Follower {
    store: EtcdStore,
    settings: Settings,
    health: Arc<Health>,
    revision: i64,
    /// Keys under this prefix are not settings (the registry's records).
    skip: String,
    /// Whether a watch was created already: the first one uses the token of the connect.
    watched_before: bool,
}

impl Follower {
    /// Follows changes made after `revision`, the revision the settings were loaded at.
    pub(super) fn new(
        store: EtcdStore,
        settings: Settings,
        health: Arc<Health>,
        revision: i64,
    ) -> Self {
        Follower {
            store,
            settings,
            health,
            revision,
            skip: String::new(),
            watched_before: false,
        }
    }

    /// Ignores the keys that start with `prefix` (the registry's records).
    pub(super) fn skipping(mut self, prefix: String) -> Self {
        self.skip = prefix;
        self
    }

    /// Runs until the task is aborted (when the service's sources drop).
    pub(super) async fn run(mut self) {
        let mut backoff = self.store.config().backoff();
        loop {
            let reason = match self.follow(&mut backoff).await {
                Ended::Lost(reason) => reason,
                Ended::Compacted(compacted) => match self.reload(compacted).await {
                    Ok(()) => continue,
                    Err(error) => error.to_string(),
                },
            };
            if self.health.set_connected(false) {
                tracing::warn!(
                    "{} lost ({reason}); keeping the last known settings and reconnecting",
                    self.store.describe()
                );
            } else {
                tracing::debug!("{} still unreachable: {reason}", self.store.describe());
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    /// One watch stream, from the revision after the last one seen, until it ends.
    async fn follow(&mut self, backoff: &mut crate::backoff::Backoff) -> Ended {
        let prefix = match self.store.mapping().subtree_prefix(ROOT) {
            Ok(prefix) => prefix,
            Err(error) => return Ended::Lost(error.to_string()),
        };
        if let Err(reason) = self.authenticate().await {
            return Ended::Lost(reason);
        }
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(self.revision + 1)
            .with_progress_notify();
        let within = self.store.config().request_timeout();
        let mut stream =
            match tokio::time::timeout(within, self.store.client().watch(prefix, Some(options)))
                .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => return Ended::Lost(describe_error(&error)),
                Err(_) => return Ended::Lost(format!("no answer to the watch within {within:?}")),
            };
        loop {
            let response = match stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) => return Ended::Lost("the watch stream ended".into()),
                Err(error) => return Ended::Lost(describe_error(&error)),
            };
            if response.canceled() {
                return match response.compact_revision() {
                    0 => Ended::Lost(format!(
                        "the watch was canceled: {}",
                        response.cancel_reason()
                    )),
                    compacted => Ended::Compacted(compacted),
                };
            }
            if response.created() {
                backoff.reset();
                if !self.health.set_connected(true) {
                    tracing::info!(
                        "{} reachable again; resuming the watch at revision {}",
                        self.store.describe(),
                        self.revision + 1
                    );
                }
                continue;
            }
            self.apply(&response);
        }
    }

    /// With credentials, gets a new auth token before the watch is created again: etcd checks
    /// the token only when a watch is created, and refuses one created with a token it forgot
    /// (unused for its `--auth-token-ttl` while the old watch ran, or lost in a restart) by
    /// canceling it, which the client's own refresh of expired tokens does not see.
    async fn authenticate(&mut self) -> Result<(), String> {
        if !self.watched_before || self.store.config().user().is_none() {
            self.watched_before = true;
            return Ok(());
        }
        let within = self.store.config().request_timeout();
        match tokio::time::timeout(within, self.store.client().refresh_token()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(format!("authenticating: {}", describe_error(&error))),
            Err(_) => Err(format!("no answer to authenticating within {within:?}")),
        }
    }

    /// Applies the events of one response as one change of the settings, split where a key
    /// repeats so that no value of it is skipped.
    fn apply(&mut self, response: &WatchResponse) {
        let mapping: &KeyMapping = self.store.mapping();
        let mut changes = Vec::with_capacity(response.events().len());
        let mut last = self.revision;
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            last = last.max(kv.mod_revision());
            if !self.skip.is_empty() && kv.key().starts_with(self.skip.as_bytes()) {
                continue;
            }
            let Some(dotted) = mapping.dotted_key(kv.key()) else {
                keys::skip_warning(kv.key());
                continue;
            };
            let value = match event.event_type() {
                EventType::Put => Some(KeyMapping::decode(kv.value())),
                EventType::Delete => None,
            };
            // A response may carry several revisions of one key (a watch catching up after a
            // reconnect): apply what came before, so that watchers see every value in order.
            if changes.iter().any(|(key, _)| *key == dotted) {
                self.settings
                    .apply(Layer::Etcd, std::mem::take(&mut changes));
            }
            changes.push((dotted, value));
        }
        if response.events().is_empty() {
            // A progress note: every change up to the header's revision has been sent.
            last = last.max(header_revision(response.header()));
        }
        if !changes.is_empty() {
            self.settings.apply(Layer::Etcd, changes);
        }
        self.revision = last;
        self.health.applied(last);
    }

    /// Reads the whole prefix again after a compaction; watchers see only what changed.
    async fn reload(&mut self, compacted: i64) -> Result<(), SettingsError> {
        let snapshot = self.store.snapshot_skipping(ROOT, &self.skip).await?;
        tracing::warn!(
            "{}: revision {} was compacted (oldest kept: {compacted}); read all settings again at revision {}",
            self.store.describe(),
            self.revision + 1,
            snapshot.revision
        );
        self.settings.replace_layer(Layer::Etcd, snapshot.tree);
        self.revision = snapshot.revision;
        self.health.applied(snapshot.revision);
        Ok(())
    }
}
