//! The default `registry` resource: registers the instance once everything started, shows
//! the registration and the singletons' leaders in `/status`, and revokes the lease at stop.
//! Leaving the registry happens earlier, first thing in a graceful stop (the runtime calls
//! [`Registry::leave`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Instance, Registry};
use crate::BoxError;
use crate::builtin::{ReportServer, StatusBoard};
use crate::resource::{Resource, ResourceContext};

/// The registry as a resource of the service.
#[derive(Debug)]
#[cfg_attr(not(feature = "etcd"), allow(dead_code))] // the record is written to etcd only
pub(crate) struct RegistryResource {
    registry: Registry,
    board: StatusBoard,
    report_server: Arc<ReportServer>,
    started_at: String,
}

impl RegistryResource {
    /// The resource's name.
    pub(crate) const NAME: &'static str = "registry";

    pub(crate) fn new(
        registry: Registry,
        board: StatusBoard,
        report_server: Arc<ReportServer>,
    ) -> Self {
        RegistryResource {
            registry,
            board,
            report_server,
            started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// Whether a service needs the resource: registration is on, or etcd is there (elections
    /// and discovery; `/status` shows the leaders).
    pub(crate) fn wanted(registry: &Registry) -> bool {
        registry.settings().enabled || registry.is_distributed()
    }

    #[cfg_attr(not(feature = "etcd"), allow(dead_code))] // the record is written to etcd only
    /// This instance's record: the addresses come from the servers' `/status` fields.
    fn record(&self, cx: &ResourceContext) -> Instance {
        let settings = cx.settings().settings();
        let host = self
            .registry
            .settings()
            .host
            .clone()
            .unwrap_or_else(crate::logging::hostname);
        let mut endpoints = BTreeMap::new();
        for entry in self.board.entries() {
            let fields = entry.resource.status_fields_dyn();
            let bound = fields.get("address").and_then(Value::as_str);
            if let Some(bound) = bound.and_then(|a| a.parse().ok()) {
                endpoints.insert(
                    entry.name().to_owned(),
                    super::record::advertised(bound, &host),
                );
            }
        }
        if let Some(addr) = self.report_server.local_addr() {
            endpoints.insert(
                ReportServer::NAME.to_owned(),
                super::record::advertised(addr, &host),
            );
        }
        Instance {
            service: self.registry.service().to_owned(),
            instance_id: self.registry.instance_id().to_owned(),
            deploy_name: settings
                .get_or(
                    "system.deploy_name",
                    crate::settings::DEFAULT_DEPLOY_NAME.to_owned(),
                )
                .unwrap_or_default(),
            version: self.report_server.build().crate_version.to_owned(),
            host,
            endpoints,
            started_at: self.started_at.clone(),
        }
    }
}

// Internal: kept out of the "other types implement Resource" list in user errors.
#[diagnostic::do_not_recommend]
impl Resource for RegistryResource {
    async fn post_start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        if !self.registry.settings().enabled {
            return Ok(());
        }
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.registry.inner.etcd {
            let record = self.record(cx);
            let key = etcd.instance_key(&record.service, &record.instance_id);
            etcd.register(key, serde_json::to_vec(&record)?);
            // Bounded: a start never waits on etcd for long; the loop keeps trying.
            if !etcd
                .wait_registered(std::time::Duration::from_secs(2))
                .await
            {
                tracing::warn!(
                    "not registered yet: {} does not answer; still trying",
                    etcd.describe()
                );
            }
            return Ok(());
        }
        let _ = cx;
        tracing::warn!(
            "`{}.enabled` is true but no etcd is configured{}: this instance is not registered",
            super::ROOT,
            if cfg!(feature = "etcd") {
                ""
            } else {
                " (tamarco was built without its `etcd` feature)"
            }
        );
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        self.registry.close().await;
        Ok(())
    }

    fn status_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("instance_id".into(), json!(self.registry.instance_id()));
        fields.insert("registered".into(), json!(self.registry.is_registered()));
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.registry.inner.etcd {
            let state = if etcd.is_connected() {
                "CONNECTED"
            } else {
                "DISCONNECTED"
            };
            fields.insert("etcd".into(), json!(state));
        }
        let me = self.registry.instance_id();
        let singletons: Map<String, Value> = self
            .registry
            .leaders()
            .into_iter()
            .map(|(task, leader)| {
                let this = leader.as_deref() == Some(me);
                (task, json!({"leader": leader, "this_instance": this}))
            })
            .collect();
        if !singletons.is_empty() {
            fields.insert("singletons".into(), Value::Object(singletons));
        }
        fields
    }
}

impl Registry {
    /// Whether this instance's record is in etcd now, as far as it knows.
    pub fn is_registered(&self) -> bool {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.inner.etcd {
            return etcd.is_registered();
        }
        false
    }

    /// Removes this instance's record (bounded), first thing in a graceful stop: callers stop
    /// picking it while it still serves. Does nothing when it is not registered.
    pub async fn leave(&self) {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.inner.etcd {
            etcd.leave().await;
        }
    }

    /// Leaves and revokes the lease (every election of this instance ends with it).
    pub(crate) async fn close(&self) {
        #[cfg(feature = "etcd")]
        if let Some(etcd) = &self.inner.etcd {
            etcd.close().await;
        }
    }
}
