//! Discovery: the live instances of one service, read once and then followed with a watch
//! from the revision after the read. While etcd is away the last good list stays; when it
//! answers again the list is read afresh and followed from there.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use tokio::sync::watch;

use super::session::{bounded, retry_backoff};
use crate::registry::Instance;

/// The instances of a service as last read, and the revision they are current at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceList {
    /// The instances, by instance id.
    pub instances: Arc<Vec<Instance>>,
    /// The etcd revision the list reflects (0 before the first read, or without etcd).
    pub revision: i64,
    /// Whether the list is being followed now (false while etcd is away: the list is the last
    /// good one).
    pub live: bool,
}

/// Follows the keys under `prefix` (`<path>/<service>/`) into `list` until aborted.
pub(crate) async fn follow(
    client: Client,
    prefix: String,
    within: Duration,
    list: watch::Sender<Option<InstanceList>>,
) {
    let mut backoff = retry_backoff();
    let mut warned = false;
    loop {
        let reason = match read_and_watch(&client, &prefix, within, &list).await {
            Ok(()) => "the watch stream ended".to_owned(),
            Err(reason) => reason,
        };
        list.send_if_modified(|current| match current {
            Some(current) if current.live => {
                current.live = false;
                true
            }
            _ => false,
        });
        if !warned {
            tracing::warn!(
                prefix = %prefix,
                "discovery lost etcd ({reason}); keeping the last list and retrying"
            );
            warned = true;
        }
        tokio::time::sleep(backoff.next_delay()).await;
        if list.borrow().as_ref().is_some_and(|l| l.live) {
            backoff.reset();
            warned = false;
        }
    }
}

/// One read of the prefix, then one watch from the next revision, applying every change.
async fn read_and_watch(
    client: &Client,
    prefix: &str,
    within: Duration,
    list: &watch::Sender<Option<InstanceList>>,
) -> Result<(), String> {
    let options = GetOptions::new().with_prefix();
    let mut read = client.clone();
    let response = bounded(within, read.get(prefix, Some(options))).await?;
    let mut revision = response.header().map_or(0, |h| h.revision());
    let mut known: BTreeMap<String, Instance> = BTreeMap::new();
    for kv in response.kvs() {
        if let Some((id, instance)) = parse(prefix, kv.key(), kv.value()) {
            known.insert(id, instance);
        }
    }
    publish(list, &known, revision, true);
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1);
    let mut watcher = client.clone();
    let mut stream = bounded(within, watcher.watch(prefix, Some(options))).await?;
    loop {
        let Some(response) = stream.message().await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        if response.canceled() {
            return Err(format!("watch canceled: {}", response.cancel_reason()));
        }
        let mut changed = false;
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            revision = revision.max(kv.mod_revision());
            let Some(id) = instance_id(prefix, kv.key()) else {
                continue;
            };
            match event.event_type() {
                EventType::Put => {
                    if let Some((id, instance)) = parse(prefix, kv.key(), kv.value()) {
                        known.insert(id, instance);
                        changed = true;
                    }
                }
                EventType::Delete => changed |= known.remove(&id).is_some(),
            }
        }
        if changed {
            publish(list, &known, revision, true);
        }
    }
}

fn publish(
    list: &watch::Sender<Option<InstanceList>>,
    known: &BTreeMap<String, Instance>,
    revision: i64,
    live: bool,
) {
    list.send_replace(Some(InstanceList {
        instances: Arc::new(known.values().cloned().collect()),
        revision,
        live,
    }));
}

/// The instance id of a key directly under `prefix`; deeper keys are not instances.
fn instance_id(prefix: &str, key: &[u8]) -> Option<String> {
    let id = std::str::from_utf8(key.strip_prefix(prefix.as_bytes())?).ok()?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_owned())
}

/// The instance a key holds; a value that is not a record is skipped with a debug note.
fn parse(prefix: &str, key: &[u8], value: &[u8]) -> Option<(String, Instance)> {
    let id = instance_id(prefix, key)?;
    match serde_json::from_slice::<Instance>(value) {
        Ok(instance) => Some((id, instance)),
        Err(error) => {
            tracing::debug!(key = %String::from_utf8_lossy(key), "not an instance record: {error}");
            None
        }
    }
}
