//! [`Instance`]: what one registered instance says about itself, stored as JSON at
//! `<path>/<service>/<instance id>`.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The report server's resource name: its address is registered but never picked for calls.
const REPORT_SERVER: &str = "tamarco_http_report_server";

/// One live instance of a service, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// The service's name.
    pub service: String,
    /// This instance's id, unique in the cluster (`<hostname>-<pid>-<random>`).
    pub instance_id: String,
    /// `system.deploy_name`.
    #[serde(default)]
    pub deploy_name: String,
    /// The service crate's version.
    #[serde(default)]
    pub version: String,
    /// The host it advertises.
    #[serde(default)]
    pub host: String,
    /// `host:port` of each server resource, by resource name (`http_server`, the report server).
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// When it started, RFC 3339 in UTC.
    #[serde(default)]
    pub started_at: String,
}

impl Instance {
    /// The address to call: the endpoint named `name`, else the first endpoint that is not the
    /// report server.
    pub fn endpoint(&self, name: Option<&str>) -> Option<&str> {
        match name {
            Some(name) => self.endpoints.get(name),
            None => self
                .endpoints
                .iter()
                .find(|(resource, _)| *resource != REPORT_SERVER)
                .map(|(_, addr)| addr),
        }
        .map(String::as_str)
    }

    /// An instance known only by its address (discovery from static settings).
    pub(crate) fn from_address(service: &str, address: &str) -> Self {
        Instance {
            service: service.to_owned(),
            instance_id: address.to_owned(),
            deploy_name: String::new(),
            version: String::new(),
            host: address
                .rsplit_once(':')
                .map_or(address, |(host, _)| host)
                .to_owned(),
            endpoints: BTreeMap::from([("http_server".to_owned(), address.to_owned())]),
            started_at: String::new(),
        }
    }
}

/// A new instance id: `<hostname>-<pid>-<8 hex digits>`, so that a restarted process on the
/// same host never takes its predecessor's key.
pub(crate) fn new_instance_id() -> String {
    let host = crate::logging::hostname();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let random = hasher.finish() as u32;
    format!("{host}-{}-{random:08x}", std::process::id())
}

/// The address others reach a server at: its bound address, with `host` in place of an
/// unspecified IP (`0.0.0.0`, `::`).
#[cfg_attr(not(feature = "etcd"), allow(dead_code))] // the record is written to etcd only
pub(crate) fn advertised(bound: SocketAddr, host: &str) -> String {
    if bound.ip().is_unspecified() {
        format!("{host}:{}", bound.port())
    } else {
        bound.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_to_call_skips_the_report_server() {
        let mut instance = Instance::from_address("orders", "10.0.0.1:8080");
        assert_eq!(instance.host, "10.0.0.1");
        instance.endpoints = BTreeMap::from([
            ("admin".to_owned(), "10.0.0.1:9000".to_owned()),
            (REPORT_SERVER.to_owned(), "10.0.0.1:5747".to_owned()),
        ]);
        assert_eq!(instance.endpoint(None), Some("10.0.0.1:9000"));
        assert_eq!(
            instance.endpoint(Some(REPORT_SERVER)),
            Some("10.0.0.1:5747")
        );
        assert_eq!(instance.endpoint(Some("missing")), None);
    }

    #[test]
    fn unspecified_addresses_advertise_the_host() {
        assert_eq!(advertised("0.0.0.0:80".parse().unwrap(), "web1"), "web1:80");
        assert_eq!(
            advertised("127.0.0.1:80".parse().unwrap(), "web1"),
            "127.0.0.1:80"
        );
        let a = new_instance_id();
        assert_ne!(a, new_instance_id());
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
