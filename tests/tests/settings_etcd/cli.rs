//! The `tamarco etcd` command line: every YAML scalar type round-trips, an unreachable etcd is
//! named, and the original's `write_yml --host --port` spelling is taken.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_round_trips_every_yaml_scalar_type() {
    let server = blocking(EtcdServer::start);
    let endpoint = server.endpoint();
    let dir = temp_dir("cli");
    let file = dir.join("settings.yml");
    let yaml = r#"
system:
  strings:
    plain: hello
    number_like: '5432'
    bool_like: 'true'
    null_like: 'null'
    float_like: "1.50"
    empty: ''
    multi: "two\nlines"
  numbers: {int: 42, negative: -7, big: 18446744073709551615, float: 1.5, exp: 1.0e+20}
  flags: {on: true, off: false, yes: no}
  nothing: null
  list: [1, two, '3', true, null, {k: v}]
  empty_map: {}
"#;
    std::fs::write(&file, yaml).unwrap();
    let path = file.to_str().unwrap();
    let out = tamarco_cli(&["etcd", "--endpoints", &endpoint, "write-yml", path])
        .await
        .unwrap();
    assert!(out.contains("wrote 18 keys"), "{out}");

    // stored as JSON leaves: a string that looks like a number stays a string
    let mut raw = client(std::slice::from_ref(&endpoint)).await;
    assert_eq!(
        raw_get(&mut raw, "system/strings/number_like")
            .await
            .as_deref(),
        Some(r#""5432""#)
    );
    assert_eq!(
        raw_get(&mut raw, "system/numbers/int").await.as_deref(),
        Some("42")
    );
    assert_eq!(
        raw_get(&mut raw, "system/flags/yes").await.as_deref(),
        Some(r#""no""#)
    );

    // read back, the subtree is the same YAML value, every type kept
    let printed = tamarco_cli(&["etcd", "read", "system", "--endpoints", &endpoint])
        .await
        .unwrap();
    let original: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&printed).unwrap();
    assert_eq!(back, original["system"], "{printed}");
    let leaf = tamarco_cli(&[
        "etcd",
        "--endpoints",
        &endpoint,
        "read",
        "system.strings.bool_like",
    ])
    .await
    .unwrap();
    assert_eq!(
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&leaf).unwrap(),
        serde_yaml_ng::Value::from("true")
    );

    // delete a subtree; reading it again names the key
    let out = tamarco_cli(&["etcd", "--endpoints", &endpoint, "delete", "system.strings"])
        .await
        .unwrap();
    assert!(out.contains("deleted 7 keys"), "{out}");
    let error = tamarco_cli(&["etcd", "--endpoints", &endpoint, "read", "system.strings"])
        .await
        .unwrap_err();
    assert!(
        error.contains("system.strings") && error.contains("missing"),
        "{error}"
    );

    // malformed YAML names the file and the line
    let bad = dir.join("bad.yml");
    std::fs::write(&bad, "system:\n  a: 1\n  b: [1, 2\n  c: 3\n").unwrap();
    let error = tamarco_cli(&[
        "etcd",
        "--endpoints",
        &endpoint,
        "write-yml",
        bad.to_str().unwrap(),
    ])
    .await
    .unwrap_err();
    assert!(
        error.contains(bad.to_str().unwrap()) && error.contains("line"),
        "{error}"
    );
    // the same reader serves the settings file
    let error = sources::load_file(&Settings::new("dog"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(bad.to_str().unwrap()) && error.contains("line"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_cli_names_the_endpoints_when_etcd_is_unreachable() {
    let endpoint = format!("127.0.0.1:{}", free_port_list(1)[0]);
    // TAMARCO_ETCD_CONNECT_RETRIES is not set in the test environment: 5 retries, ~6 s
    let error = tamarco_cli(&["etcd", "--endpoints", &endpoint, "read", "system"])
        .await
        .unwrap_err();
    assert!(
        error.contains(&format!("etcd at {endpoint}")) && error.contains("unreachable"),
        "{error}"
    );
}

/// The Python original's spelling: `tamarco etcd write_yml FILE --host H --port P`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_takes_the_originals_write_yml_with_host_and_port() {
    let server = blocking(EtcdServer::start);
    let dir = temp_dir("cli-original");
    let file = dir.join("settings.yml");
    std::fs::write(&file, "system:\n  deploy_name: from_write_yml\n").unwrap();
    let port = server.port().to_string();
    let out = tamarco_cli(&[
        "etcd",
        "write_yml",
        file.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ])
    .await
    .unwrap();
    assert!(out.contains("wrote 1 keys"), "{out}");
    let printed = tamarco_cli(&[
        "etcd",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "read",
        "system.deploy_name",
    ])
    .await
    .unwrap();
    assert_eq!(printed.trim(), "from_write_yml");
    let _ = std::fs::remove_dir_all(dir);
}
