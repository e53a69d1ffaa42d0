//! Discovery for the HTTP client (opt-in per client, `discovery.service`): requests go to the
//! instances of a service found in the registry, in turn; an instance that refused a
//! connection is passed over for `refused_cooldown_seconds`, and a request it refused is sent
//! to the next instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use reqwest::{Method, RequestBuilder, Response, Url};
use serde::Deserialize;

use crate::BoxError;
use crate::registry::Registry;

/// `system.resources.<client>.discovery`:
///
/// ```yaml
/// discovery:
///   service: orders              # the service to call; the client's base_url is not used
///   endpoint: null               # the server resource to call (default: the first that is
///                                # not the report server)
///   scheme: http
///   refused_cooldown_seconds: 5  # an instance that refused a connection is passed over this long
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DiscoverySettings {
    /// The service whose instances the client calls.
    pub service: String,
    /// The name of the server resource to call on each instance.
    pub endpoint: Option<String>,
    /// `http` or `https`.
    pub scheme: String,
    /// How long an instance that refused a connection is passed over.
    pub refused_cooldown_seconds: crate::settings::Duration,
}

impl Default for DiscoverySettings {
    fn default() -> Self {
        DiscoverySettings {
            service: String::new(),
            endpoint: None,
            scheme: "http".to_owned(),
            refused_cooldown_seconds: crate::settings::Duration::from_secs(5),
        }
    }
}

/// Picks instances in turn and remembers the ones that refused connections.
#[derive(Debug)]
pub(crate) struct Balancer {
    settings: DiscoverySettings,
    registry: Registry,
    next: AtomicUsize,
    refused: Mutex<HashMap<String, Instant>>,
}

impl Balancer {
    pub(crate) fn new(settings: DiscoverySettings, registry: Registry) -> Self {
        Balancer {
            settings,
            registry,
            next: AtomicUsize::new(0),
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// The service called.
    pub(crate) fn service(&self) -> &str {
        &self.settings.service
    }

    /// The addresses to try for one request: every instance once, starting with the next in
    /// turn, those that refused a connection lately last.
    pub(crate) async fn addresses(&self) -> Result<Vec<String>, BoxError> {
        let list = self.registry.list(&self.settings.service).await?;
        self.in_turn(&list)
    }

    /// The address for a request built without waiting ([`HttpClient::request`]): the next
    /// in turn in the list as followed now, one that refused lately only if no other is left.
    ///
    /// [`HttpClient::request`]: super::HttpClient::request
    pub(crate) fn next_now(&self) -> Result<String, BoxError> {
        let list = self.registry.current(&self.settings.service);
        let mut addresses = self.in_turn(&list)?;
        Ok(addresses.swap_remove(0))
    }

    /// Reads the list once (bounded), so that requests built right after the start find it.
    pub(crate) async fn prefetch(&self) {
        if let Err(error) = self.registry.list(&self.settings.service).await {
            tracing::warn!("{error}; requests will find the instances once etcd answers");
        }
    }

    /// Every address of `list` once, starting with the next in turn, those that refused a
    /// connection lately last.
    fn in_turn(&self, list: &crate::registry::InstanceList) -> Result<Vec<String>, BoxError> {
        let endpoint = self.settings.endpoint.as_deref();
        let all: Vec<String> = list
            .instances
            .iter()
            .filter_map(|instance| instance.endpoint(endpoint).map(str::to_owned))
            .collect();
        if all.is_empty() {
            return Err(format!(
                "no instance of `{}` is registered{}",
                self.settings.service,
                endpoint.map_or(String::new(), |e| format!(" with an endpoint `{e}`"))
            )
            .into());
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % all.len();
        let turn = all[start..].iter().chain(&all[..start]).cloned();
        let now = Instant::now();
        let mut refused = self.refused.lock().expect("refused lock");
        refused.retain(|_, until| *until > now);
        let (cooling, ready): (Vec<String>, Vec<String>) =
            turn.partition(|address| refused.contains_key(address));
        Ok(ready.into_iter().chain(cooling).collect())
    }

    /// The URL of `path` on `address`.
    pub(crate) fn url(&self, address: &str, path: &str) -> Result<Url, BoxError> {
        let url = format!(
            "{}://{address}/{}",
            self.settings.scheme,
            path.trim_start_matches('/')
        );
        Ok(Url::parse(&url)?)
    }

    /// Passes `address` over for the cooldown.
    pub(crate) fn refused(&self, address: &str) {
        let until = Instant::now() + *self.settings.refused_cooldown_seconds;
        let mut refused = self.refused.lock().expect("refused lock");
        refused.insert(address.to_owned(), until);
    }

    /// `address` answered: it is picked in turn again.
    pub(crate) fn answered(&self, address: &str) {
        let mut refused = self.refused.lock().expect("refused lock");
        refused.remove(address);
    }
}

/// Whether a failed request may go to another instance: the connection was refused (nothing
/// was sent), or an idempotent request lost its connection before any answer (a pooled
/// connection the instance closed as it stopped).
pub(crate) fn worth_another(method: &Method, error: &reqwest::Error) -> bool {
    if error.is_connect() {
        return true;
    }
    let idempotent = matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    );
    idempotent && error.is_request() && !error.is_timeout() && error.status().is_none()
}

/// Sends `build(request)` to the instances in turn until one answers; see
/// [`HttpClient::send`](super::HttpClient::send).
pub(crate) async fn send(
    balancer: &Balancer,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    build: impl Fn(RequestBuilder) -> RequestBuilder,
) -> Result<Response, BoxError> {
    let addresses = balancer.addresses().await?;
    let mut last = None;
    for address in &addresses {
        let request = build(client.request(method.clone(), balancer.url(address, path)?));
        match request.send().await {
            Ok(response) => {
                balancer.answered(address);
                return Ok(response);
            }
            Err(error) if worth_another(&method, &error) => {
                tracing::debug!(
                    service = balancer.service(),
                    address = %address,
                    "instance refused or dropped the request; trying the next: {error}"
                );
                balancer.refused(address);
                last = Some(error);
            }
            Err(error) => return Err(error.into()),
        }
    }
    let tried = addresses.len();
    Err(match last {
        Some(error) => format!(
            "every instance of `{}` failed ({tried} tried); the last: {error}",
            balancer.service()
        )
        .into(),
        None => "no instance to call".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balancer() -> Balancer {
        let settings = crate::Settings::new("caller");
        settings
            .set_internal(
                "system.resources.registry.static.orders",
                ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"],
            )
            .unwrap();
        let registry = Registry::without_etcd(&settings).unwrap();
        let discovery = DiscoverySettings {
            service: "orders".into(),
            ..DiscoverySettings::default()
        };
        Balancer::new(discovery, registry)
    }

    #[tokio::test]
    async fn instances_are_taken_in_turn_and_refused_ones_go_last() {
        let balancer = balancer();
        let first = balancer.addresses().await.unwrap();
        let second = balancer.addresses().await.unwrap();
        assert_eq!(first, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]);
        assert_eq!(second, ["127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"]);
        // Its turn comes first, but it refused a connection lately: it goes last.
        balancer.refused("127.0.0.1:3");
        let third = balancer.addresses().await.unwrap();
        assert_eq!(third, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]);
        balancer.refused("127.0.0.1:1");
        balancer.answered("127.0.0.1:3");
        let fourth = balancer.addresses().await.unwrap();
        assert_eq!(fourth, ["127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"]);
        assert_eq!(
            balancer.url("127.0.0.1:2", "/orders/1").unwrap().as_str(),
            "http://127.0.0.1:2/orders/1"
        );
    }
}
