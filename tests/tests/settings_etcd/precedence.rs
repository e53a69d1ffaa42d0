//! Precedence: environment over etcd over file over code, in process and in a service process
//! that reads all three from its environment.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_beats_etcd_beats_file_beats_code() {
    let server = blocking(EtcdServer::start);
    let endpoints = [server.endpoint()];
    let mut raw = client(&endpoints).await;
    for key in ["a", "b"] {
        raw.put(format!("p/system/p/{key}"), r#""etcd""#, None)
            .await
            .unwrap();
    }
    let dir = temp_dir("precedence");
    let file = dir.join("settings.yml");
    std::fs::write(
        &file,
        "system:\n  p:\n    a: file\n    b: file\n    c: file\n",
    )
    .unwrap();

    let settings = Settings::new("dog");
    settings
        .update_internal(
            json!({"system": {"p": {"a": "code", "b": "code", "c": "code", "d": "code"}}}),
        )
        .unwrap();
    sources::load_file(&settings, &file).unwrap();
    let _sources = etcd::connect(&settings, config(&endpoints, "p/"))
        .await
        .unwrap();
    sources::load_env(
        &settings,
        [("TAMARCO__SYSTEM__P__A".to_owned(), "env".to_owned())],
    )
    .unwrap();
    let read = |key: &str| settings.get::<String>(&format!("system.p.{key}")).unwrap();
    assert_eq!(
        [read("a"), read("b"), read("c"), read("d")],
        ["env", "etcd", "file", "code"]
    );

    // a live change in etcd still loses to the environment, and wins over the file
    let (on_change, mut changes) = channel();
    settings.watch("system.p", on_change);
    raw.put("p/system/p/a", r#""etcd-2""#, None).await.unwrap();
    raw.put("p/system/p/c", r#""etcd-2""#, None).await.unwrap();
    let (_, seen) = next(&mut changes, "c changed in etcd").await;
    assert_eq!(
        seen,
        Some(json!({"a": "env", "b": "etcd", "c": "etcd-2", "d": "code"}))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_service_reads_file_etcd_and_environment_from_its_environment() {
    let server = EtcdServer::start();
    let dir = temp_dir("probe-env");
    let file = dir.join("settings.yml");
    std::fs::write(
        &file,
        "system:\n  p:\n    a: file\n    b: file\n    c: file\n",
    )
    .unwrap();
    let rt = tamarco::tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut raw = client(&[server.endpoint()]).await;
        for key in ["a", "b"] {
            raw.put(format!("env/system/p/{key}"), r#""etcd""#, None)
                .await
                .unwrap();
        }
    });
    let port = server.port().to_string();
    let probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "settings",
        &[
            ("TAMARCO_YML_FILE", file.to_str().unwrap()),
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("TAMARCO_ETCD_PREFIX", "env/"),
            ("TAMARCO_ETCD_PASSWORD", "hunter2"),
            ("TAMARCO_ETCD_USER", ""),
            ("TAMARCO__SYSTEM__P__A", "env"),
            ("PROBE_KEYS", "system.p.a,system.p.b,system.p.c"),
        ],
    );
    let wait = Duration::from_secs(30);
    // TAMARCO_ETCD_USER is empty, so the password alone is an error naming the variable
    let (code, _, output) = probe.wait_exit(wait);
    assert_eq!(code, 1, "{output:?}");
    let output = output.join("\n");
    assert!(
        output.contains("TAMARCO_ETCD_USER") && !output.contains("hunter2"),
        "{output}"
    );

    let mut probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_settings_probe"),
        "settings",
        &[
            ("TAMARCO_YML_FILE", file.to_str().unwrap()),
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
            ("TAMARCO_ETCD_PREFIX", "env/"),
            ("TAMARCO__SYSTEM__P__A", "env"),
            ("PROBE_KEYS", "system.p.a,system.p.b,system.p.c"),
        ],
    );
    assert!(
        probe
            .wait_for_line("value system.p.a = ", wait)
            .ends_with(r#"= "env""#)
    );
    assert!(
        probe
            .wait_for_line("value system.p.b = ", wait)
            .ends_with(r#"= "etcd""#)
    );
    assert!(
        probe
            .wait_for_line("value system.p.c = ", wait)
            .ends_with(r#"= "file""#)
    );
    let addr = probe.report_addr();
    let (code, body) = http_get(addr, "/status").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""etcd":"CONNECTED""#), "{body}");
    probe.signal("TERM");
    let (code, _, output) = probe.wait_exit(wait);
    assert_eq!(code, 0, "{output:?}");
    let _ = std::fs::remove_dir_all(dir);
}
