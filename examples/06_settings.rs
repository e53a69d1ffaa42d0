//! 06 — settings: in-code settings, a resource reading its own subtree as a typed struct, and the
//! per-service override `system.microservices.<service>.<path>`.
//!
//! ```text
//! cargo run --example settings --features yaml
//! ```

use std::sync::OnceLock;

use tamarco::prelude::*;
use tamarco::serde::Deserialize;

/// The settings of one greeter, read from `system.resources.<name>`.
#[derive(Debug, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct GreeterSettings {
    greeting: String,
    #[serde(default = "one")]
    repeat: u32,
}

fn one() -> u32 {
    1
}

#[derive(Default)]
struct Greeter {
    settings: OnceLock<GreeterSettings>,
}

impl Resource for Greeter {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        // A wrong type here stops the start with the full key in the error.
        let _ = self.settings.set(cx.settings().load()?);
        Ok(())
    }
}

#[microservice(name = "greeter_service")]
#[derive(Default)]
struct Greeting {
    #[resource]
    english: Greeter,
}

#[microservice]
impl Greeting {
    async fn post_start(&self, stage: Stage) -> Result<(), BoxError> {
        stage.run().await?;
        let settings = self.english.settings.get().expect("configured");
        for _ in 0..settings.repeat {
            println!("{}", settings.greeting);
        }
        stage.shutdown().stop_gracefully();
        Ok(())
    }
}

const SETTINGS: &str = r#"
system:
  resources:
    tamarco_http_report_server: { enabled: false }
    english: { greeting: "Hello", repeat: 1 }
  microservices:
    greeter_service:
      resources:
        english: { repeat: 3 }
"#;

fn main() -> ExitStatus {
    let runtime = Greeting::default().runtime();
    runtime
        .settings()
        .update_internal_yaml(SETTINGS)
        .expect("valid YAML");
    runtime.run()
}
