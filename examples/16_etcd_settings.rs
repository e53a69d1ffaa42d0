//! 16 — settings from etcd, followed live: the service reads its greeting through a live handle,
//! and a change written to etcd (with the `tamarco` command line, or any etcd client) shows in
//! the next tick, without a restart. Needs the cargo feature `etcd` (which needs `protoc`:
//! `apt-get install protobuf-compiler libprotobuf-dev`) and an etcd server.
//!
//! ```text
//! etcd --data-dir /tmp/etcd-example &                     # apt-get install etcd-server
//! cat > /tmp/greeting.yml <<'YAML'
//! system:
//!   microservices:
//!     etcd_settings:
//!       greeting: Hello from etcd
//! YAML
//! cargo run -p tamarco --features cli,etcd --bin tamarco -- etcd write-yml /tmp/greeting.yml
//! TAMARCO_ETCD_HOST=127.0.0.1 cargo run --example etcd_settings --features etcd
//! # in another terminal, change it while the service runs:
//! sed -i 's/Hello from etcd/Hello again/' /tmp/greeting.yml
//! cargo run -p tamarco --features cli,etcd --bin tamarco -- etcd write-yml /tmp/greeting.yml
//! ```

use tamarco::prelude::*;
use tamarco::tracing::{info, warn};

#[microservice(name = "etcd_settings")]
#[derive(Default)]
struct EtcdSettings {}

#[microservice]
impl EtcdSettings {
    /// Reads the key at each tick: the settings follow etcd, so a change shows at the next one.
    /// (`Settings::live` gives a typed handle that is updated in place, for hot paths.)
    #[task_timer(interval = "1s", autostart)]
    async fn greet(&self, cx: TaskContext) {
        let key = "system.microservices.etcd_settings.greeting";
        match cx.settings().get_or(key, "Hello from the code".to_owned()) {
            Ok(greeting) => info!(%greeting, "tick"),
            Err(error) => warn!(%error, "bad greeting"),
        }
    }
}

fn main() -> ExitStatus {
    EtcdSettings::default().run()
}
