//! The start: `ETCD_CHECK_KEY` waits for its key (or fails naming it), and an unreachable etcd
//! is retried, then the process exits non-zero naming the endpoints.

use super::*;

#[test]
fn etcd_check_key_waits_for_the_key_then_starts() {
    let server = EtcdServer::start();
    let port = server.port().to_string();
    let mut probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "check_key",
        &[
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("ETCD_CHECK_KEY", "system.ready"),
            ("TAMARCO_ETCD_CHECK_RETRIES", "60"),
        ],
    );
    let wait = Duration::from_secs(30);
    // the service logs that it waits; only then is the key put
    probe.wait_for_line("waiting for the etcd check key", wait);
    let rt = tamarco::tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        client(&[server.endpoint()])
            .await
            .put("system/ready", "true", None)
            .await
            .unwrap()
    });
    probe.wait_for_line("probe started", wait);
    probe.signal("TERM");
    let (code, _, output) = probe.wait_exit(wait);
    assert_eq!(code, 0, "{output:?}");
    assert!(
        output.iter().any(|l| l.contains("etcd check key found")),
        "{output:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_key_that_never_appears_fails_naming_the_key() {
    let server = blocking(EtcdServer::start);
    let config = config(&[server.endpoint()], "")
        .with_check_key("system.never")
        .with_check_retries(1);
    let error = etcd::connect(&Settings::new("dog"), config)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("system/never") && error.contains("did not appear within 1 s"),
        "{error}"
    );
    assert!(error.contains(&server.endpoint()), "{error}");
}

#[test]
fn unreachable_etcd_at_start_retries_then_exits_non_zero_naming_the_endpoints() {
    let port = free_port_list(1)[0].to_string();
    let probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "unreachable",
        &[
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("TAMARCO_ETCD_CONNECT_RETRIES", "2"),
        ],
    );
    let (code, took, output) = probe.wait_exit(Duration::from_secs(60));
    let output = output.join("\n");
    assert_eq!(code, 1, "{output}");
    let endpoint = format!("127.0.0.1:{port}");
    assert!(output.contains(&format!("etcd at {endpoint}")), "{output}");
    assert!(output.contains("unreachable after 3 attempts"), "{output}");
    assert!(
        output.contains("attempt 1 of 3") && output.contains("attempt 2 of 3"),
        "{output}"
    );
    // two waits: 0.2 s, then 0.4 s
    assert!(took >= Duration::from_millis(600), "{took:?}");
}
