//! The registry: each instance of a service writes itself into etcd so that others can find
//! it ([`Registry::instances`]), and cluster singletons (`#[task_timer(singleton)]`,
//! `#[task(singleton)]`) run in one instance at a time, chosen by an etcd election.
//!
//! # Registration
//!
//! With `system.resources.registry.enabled: true` (off by default, as in the original) and
//! etcd configured (`TAMARCO_ETCD_HOST`, feature `etcd`), each instance writes an [`Instance`]
//! record (service, instance id, deploy name, version, host, the addresses of its servers,
//! start time) at `<path>/<service>/<instance id>` (`system/discovery/...` by default) on a
//! lease one second shorter than `ttl_seconds` (5), so that etcd, which expires leases on a
//! half-second tick, has removed a killed instance within `ttl_seconds` (from 3 s on: etcd
//! grants no lease under 2 s by default). The keep-alive never gives up: after an etcd outage,
//! or when the lease expired meanwhile, the instance is back as soon as etcd answers (retries
//! are at most half a second apart). A graceful stop removes the record first, before the
//! tasks stop and the servers drain, so callers stop picking the instance; a killed instance
//! disappears when its lease expires. The settings loader and its watch skip the registry's
//! subtree: records are not settings.
//!
//! # Discovery
//!
//! [`Registry::instances`] reads a service's instances once and then follows them with a
//! watch from the revision after that read; later calls answer from the followed list, which
//! is kept as it was while etcd is away. [`Registry::watch`] hands out the followed list.
//! Without etcd the instances come from `system.resources.registry.static.<service>` (a
//! list of `host:port`), with one warning.
//!
//! # Singletons
//!
//! Each instance campaigns for each singleton task on its lease (keys under
//! `<prefix>tamarco/singletons/<service>/<task>/`); the oldest campaign leads. The leader runs
//! the task only while its lease is certainly alive: a margin (a fifth of the TTL, at least
//! 0.5 s) before the last acknowledged renewal could run out, it cancels the task (fencing),
//! so two instances never act at once. When the leader stops, it resigns and another takes
//! over at once; when it dies, another takes over within the TTL. Work that completes (a
//! one-shot timer, a task that returns) is done for the cluster: the leader marks it done and
//! gives the lead up, and no instance runs it again while one that saw the mark lives (a
//! cluster started afresh runs it again). `/status` shows each
//! singleton's leader under the `registry` resource. Without etcd, singletons run in every
//! instance, with one warning.
//!
//! The settings are in [`RegistrySettings`].

#[cfg(feature = "etcd")]
mod etcd;
mod record;
mod resource;
mod settings;
pub(crate) mod singleton;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

pub use record::Instance;
pub(crate) use resource::RegistryResource;
pub use settings::{DEFAULT_PATH, ROOT, RegistrySettings};
pub(crate) use singleton::Candidate;

use crate::settings::{Settings, SettingsError};

/// The instances of a service, as last read, with the etcd revision they reflect.
#[cfg(feature = "etcd")]
pub use etcd::InstanceList;

/// The instances of a service, as last read, with the etcd revision they reflect.
#[cfg(not(feature = "etcd"))]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceList {
    /// The instances.
    pub instances: Arc<Vec<Instance>>,
    /// The etcd revision the list reflects (0 without etcd).
    pub revision: i64,
    /// Whether the list is being followed now.
    pub live: bool,
}

/// Discovery failed: etcd never answered for this service's list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("discovery of `{service}`: {message}")]
pub struct RegistryError {
    /// The service looked up.
    pub service: String,
    /// What went wrong.
    pub message: String,
}

/// A service's handle on the registry: its instance id, discovery of other services, and the
/// singleton elections. Cheap to clone; reach it through [`ServiceContext::registry`] or
/// [`ResourceContext::registry`].
///
/// [`ServiceContext::registry`]: crate::ServiceContext::registry
/// [`ResourceContext::registry`]: crate::ResourceContext::registry
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    instance_id: String,
    settings: RegistrySettings,
    #[cfg(feature = "etcd")]
    etcd: Option<etcd::EtcdRegistry>,
    leaders: Mutex<BTreeMap<String, watch::Receiver<Option<String>>>>,
    warned_static: AtomicBool,
    warned_singleton: AtomicBool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("service", &self.inner.service)
            .field("instance_id", &self.inner.instance_id)
            .field("distributed", &self.is_distributed())
            .finish_non_exhaustive()
    }
}

impl Registry {
    fn with(service: &str, settings: RegistrySettings) -> Inner {
        Inner {
            service: service.to_owned(),
            instance_id: record::new_instance_id(),
            settings,
            #[cfg(feature = "etcd")]
            etcd: None,
            leaders: Mutex::new(BTreeMap::new()),
            warned_static: AtomicBool::new(false),
            warned_singleton: AtomicBool::new(false),
        }
    }

    /// A registry without etcd: static discovery, local singletons.
    pub fn local(service: &str) -> Self {
        Registry {
            inner: Arc::new(Self::with(service, RegistrySettings::default())),
        }
    }

    /// A registry without etcd on `settings` (static discovery, local singletons); errors
    /// name the bad key.
    pub fn without_etcd(settings: &Settings) -> Result<Self, SettingsError> {
        Ok(Registry {
            inner: Arc::new(Self::with(
                settings.service(),
                RegistrySettings::read(settings)?,
            )),
        })
    }

    /// The registry of a service about to start: its settings read (errors name the key),
    /// on the etcd the settings came from, if any.
    pub(crate) fn new(
        settings: &Settings,
        #[cfg(feature = "etcd")] store: Option<crate::settings::etcd::EtcdStore>,
    ) -> Result<Self, SettingsError> {
        let read = RegistrySettings::read(settings)?;
        #[allow(unused_mut)]
        let mut inner = Self::with(settings.service(), read);
        #[cfg(feature = "etcd")]
        if let Some(store) = store {
            inner.etcd = Some(etcd::EtcdRegistry::new(
                store,
                settings.service(),
                &inner.settings.path,
                *inner.settings.ttl_seconds,
            )?);
        }
        Ok(Registry {
            inner: Arc::new(inner),
        })
    }

    /// The registry of a service whose settings were just loaded from `sources`.
    pub(crate) fn from_sources(
        settings: &Settings,
        sources: &crate::settings::sources::Sources,
    ) -> Result<Self, SettingsError> {
        #[cfg(feature = "etcd")]
        return Registry::new(settings, sources.etcd().cloned());
        #[cfg(not(feature = "etcd"))]
        {
            let _ = sources;
            Registry::new(settings)
        }
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// This instance's id, unique in the cluster (`<hostname>-<pid>-<random>`).
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// The settings read at start.
    pub fn settings(&self) -> &RegistrySettings {
        &self.inner.settings
    }

    /// Whether the registry runs on etcd (otherwise discovery is static and singletons local).
    pub fn is_distributed(&self) -> bool {
        #[cfg(feature = "etcd")]
        return self.inner.etcd.is_some();
        #[cfg(not(feature = "etcd"))]
        false
    }

    /// The live instances of `service`. On etcd the first call reads them and follows them
    /// from then on; later calls answer from that list, which is kept while etcd is away.
    /// Without etcd: `system.resources.registry.static.<service>`.
    pub async fn instances(&self, service: &str) -> Result<Vec<Instance>, RegistryError> {
        Ok(self.list(service).await?.instances.to_vec())
    }

    /// The followed list of `service`'s instances, to read again whenever it changes.
    pub async fn watch(&self, service: &str) -> Result<InstanceWatch, RegistryError> {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.inner.etcd {
            self.list(service).await?;
            return Ok(InstanceWatch(Watched::Followed(etcd.follower(service))));
        }
        let list = self.static_list(service);
        Ok(InstanceWatch(Watched::Fixed(watch::channel(Some(list)))))
    }

    /// The list of `service`'s instances with its revision.
    pub async fn list(&self, service: &str) -> Result<InstanceList, RegistryError> {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.inner.etcd {
            return etcd
                .instances(service)
                .await
                .map_err(|message| RegistryError {
                    service: service.to_owned(),
                    message,
                });
        }
        Ok(self.static_list(service))
    }

    /// The list of `service`'s instances as followed now, without waiting: empty until the
    /// first read (which this starts) has answered. For callers that cannot wait, such as a
    /// request builder; others use [`list`](Self::list).
    pub fn current(&self, service: &str) -> InstanceList {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.inner.etcd {
            return etcd.follower(service).borrow().clone().unwrap_or_default();
        }
        self.static_list(service)
    }

    fn static_list(&self, service: &str) -> InstanceList {
        if !self.inner.warned_static.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "no etcd configured: discovery reads `{ROOT}.static.<service>` from the settings"
            );
        }
        let addresses = self.inner.settings.static_instances.get(service);
        InstanceList {
            instances: Arc::new(
                addresses
                    .into_iter()
                    .flatten()
                    .map(|address| Instance::from_address(service, address))
                    .collect(),
            ),
            revision: 0,
            live: true,
        }
    }

    /// Each singleton task's leader (an instance id), as last seen; `None` while unknown.
    pub fn leaders(&self) -> BTreeMap<String, Option<String>> {
        let leaders = self.inner.leaders.lock().expect("leaders lock");
        leaders
            .iter()
            .map(|(task, leader)| (task.clone(), leader.borrow().clone()))
            .collect()
    }

    /// A candidacy for the singleton `task`: an etcd election, or local (with one warning).
    pub(crate) fn candidate(&self, task: &'static str) -> Candidate {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.inner.etcd {
            let (leader, seen) = watch::channel(None);
            self.inner
                .leaders
                .lock()
                .expect("leaders lock")
                .insert(task.to_owned(), seen);
            return Candidate::Etcd(Box::new(etcd.election(task, self.instance_id(), leader)));
        }
        if !self.inner.warned_singleton.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                task,
                "no etcd configured: singleton tasks run in this instance without an election"
            );
        }
        Candidate::Local
    }
}

/// A followed list of instances: [`current`](Self::current), and [`changed`](Self::changed)
/// to wait for the next version.
#[derive(Debug)]
pub struct InstanceWatch(Watched);

#[derive(Debug)]
enum Watched {
    #[cfg(feature = "etcd")]
    Followed(watch::Receiver<Option<InstanceList>>),
    /// Static: never changes (the sender is kept so that `changed` waits forever).
    Fixed(
        (
            watch::Sender<Option<InstanceList>>,
            watch::Receiver<Option<InstanceList>>,
        ),
    ),
}

impl InstanceWatch {
    fn receiver(&mut self) -> &mut watch::Receiver<Option<InstanceList>> {
        match &mut self.0 {
            #[cfg(feature = "etcd")]
            Watched::Followed(rx) => rx,
            Watched::Fixed((_, rx)) => rx,
        }
    }

    /// The list as it is now.
    pub fn current(&mut self) -> InstanceList {
        self.receiver()
            .borrow_and_update()
            .clone()
            .unwrap_or_default()
    }

    /// Waits for the next change of the list and returns it.
    pub async fn changed(&mut self) -> InstanceList {
        let rx = self.receiver();
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        rx.borrow_and_update().clone().unwrap_or_default()
    }
}
