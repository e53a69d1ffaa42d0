//! TLS to PostgreSQL (feature `postgres-tls`): against the machine's server when it offers TLS
//! (Debian's default: its "snakeoil" certificate, issued to `localhost`), and the refusal of
//! `sslmode: require` by a server that answers the TLS request with "no".

use std::sync::Arc;
use std::time::Duration;

use tamarco::postgres::{Postgres, Queries};
use tamarco::serde_json::{Value, json};
use tamarco::tokio::io::{AsyncReadExt, AsyncWriteExt};
use tamarco::tokio::net::TcpListener;
use tamarco::tokio::time::timeout;
use tamarco::{MicroserviceContext, Resource, error_chain, tokio};

const WAIT: Duration = Duration::from_secs(20);

fn context(settings: Value) -> (MicroserviceContext, Arc<Postgres>) {
    let mut cx = MicroserviceContext::new("pg_tls_test");
    let mut all = json!({"database": "test", "connection_timeout": "5s"});
    if let (Value::Object(all), Value::Object(settings)) = (&mut all, settings) {
        all.extend(settings);
    }
    cx.settings()
        .set_internal("system.resources.db", all)
        .expect("valid settings");
    let db = cx.add("db", Postgres::new());
    (cx, db)
}

/// Starts with `settings`: `Ok` with whether the session is encrypted, or the start's error.
async fn session_encrypted(settings: Value) -> Result<bool, String> {
    let (mut cx, db) = context(settings);
    timeout(WAIT, cx.start())
        .await
        .expect("starts or fails in time")
        .map_err(|e| error_chain(&e))?;
    let encrypted: bool = db
        .fetch_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let mode = db.status_fields()["sslmode"].clone();
    assert!(mode.is_string(), "/status shows the sslmode: {mode}");
    timeout(WAIT, cx.stop()).await.unwrap().unwrap();
    Ok(encrypted)
}

/// The server's certificate file, when it has TLS on and the file can be read.
async fn server_certificate() -> Option<String> {
    let (mut cx, db) = context(json!({"sslmode": "disable"}));
    timeout(WAIT, cx.start()).await.unwrap().unwrap();
    let ssl: String = db.fetch_one("SHOW ssl", &[]).await.unwrap();
    let file: String = db.fetch_one("SHOW ssl_cert_file", &[]).await.unwrap();
    timeout(WAIT, cx.stop()).await.unwrap().unwrap();
    (ssl == "on" && std::fs::read(&file).is_ok()).then_some(file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sslmode_encrypts_and_verifies_as_libpq_does() {
    assert_eq!(
        session_encrypted(json!({"sslmode": "disable"})).await,
        Ok(false)
    );
    let Some(certificate) = server_certificate().await else {
        // A server without TLS: `prefer` falls back to plain, `require` refuses to.
        assert_eq!(session_encrypted(json!({})).await, Ok(false));
        let refused = session_encrypted(json!({"sslmode": "require"}))
            .await
            .unwrap_err();
        assert!(
            refused.contains("`db`") && refused.contains("127.0.0.1:5432"),
            "{refused}"
        );
        return;
    };
    assert_eq!(session_encrypted(json!({})).await, Ok(true), "prefer");
    assert_eq!(
        session_encrypted(json!({"sslmode": "require"})).await,
        Ok(true)
    );
    // The certificate is the chain's root; it names `localhost`, not 127.0.0.1.
    assert_eq!(
        session_encrypted(json!({"sslmode": "verify-ca", "sslrootcert": certificate})).await,
        Ok(true)
    );
    assert_eq!(
        session_encrypted(json!({
            "sslmode": "verify-full", "sslrootcert": certificate, "host": "localhost",
        }))
        .await,
        Ok(true)
    );
    let wrong_name =
        session_encrypted(json!({"sslmode": "verify-full", "sslrootcert": certificate}))
            .await
            .unwrap_err();
    assert!(
        wrong_name.contains("`db`")
            && wrong_name.contains("127.0.0.1:5432")
            && wrong_name.to_lowercase().contains("certificate"),
        "{wrong_name}"
    );
    // A root that did not sign the server's certificate.
    let stranger = "/etc/ssl/certs/ca-certificates.crt";
    if std::fs::metadata(stranger).is_ok() {
        let unknown = session_encrypted(json!({"sslmode": "verify-ca", "sslrootcert": stranger}))
            .await
            .unwrap_err();
        assert!(unknown.to_lowercase().contains("certificate"), "{unknown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_refuses_a_server_without_tls_naming_the_resource() {
    // Answers the client's TLS request (8 bytes) with PostgreSQL's "no", as a server with
    // `ssl = off` does, and closes.
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = server.local_addr().unwrap().port();
    let answering = tokio::spawn(async move {
        let (mut socket, _) = server.accept().await.unwrap();
        let mut request = [0_u8; 8];
        socket.read_exact(&mut request).await.unwrap();
        socket.write_all(b"N").await.unwrap();
        request
    });
    let refused = session_encrypted(json!({"sslmode": "require", "port": port}))
        .await
        .unwrap_err();
    assert!(
        refused.contains("`db`") && refused.contains(&format!("127.0.0.1:{port}")),
        "{refused}"
    );
    assert!(refused.contains("TLS"), "{refused}");
    let request = timeout(WAIT, answering).await.unwrap().unwrap();
    assert_eq!(
        request,
        [0, 0, 0, 8, 4, 210, 22, 47],
        "a TLS request came first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifying_mode_without_a_usable_root_certificate_stops_the_start_naming_the_key() {
    let missing = session_encrypted(json!({"sslmode": "verify-full"}))
        .await
        .unwrap_err();
    assert!(
        missing.contains("system.resources.db.sslrootcert") && missing.contains("verify-full"),
        "{missing}"
    );
    let unreadable = session_encrypted(json!({
        "sslmode": "verify-ca", "sslrootcert": "/nonexistent/root.pem",
    }))
    .await
    .unwrap_err();
    assert!(
        unreadable.contains("system.resources.db.sslrootcert")
            && unreadable.contains("/nonexistent/root.pem"),
        "{unreadable}"
    );
}
