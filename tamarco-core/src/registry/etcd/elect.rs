//! Elections for cluster singletons, on plain keys: each candidate puts
//! `<prefix>tamarco/singletons/<service>/<task>/<lease id>` on its lease; the key with the
//! lowest create revision leads. The others watch the prefix and look again on every change.
//!
//! Fencing: the leader acts only while its lease is certainly alive, that is until the time
//! the last acknowledged renewal was sent plus the TTL, less a margin. etcd cannot expire the
//! lease (and so elect another) before that, so two instances never act at once.

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, GetOptions, PutOptions, SortOrder, SortTarget, Txn, TxnOp,
    WatchOptions,
};
use tokio::sync::watch;
use tokio::time::Instant;

use super::Background;
use super::register::register;
use super::session::{LeaseState, bounded, retry_backoff};

/// One instance's candidacy for one singleton.
pub(crate) struct Election {
    pub(crate) client: Client,
    /// `<prefix>tamarco/singletons/<service>/<task>/`.
    pub(crate) prefix: String,
    pub(crate) instance_id: String,
    pub(crate) within: Duration,
    pub(crate) margin: Duration,
    pub(crate) lease: watch::Receiver<LeaseState>,
    /// The current leader's instance id, for `/status`.
    pub(crate) leader: watch::Sender<Option<String>>,
    /// `<prefix>tamarco/singletons/<service>/<task>.done/`: one key per instance that knows
    /// the singleton's work completed, each on its instance's lease, so that the mark lasts
    /// while any instance of the cluster does (and a new cluster runs the work again).
    pub(crate) done_prefix: String,
    /// Keeps this instance's done mark on its lease (written again on a new lease).
    pub(crate) done_mark: Option<Background>,
    pub(crate) ttl: Duration,
}

/// Leadership won on one lease: valid until [`Term::lost`] completes.
pub(crate) struct Term {
    lease: watch::Receiver<LeaseState>,
    id: i64,
    margin: Duration,
    resign: Option<(Client, String)>,
}

impl Election {
    /// Waits until this instance leads.
    pub(crate) async fn lead(&mut self) -> Term {
        let mut backoff = retry_backoff();
        loop {
            match self.try_lead().await {
                Ok(Some(term)) => return term,
                Ok(None) => backoff.reset(),
                Err(reason) => {
                    tracing::debug!(election = %self.prefix, "election interrupted: {reason}");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    /// Campaigns on the current lease: `Some` once leading, `None` when the lease changed.
    async fn try_lead(&mut self) -> Result<Option<Term>, String> {
        let Some(id) = self.current_lease().await else {
            return Ok(None);
        };
        let key = format!("{}{id:016x}", self.prefix);
        let create = Txn::new()
            .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key.as_str(),
                self.instance_id.as_str(),
                Some(PutOptions::new().with_lease(id)),
            )]);
        bounded(self.within, self.client.txn(create)).await?;
        loop {
            let options = GetOptions::new()
                .with_prefix()
                .with_sort(SortTarget::Create, SortOrder::Ascend);
            let response = bounded(
                self.within,
                self.client.get(self.prefix.as_str(), Some(options)),
            )
            .await?;
            let first = response.kvs().first();
            self.leader
                .send_replace(first.map(|kv| String::from_utf8_lossy(kv.value()).into_owned()));
            if !response.kvs().iter().any(|kv| kv.key() == key.as_bytes()) {
                return Ok(None); // our key is gone with its lease: campaign again
            }
            if first.is_some_and(|kv| kv.key() == key.as_bytes()) {
                return Ok(Some(Term {
                    lease: self.lease.clone(),
                    id,
                    margin: self.margin,
                    resign: Some((self.client.clone(), key)),
                }));
            }
            let revision = response.header().map_or(0, |h| h.revision());
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(revision + 1);
            let mut stream = bounded(
                self.within,
                self.client.watch(self.prefix.as_str(), Some(options)),
            )
            .await?;
            // Any change under the prefix may change the order; so may a new lease.
            loop {
                tokio::select! {
                    message = stream.message() => match message {
                        // etcd cancels a watch (its revision compacted, its permission gone)
                        // and leaves the stream open: campaign again on a new read and watch.
                        Ok(Some(response)) if response.canceled() => {
                            return Err(match response.compact_revision() {
                                0 => format!("the watch was canceled: {}", response.cancel_reason()),
                                oldest => format!(
                                    "the watch was canceled: its revision was compacted (history starts at {oldest})"
                                ),
                            });
                        }
                        Ok(Some(response)) if response.events().is_empty() => continue,
                        Ok(Some(_)) => break,
                        Ok(None) => return Err("the watch stream ended".into()),
                        Err(error) => return Err(error.to_string()),
                    },
                    changed = self.lease.changed() => {
                        if changed.is_err() || self.lease.borrow().id != Some(id) {
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// Whether an instance completed the singleton's work; asks until etcd answers.
    pub(crate) async fn is_done(&mut self) -> bool {
        let mut backoff = retry_backoff();
        loop {
            let options = GetOptions::new().with_prefix().with_count_only();
            let asked = self.client.get(self.done_prefix.as_str(), Some(options));
            match bounded(self.within, asked).await {
                Ok(answer) => return answer.count() > 0,
                Err(reason) => {
                    tracing::debug!(election = %self.prefix, "done mark not read: {reason}");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    /// Marks the singleton's work done on this instance's lease (waits until written) and
    /// keeps the mark there until the election is dropped.
    pub(crate) async fn mark_done(&mut self) {
        let (written, mut seen) = watch::channel(false);
        let task = tokio::spawn(register(
            self.client.clone(),
            format!("{}{}", self.done_prefix, self.instance_id),
            b"done".to_vec(),
            self.ttl,
            self.lease.clone(),
            written,
        ));
        self.done_mark = Some(Background(task));
        let _ = seen.wait_for(|written| *written).await;
        self.leader.send_replace(None);
    }

    /// The current lease id, waiting for one.
    async fn current_lease(&mut self) -> Option<i64> {
        self.lease
            .wait_for(|state| state.id.is_some())
            .await
            .ok()
            .and_then(|state| state.id)
    }
}

impl Term {
    /// Completes when this instance must stop acting: its lease changed, or the last
    /// acknowledged renewal is about to run out (`margin` before etcd could expire it).
    pub(crate) async fn lost(&mut self) {
        loop {
            let state = *self.lease.borrow_and_update();
            let Some(until) = state.valid_until.filter(|_| state.id == Some(self.id)) else {
                return;
            };
            let fence = until.checked_sub(self.margin).unwrap_or(until);
            if Instant::now() >= fence {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(fence) => {}
                changed = self.lease.changed() => if changed.is_err() { return },
            }
        }
    }
}

impl Term {
    /// Resigns: deletes the election key (bounded), so that another instance takes over at
    /// once rather than after the TTL. Done before campaigning again, so that a late delete
    /// never removes the key of the next campaign.
    pub(crate) async fn resign(mut self) {
        if let Some((mut client, key)) = self.resign.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), client.delete(key, None)).await;
        }
    }
}

impl Drop for Term {
    /// A term dropped without [`Term::resign`] (the task cancelled at stop) resigns in the
    /// background. Best effort; the lease's revocation at stop removes the key anyway.
    fn drop(&mut self) {
        if let Some((mut client, key)) = self.resign.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), client.delete(key, None)).await;
            });
        }
    }
}
