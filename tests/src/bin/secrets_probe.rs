//! A service for the secrets test (`tests/tests/secrets_process.rs`): two Redis resources,
//! `cache` and `store`, configured only by a YAML file (`TAMARCO_YML_FILE`) and `TAMARCO__...`
//! environment variables, each logging in as its own ACL user. It starts (connecting both, so
//! both passwords reached Redis exactly as written) and runs until SIGTERM; a failed start
//! exits non-zero with the error in the log.

use tamarco::prelude::*;
use tamarco::redis::Redis;
use tamarco::serde_json::json;

#[microservice(name = "secrets_probe")]
#[derive(Default)]
struct SecretsProbe {
    #[resource]
    cache: Redis,
    #[resource]
    store: Redis,
}

#[microservice]
impl SecretsProbe {}

fn main() -> ExitStatus {
    let settings = json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}});
    SecretsProbe::default()
        .runtime()
        .with_settings(settings)
        .expect("valid settings")
        .run()
}
