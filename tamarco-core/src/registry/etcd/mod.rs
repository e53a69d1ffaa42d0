//! The registry on etcd: one lease per instance ([`session`]), the instance's record on it
//! ([`register`]), followed lists of other services' instances ([`discover`]) and singleton
//! elections ([`elect`]). Everything starts lazily, on first use.

mod discover;
mod elect;
mod register;
mod session;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::settings::SettingsError;
use crate::settings::etcd::EtcdStore;

pub use discover::InstanceList;
pub(crate) use elect::{Election, Term};
use session::{LeaseState, bounded, request_timeout};

/// A background task aborted when its owner drops.
pub(crate) struct Background(JoinHandle<()>);

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A followed list of one service's instances, and the task that follows it.
type Follower = (watch::Receiver<Option<InstanceList>>, Background);

/// The etcd side of one service's registry.
pub(crate) struct EtcdRegistry {
    store: EtcdStore,
    ttl: Duration,
    /// `<prefix><path>/` with the path's dots as slashes.
    instances_root: String,
    /// `<prefix>tamarco/singletons/<service>/`.
    singletons_root: String,
    session: OnceLock<(watch::Receiver<LeaseState>, Background)>,
    registration: Mutex<Option<(String, Background)>>,
    registered: watch::Sender<bool>,
    followers: Mutex<HashMap<String, Follower>>,
}

impl std::fmt::Debug for EtcdRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdRegistry")
            .field("store", &self.store)
            .field("instances_root", &self.instances_root)
            .finish_non_exhaustive()
    }
}

impl EtcdRegistry {
    pub(crate) fn new(
        store: EtcdStore,
        service: &str,
        path: &str,
        ttl: Duration,
    ) -> Result<Self, SettingsError> {
        let instances_root = store.config().mapping().subtree_prefix(path)?;
        let singletons_root = format!(
            "{}tamarco/singletons/{service}/",
            store.config().mapping().prefix()
        );
        Ok(EtcdRegistry {
            store,
            ttl,
            instances_root,
            singletons_root,
            session: OnceLock::new(),
            registration: Mutex::new(None),
            registered: watch::Sender::new(false),
            followers: Mutex::new(HashMap::new()),
        })
    }

    /// `etcd at <endpoints>`.
    pub(crate) fn describe(&self) -> String {
        self.store.describe()
    }

    /// The etcd key of an instance's record.
    pub(crate) fn instance_key(&self, service: &str, instance_id: &str) -> String {
        format!("{}{service}/{instance_id}", self.instances_root)
    }

    /// The lease, granted and kept alive from the first call on.
    fn lease(&self) -> watch::Receiver<LeaseState> {
        let (state, _) = self.session.get_or_init(|| {
            let (tx, rx) = watch::channel(LeaseState::default());
            let task = tokio::spawn(session::keep(self.store.client(), self.ttl, tx));
            (rx, Background(task))
        });
        state.clone()
    }

    /// Whether etcd answered the registry's last request (true before the first one).
    pub(crate) fn is_connected(&self) -> bool {
        self.session
            .get()
            .is_none_or(|(state, _)| state.borrow().connected)
    }

    /// Whether the record is in etcd now, as far as this instance knows.
    pub(crate) fn is_registered(&self) -> bool {
        *self.registered.borrow()
    }

    /// Waits (at most `within`) until the record is written; false if it was not.
    pub(crate) async fn wait_registered(&self, within: Duration) -> bool {
        let mut registered = self.registered.subscribe();
        tokio::time::timeout(within, registered.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Writes `record` at `key` on the lease and keeps it there until [`leave`](Self::leave).
    pub(crate) fn register(&self, key: String, record: Vec<u8>) {
        let task = tokio::spawn(register::register(
            self.store.client(),
            key.clone(),
            record,
            self.ttl,
            self.lease(),
            self.registered.clone(),
        ));
        *self.registration.lock().expect("registration lock") = Some((key, Background(task)));
    }

    /// Removes the record (bounded); the lease stays for the singletons until [`close`].
    ///
    /// [`close`]: Self::close
    pub(crate) async fn leave(&self) {
        let taken = self.registration.lock().expect("registration lock").take();
        let Some((key, task)) = taken else { return };
        drop(task);
        self.registered.send_replace(false);
        let mut client = self.store.client();
        match bounded(request_timeout(self.ttl), client.delete(key.as_str(), None)).await {
            Ok(_) => tracing::info!(key = %key, "left the registry"),
            Err(reason) => tracing::warn!(
                key = %key,
                "could not remove the registration ({reason}); it expires with the lease"
            ),
        }
    }

    /// Leaves, then revokes the lease (which removes every election key of this instance).
    pub(crate) async fn close(&self) {
        self.leave().await;
        // The keeper stops first: it would take a new lease once this one is revoked.
        let lease = self.session.get().and_then(|(state, keeper)| {
            keeper.0.abort();
            state.borrow().id
        });
        if let Some(id) = lease {
            let mut client = self.store.client();
            if let Err(reason) = bounded(request_timeout(self.ttl), client.lease_revoke(id)).await {
                tracing::debug!(
                    lease = id,
                    "lease not revoked ({reason}); it expires by itself"
                );
            }
        }
        self.followers.lock().expect("followers lock").clear();
    }

    /// The instances of `service`, followed from the first call on; waits (bounded) for the
    /// first read. The last good list when etcd is away.
    pub(crate) async fn instances(&self, service: &str) -> Result<InstanceList, String> {
        let mut list = self.follower(service);
        let within = request_timeout(self.ttl) * 2;
        match tokio::time::timeout(within, list.wait_for(Option::is_some)).await {
            Ok(Ok(list)) => Ok(list.clone().unwrap_or_default()),
            _ => Err(format!(
                "{}: no list of `{service}` instances within {within:?}",
                self.describe()
            )),
        }
    }

    /// The followed list of `service`'s instances (`None` until the first read).
    pub(crate) fn follower(&self, service: &str) -> watch::Receiver<Option<InstanceList>> {
        let mut followers = self.followers.lock().expect("followers lock");
        let (list, _) = followers.entry(service.to_owned()).or_insert_with(|| {
            let (tx, rx) = watch::channel(None);
            let prefix = format!("{}{service}/", self.instances_root);
            let task = tokio::spawn(discover::follow(
                self.store.client(),
                prefix,
                request_timeout(self.ttl),
                tx,
            ));
            (rx, Background(task))
        });
        list.clone()
    }

    /// A candidacy of this instance for the singleton `task`.
    pub(crate) fn election(
        &self,
        task: &str,
        instance_id: &str,
        leader: watch::Sender<Option<String>>,
    ) -> Election {
        Election {
            client: self.store.client(),
            prefix: format!("{}{task}/", self.singletons_root),
            instance_id: instance_id.to_owned(),
            within: request_timeout(self.ttl),
            margin: (self.ttl / 5).max(Duration::from_millis(500)),
            lease: self.lease(),
            leader,
            done_prefix: format!("{}{task}.done/", self.singletons_root),
            done_mark: None,
            ttl: self.ttl,
        }
    }
}
