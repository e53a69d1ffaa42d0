//! Bad values in etcd: a wrong type names the full key, the expected type and the etcd key, and
//! a password never shows, by name or by type.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_the_wrong_type_in_etcd_names_the_full_key_and_expected_type() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    client(&endpoints)
        .await
        .put("system/resources/db/port", r#""not a port""#, None)
        .await
        .unwrap();
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&endpoints, ""))
        .await
        .unwrap();
    let db = settings.resource_view("db");
    for error in [
        db.get::<u16>("port").unwrap_err(),
        db.live::<u16>("port").unwrap_err(),
    ] {
        let text = error.to_string();
        assert!(
            text.contains("system.resources.db.port") && text.contains("expected u16"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_number_in_etcd_reads_as_text_and_a_wrong_type_names_the_etcd_key() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let mut raw = client(&endpoints).await;
    raw.put("s/system/resources/db/password", "12345678", None)
        .await
        .unwrap();
    raw.put("s/system/resources/db/port", "true", None)
        .await
        .unwrap();
    let settings = Settings::new("dog");
    let _sources = etcd::connect(&settings, config(&endpoints, "s/"))
        .await
        .unwrap();
    let db = settings.resource_view("db");
    let password: tamarco::Secret = db.get("password").unwrap();
    assert_eq!(password.expose(), "12345678");
    assert_eq!(
        db.get::<u16>("port").unwrap_err().to_string(),
        "setting `system.resources.db.port`: invalid type: found a boolean, expected u16 \
         (from etcd key `s/system/resources/db/port`)"
    );
    let error = db.get::<Vec<String>>("password").unwrap_err().to_string();
    assert!(
        error.contains("etcd key `s/system/resources/db/password`") && !error.contains("12345678"),
        "{error}"
    );
}

#[microservice(name = "vault")]
#[derive(Default)]
struct Vault {}

#[microservice]
impl Vault {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_never_show_a_password_from_etcd_by_name_or_by_type() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let mut raw = client(&endpoints).await;
    // A password that looks like a number, under a secret name; a token under a plain name
    // that the service reads as a `Secret`; a plain value beside them.
    for (key, value) in [
        ("v/system/resources/db/password", "918273645"),
        ("v/system/microservices/vault/stripe", "564738291"),
        ("v/system/microservices/vault/region", r#""eu-west""#),
    ] {
        raw.put(key, value, None).await.unwrap();
    }
    let service = Vault::default()
        .runtime()
        .with_settings(
            json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}}),
        )
        .unwrap()
        .handle_signals(false);
    let _sources = etcd::connect(service.settings(), config(&endpoints, "v/"))
        .await
        .unwrap();
    let running = service.start().await.unwrap();
    let addr = running.report_addr().expect("a report server");
    let settings = running.settings().clone();
    let (code, body) = blocking(|| http_get(addr, "/settings").unwrap());
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("918273645"), "password in /settings: {body}");
    // Until the service reads it as a secret, a plain name shows its value...
    assert!(body.contains("564738291"), "{body}");

    let stripe: tamarco::secret::Secret =
        settings.get("system.microservices.vault.stripe").unwrap();
    assert_eq!(stripe.expose(), "564738291");
    let (code, body) = blocking(|| http_get(addr, "/settings").unwrap());
    assert_eq!(code, 200, "{body}");
    for secret in ["918273645", "564738291"] {
        assert!(!body.contains(secret), "{secret} in /settings: {body}");
    }
    assert!(body.contains(r#""eu-west""#), "{body}");
    let doc: Value = tamarco::serde_json::from_str(&body).unwrap();
    let entry = doc["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "system.microservices.vault.stripe")
        .cloned()
        .unwrap();
    assert_eq!(entry["value"], "***");
    assert_eq!(entry["source"], "etcd");
    // A new value from etcd is masked once read as a secret again.
    raw.put("v/system/microservices/vault/stripe", "111222333", None)
        .await
        .unwrap();
    wait_until(
        CHANGE_WITHIN,
        || {
            settings
                .value("system.microservices.vault.stripe")
                .is_some_and(|v| v == json!(111222333))
        },
        || "the new token reaches the settings",
    )
    .await;
    let _: tamarco::secret::Secret = settings.get("system.microservices.vault.stripe").unwrap();
    let (_, body) = blocking(|| http_get(addr, "/settings").unwrap());
    assert!(!body.contains("111222333"), "{body}");
    running.stop().await.unwrap();
}
