//! The check every data resource (Postgres, Redis, InfluxDB) passes: its start fails when the
//! server cannot be reached, within its `connection_timeout`, naming the resource and the
//! address, and showing the password nowhere.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tamarco::serde_json::{Value, json};
use tamarco::tokio::net::TcpListener;
use tamarco::{MicroserviceContext, Resource, error_chain};

/// The password the settings carry, which must never show.
const PASSWORD: &str = "12345678";

/// Starts a context made by `context(settings)` twice, each time expecting the start to fail:
/// against a port that refuses (with the password given as a number) and against a server
/// that accepts and never answers (with `connection_timeout: 500ms`). `base` holds settings
/// both get (a user...). The errors must name `` `resource` `` and `127.0.0.1:<port>`; the
/// second must come in time; the password must be in neither error, nor in the resource's
/// `Debug` or `/status` fields.
pub async fn start_fails_when_unreachable<R: Resource + Debug>(
    resource: &str,
    base: Value,
    context: impl Fn(Value) -> (MicroserviceContext, Arc<R>),
) {
    let with = |extra: Value| {
        let mut settings = base.clone();
        if let (Value::Object(settings), Value::Object(extra)) = (&mut settings, extra) {
            settings.extend(extra);
        }
        settings
    };
    let (mut cx, shown_by) = context(with(json!({
        "host": "127.0.0.1", "port": 1, "password": PASSWORD.parse::<u64>().unwrap(),
    })));
    let refused = error_chain(&cx.start().await.unwrap_err());
    assert!(
        refused.contains(&format!("`{resource}`")) && refused.contains("127.0.0.1:1"),
        "{refused}"
    );

    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let (mut cx, _) = context(with(json!({
        "host": "127.0.0.1", "port": port, "connection_timeout": "500ms", "password": PASSWORD,
    })));
    let began = Instant::now();
    let unanswered = error_chain(&cx.start().await.unwrap_err());
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "gave up only after {:?}",
        began.elapsed()
    );
    assert!(
        unanswered.contains(&format!("`{resource}`"))
            && unanswered.contains(&format!("127.0.0.1:{port}")),
        "{unanswered}"
    );
    for shown in [
        refused,
        unanswered,
        format!("{shown_by:?}"),
        Value::Object(shown_by.status_fields()).to_string(),
    ] {
        assert!(!shown.contains(PASSWORD), "the password leaked: {shown}");
    }
    drop(silent);
}
