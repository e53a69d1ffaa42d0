//! [`EtcdStore`]: reads and writes settings in etcd through the [`KeyMapping`]. The service's
//! source and backend use it, and so does the `tamarco etcd` command line.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, KeyValue, Txn, TxnOp, WatchOptions,
    WatchStream,
};
use serde_json::Value;

use super::rpc::{bounded, connect_options, header_revision, is_transient};
use super::{EtcdConfig, KeyMapping};
use crate::settings::{SettingsError, tree};

/// etcd's default limit of operations in one transaction (`--max-txn-ops`).
const MAX_TXN_OPS: usize = 128;
/// Attempts of a guarded write whose guard failed (the subtree changed meanwhile).
const REQUEST_ATTEMPTS: u32 = 3;
/// Attempts of one request when the cluster answers "unavailable" (a member just went away):
/// with the doubling backoff this gives the client ~6 s to notice the dead member and route
/// around it.
const UNAVAILABLE_ATTEMPTS: u32 = 6;

/// A connection to etcd (one endpoint or a cluster) that reads and writes settings by dotted
/// key. Cheap to clone.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    config: Arc<EtcdConfig>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Settings read from etcd: the tree and the store's revision when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The tree, rooted at the root of the settings (`{"system": {...}}`).
    pub tree: Value,
    /// The revision of the store the tree was read at.
    pub revision: i64,
}

impl EtcdStore {
    /// Connects to etcd and checks that it answers. Unreachable, it retries
    /// [`connect retries`](EtcdConfig::with_connect_retries) times with exponential backoff,
    /// logging each failure, then fails with an error that names the endpoints.
    pub async fn connect(config: EtcdConfig) -> Result<Self, SettingsError> {
        let options = connect_options(&config)?;
        let attempts = config.connect_retries() + 1;
        let mut backoff = config.backoff();
        let mut attempt = 1;
        loop {
            match Self::try_connect(&config, options.clone()).await {
                Ok(client) => {
                    return Ok(EtcdStore {
                        client,
                        config: Arc::new(config),
                    });
                }
                Err(message) if attempt < attempts => {
                    let wait = backoff.next_delay();
                    tracing::warn!(
                        "{} unreachable (attempt {attempt} of {attempts}): {message}; retrying in {wait:?}",
                        config.describe()
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(message) => {
                    return Err(SettingsError::Source {
                        source_name: config.describe(),
                        message: format!("unreachable after {attempts} attempts: {message}"),
                    });
                }
            }
        }
    }

    async fn try_connect(
        config: &EtcdConfig,
        options: etcd_client::ConnectOptions,
    ) -> Result<Client, String> {
        let within = config.request_timeout();
        let connect = Client::connect(config.endpoints(), Some(options));
        let mut client = bounded(within, connect).await?;
        // Connecting is lazy: only a request shows that a member answers.
        bounded(
            within,
            client.get("tamarco", Some(GetOptions::new().with_count_only())),
        )
        .await?;
        Ok(client)
    }

    /// The configuration this store was connected with.
    pub fn config(&self) -> &EtcdConfig {
        &self.config
    }

    /// `etcd at <endpoints>`, for messages; no secrets.
    pub fn describe(&self) -> String {
        self.config.describe()
    }

    /// The value at a dotted key: a leaf, or the subtree under it rebuilt as a nested map;
    /// `None` when there is neither.
    pub async fn get(&self, dotted: &str) -> Result<Option<Value>, SettingsError> {
        let (kvs, _) = self.read_range(dotted).await?;
        let tree = self
            .mapping()
            .tree(kvs.iter().map(|kv| (kv.key(), kv.value())));
        Ok(tree::lookup(&tree, dotted).cloned())
    }

    /// Everything at and under the dotted key `root` (`system` for a service), as a tree rooted
    /// at the root of the settings, with the revision it was read at.
    pub async fn snapshot(&self, root: &str) -> Result<Snapshot, SettingsError> {
        self.snapshot_skipping(root, "").await
    }

    /// [`snapshot`](Self::snapshot) without the keys that start with `skip` (the registry's
    /// records; an empty `skip` skips nothing).
    pub(super) async fn snapshot_skipping(
        &self,
        root: &str,
        skip: &str,
    ) -> Result<Snapshot, SettingsError> {
        let (kvs, revision) = self.read_range(root).await?;
        let kept = kvs
            .iter()
            .filter(|kv| skip.is_empty() || !kv.key().starts_with(skip.as_bytes()));
        let tree = self.mapping().tree(kept.map(|kv| (kv.key(), kv.value())));
        Ok(Snapshot { tree, revision })
    }

    /// Stores `value` at a dotted key, replacing what was there: a map is stored leaf by leaf
    /// and the old leaves under the key that it does not have are removed, in one transaction
    /// (when it fits etcd's 128 operations). Returns the revision of the write.
    pub async fn put(&self, dotted: &str, value: &Value) -> Result<i64, SettingsError> {
        let leaves = KeyMapping::leaves(dotted, value)?;
        let folder = self.mapping().subtree_prefix(dotted)?;
        for _ in 0..REQUEST_ATTEMPTS {
            // Read the old leaves, and write only if nothing under the key changed meanwhile.
            let (old, revision) = self.read_range(dotted).await?;
            let mut ops = self.write_ops(&leaves)?;
            let new_keys: Vec<Vec<u8>> = ops.keys.clone();
            for kv in &old {
                if !new_keys.iter().any(|k| k.as_slice() == kv.key()) {
                    ops.deletes.push(TxnOp::delete(kv.key(), None));
                }
            }
            let guard = Compare::mod_revision(folder.as_bytes(), CompareOp::Less, revision + 1)
                .with_prefix();
            match self.commit(dotted, vec![guard], ops).await? {
                Some(revision) => return Ok(revision),
                None => continue,
            }
        }
        Err(self.error(
            format!("put `{dotted}`"),
            "the keys under it kept changing concurrently",
        ))
    }

    /// Merges a whole document into etcd, leaf by leaf, without removing other keys (the CLI's
    /// `write-yml`). Returns how many leaves were written.
    pub async fn write_document(&self, document: &Value) -> Result<usize, SettingsError> {
        let leaves = KeyMapping::leaves("", document)?;
        let ops = self.write_ops(&leaves)?;
        self.commit("the document", Vec::new(), ops).await?;
        Ok(leaves.len())
    }

    /// Removes a dotted key and everything under it. Returns how many etcd keys were removed
    /// and the revision.
    pub async fn delete(&self, dotted: &str) -> Result<(i64, i64), SettingsError> {
        let key = self.mapping().etcd_key(dotted)?;
        let folder = self.mapping().subtree_prefix(dotted)?;
        let txn = Txn::new().and_then(vec![
            TxnOp::delete(key.as_bytes(), None),
            TxnOp::delete(folder.as_bytes(), Some(DeleteOptions::new().with_prefix())),
        ]);
        let response = self
            .request(&format!("delete `{dotted}`"), |mut c| {
                let txn = txn.clone();
                async move { c.txn(txn).await }
            })
            .await?;
        let deleted = response
            .op_responses()
            .into_iter()
            .map(|op| match op {
                etcd_client::TxnOpResponse::Delete(d) => d.deleted(),
                _ => 0,
            })
            .sum();
        Ok((deleted, header_revision(response.header())))
    }

    /// Waits until `key` (dotted, or a raw etcd key if it contains `/`) exists, for at most
    /// `retries` seconds, logging each second; then fails naming the key and the endpoints.
    pub async fn wait_for_key(&self, key: &str, retries: u32) -> Result<(), SettingsError> {
        let raw = if key.contains('/') {
            key.to_owned()
        } else {
            self.mapping().etcd_key(key)?
        };
        let mut watch: Option<WatchStream> = None;
        for attempt in 0..=retries {
            let what = format!("check key `{raw}`");
            let found = self
                .request(&what, |mut c| {
                    let raw = raw.clone();
                    async move { c.get(raw, Some(GetOptions::new().with_count_only())).await }
                })
                .await?;
            if found.count() > 0 {
                tracing::info!(key = %raw, "etcd check key found");
                return Ok(());
            }
            if attempt == retries {
                break;
            }
            tracing::info!(key = %raw, "waiting for the etcd check key ({} of {retries} s)", attempt + 1);
            if watch.is_none() {
                let options =
                    WatchOptions::new().with_start_revision(header_revision(found.header()) + 1);
                watch = bounded(
                    self.config.request_timeout(),
                    self.client.clone().watch(raw.as_bytes(), Some(options)),
                )
                .await
                .ok();
            }
            // A put wakes the loop at once; otherwise it checks again after a second.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            loop {
                let Some(stream) = &mut watch else {
                    tokio::time::sleep_until(deadline).await;
                    break;
                };
                match tokio::time::timeout_at(deadline, stream.message()).await {
                    // The "created" answer, or a progress note: keep waiting.
                    Ok(Ok(Some(response)))
                        if response.events().is_empty() && !response.canceled() => {}
                    Ok(Ok(Some(_))) | Err(_) => break,
                    Ok(_) => watch = None,
                }
            }
        }
        Err(SettingsError::Source {
            source_name: self.describe(),
            message: format!(
                "key `{raw}` ({}) did not appear within {retries} s",
                super::config::CHECK_KEY_VAR
            ),
        })
    }

    pub(crate) fn mapping(&self) -> &KeyMapping {
        self.config.mapping()
    }

    pub(crate) fn client(&self) -> Client {
        self.client.clone()
    }

    /// The key and every key under it, with the revision they were read at.
    async fn read_range(&self, dotted: &str) -> Result<(Vec<KeyValue>, i64), SettingsError> {
        let key = self.mapping().etcd_key(dotted)?;
        let folder = format!("{key}/");
        // `key` up to `key0` holds `key` and `key/...` (and a few siblings such as `key-x`,
        // filtered out below); '0' follows '/' in ASCII.
        let options = GetOptions::new().with_range(format!("{key}0"));
        let mut response = self
            .request(&format!("read `{dotted}`"), |mut c| {
                let (key, options) = (key.clone(), options.clone());
                async move { c.get(key, Some(options)).await }
            })
            .await?;
        let revision = header_revision(response.header());
        let kvs = response
            .take_kvs()
            .into_iter()
            .filter(|kv| kv.key() == key.as_bytes() || kv.key().starts_with(folder.as_bytes()))
            .collect();
        Ok((kvs, revision))
    }

    /// The operations that store `leaves`: each leaf is put, a folder in its place is removed,
    /// and so are leaves in the place of its parent folders.
    fn write_ops(&self, leaves: &[(String, Value)]) -> Result<WriteOps, SettingsError> {
        let mut ops = WriteOps::default();
        let mut parents: Vec<String> = Vec::new();
        for (dotted, value) in leaves {
            let key = self.mapping().etcd_key(dotted)?;
            ops.puts
                .push(TxnOp::put(key.as_bytes(), KeyMapping::encode(value), None));
            ops.deletes.push(TxnOp::delete(
                format!("{key}/"),
                Some(DeleteOptions::new().with_prefix()),
            ));
            ops.keys.push(key.into_bytes());
            let mut parent = dotted.as_str();
            while let Some((up, _)) = parent.rsplit_once('.') {
                if !parents.iter().any(|p| p == up) {
                    parents.push(up.to_owned());
                }
                parent = up;
            }
        }
        for parent in parents {
            ops.deletes
                .push(TxnOp::delete(self.mapping().etcd_key(&parent)?, None));
        }
        Ok(ops)
    }

    /// Runs the operations, deletes first, in transactions of at most 128 operations; the
    /// first is guarded by `guard`. `None` when the guard failed (nothing was written).
    async fn commit(
        &self,
        what: &str,
        guard: Vec<Compare>,
        ops: WriteOps,
    ) -> Result<Option<i64>, SettingsError> {
        let all: Vec<TxnOp> = ops.deletes.into_iter().chain(ops.puts).collect();
        let mut revision = 0;
        for (index, chunk) in all.chunks(MAX_TXN_OPS).enumerate() {
            let compares = if index == 0 {
                guard.clone()
            } else {
                Vec::new()
            };
            let txn = Txn::new().when(compares).and_then(chunk.to_vec());
            let response = self
                .request(&format!("write {what}"), |mut c| {
                    let txn = txn.clone();
                    async move { c.txn(txn).await }
                })
                .await?;
            if !response.succeeded() {
                return Ok(None);
            }
            revision = header_revision(response.header());
        }
        Ok(Some(revision))
    }

    /// Runs one request, bounded by the request timeout, retrying a few times when the
    /// cluster is unavailable. Errors name the endpoints and `what` was asked.
    async fn request<T, F>(
        &self,
        what: &str,
        call: impl Fn(Client) -> F,
    ) -> Result<T, SettingsError>
    where
        F: Future<Output = Result<T, etcd_client::Error>>,
    {
        let mut backoff = self.config.backoff();
        let mut attempt = 1;
        loop {
            match bounded(self.config.request_timeout(), call(self.client.clone())).await {
                Ok(value) => return Ok(value),
                Err(message) if attempt < UNAVAILABLE_ATTEMPTS && is_transient(&message) => {
                    tracing::debug!("{}: {what}: {message}; retrying", self.describe());
                    tokio::time::sleep(backoff.next_delay()).await;
                    attempt += 1;
                }
                Err(message) => return Err(self.error(what.to_owned(), &message)),
            }
        }
    }

    fn error(&self, what: String, message: &str) -> SettingsError {
        SettingsError::Source {
            source_name: self.describe(),
            message: format!("{what}: {message}"),
        }
    }
}

/// The operations of a write, kept apart so that deletes run before puts.
#[derive(Default)]
struct WriteOps {
    deletes: Vec<TxnOp>,
    puts: Vec<TxnOp>,
    keys: Vec<Vec<u8>>,
}
