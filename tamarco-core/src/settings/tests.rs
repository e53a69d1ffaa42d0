//! Unit tests of the settings model, its sources, errors and watches. Longer than 400 lines: one
//! test per behaviour, sharing the helpers at the end (a temporary file, captured logs).

use serde::Deserialize;
use serde_json::json;

use super::*;

#[test]
fn defaults_let_a_service_run_without_settings() {
    let settings = Settings::new("dog");
    assert_eq!(
        settings.get::<String>("system.deploy_name").unwrap(),
        DEFAULT_DEPLOY_NAME
    );
    let port: u16 = settings
        .get("system.resources.tamarco_http_report_server.port")
        .unwrap();
    assert_eq!(port, 5747);
}

#[test]
fn in_code_settings_merge_over_defaults() {
    let settings = Settings::new("dog");
    settings
        .update_internal_yaml(
            "system:\n  deploy_name: staging\n  resources:\n    db:\n      port: 5432\n",
        )
        .unwrap();
    assert_eq!(
        settings.get::<String>("system.deploy_name").unwrap(),
        "staging"
    );
    assert_eq!(
        settings.get::<u16>("system.resources.db.port").unwrap(),
        5432
    );
    // the defaults next to the merged keys survive
    assert_eq!(
        settings.get::<String>("system.logging.profile").unwrap(),
        "PRODUCTION"
    );
}

#[test]
fn per_service_override_wins_for_that_service_only() {
    let doc = json!({"system": {
        "logging": {"profile": "PRODUCTION", "stdout": true},
        "microservices": {"dog": {"logging": {"profile": "DEVELOP"}}}
    }});
    let dog = Settings::new("dog");
    dog.update_internal(&doc).unwrap();
    let cat = Settings::new("cat");
    cat.update_internal(&doc).unwrap();
    assert_eq!(
        dog.get::<String>("system.logging.profile").unwrap(),
        "DEVELOP"
    );
    assert_eq!(
        cat.get::<String>("system.logging.profile").unwrap(),
        "PRODUCTION"
    );
    // subtrees merge key by key
    let logging = dog.value("system.logging").unwrap();
    assert_eq!(logging, json!({"profile": "DEVELOP", "stdout": true}));
}

#[test]
fn wrong_type_names_full_key_and_expected_type() {
    let settings = Settings::new("dog");
    settings
        .set_internal("system.resources.db.port", "not a port")
        .unwrap();
    let err = settings.resource_view("db").get::<u16>("port").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("system.resources.db.port"), "{text}");
    assert!(text.contains("expected u16"), "{text}");
}

#[test]
fn nested_wrong_type_names_the_leaf() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Db {
        host: String,
        pool: Pool,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Pool {
        size: u32,
    }
    let settings = Settings::new("dog");
    settings
        .update_internal(
            json!({"system": {"resources": {"db": {"host": "h", "pool": {"size": -3}}}}}),
        )
        .unwrap();
    let err = settings.resource_view("db").load::<Db>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "setting `system.resources.db.pool.size`: invalid value: found a number, expected u32 \
         (from the in-code settings)"
    );
}

#[test]
fn missing_key_is_named() {
    let settings = Settings::new("dog");
    let err = settings
        .get::<String>("system.resources.db.host")
        .unwrap_err();
    assert_eq!(
        err,
        SettingsError::Missing {
            key: "system.resources.db.host".into()
        }
    );
    assert_eq!(
        settings
            .get_or("system.resources.db.host", "x".to_string())
            .unwrap(),
        "x"
    );
}

#[test]
fn set_and_delete_edit_the_in_code_layer() {
    let settings = Settings::new("dog");
    settings.set_internal("a.b.c", 1).unwrap();
    assert_eq!(settings.value("a"), Some(json!({"b": {"c": 1}})));
    settings.delete_internal("a.b").unwrap();
    assert_eq!(settings.value("a"), Some(json!({})));
    assert!(settings.set_internal("a..b", 1).is_err());
}

#[test]
fn malformed_yaml_names_the_line() {
    let settings = Settings::new("dog");
    let err = settings
        .update_internal_yaml("system:\n  a: [1, 2\n")
        .unwrap_err();
    assert!(err.to_string().contains("line"), "{err}");
}

#[test]
fn watch_fires_on_change_and_delete_with_the_override() {
    use std::sync::{Arc, Mutex};
    let settings = Settings::new("dog");
    settings
        .set_internal("system.resources.db.port", 1)
        .unwrap();
    type Calls = Arc<Mutex<Vec<(String, Option<Value>)>>>;
    let seen: Calls = Arc::default();
    let sink = Arc::clone(&seen);
    settings.watch("system.resources.db.port", move |key, value| {
        sink.lock().unwrap().push((key.to_owned(), value.cloned()));
    });
    settings
        .set_internal("system.resources.db.host", "h")
        .unwrap(); // another key: no call
    settings
        .set_internal("system.resources.db.port", 2)
        .unwrap();
    settings
        .set_internal("system.microservices.dog.resources.db.port", 3)
        .unwrap();
    settings
        .set_internal("system.microservices.cat.resources.db.port", 4)
        .unwrap(); // not us
    settings
        .delete_internal("system.microservices.dog")
        .unwrap();
    settings
        .delete_internal("system.resources.db.port")
        .unwrap();
    let key = "system.resources.db.port".to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (key.clone(), Some(json!(2))),
            (key.clone(), Some(json!(3))),
            (key.clone(), Some(json!(2))),
            (key, None)
        ]
    );
}

#[test]
fn live_handles_follow_changes_and_keep_the_last_good_value() {
    let settings = Settings::new("dog");
    settings
        .set_internal("system.resources.db.pool", 5)
        .unwrap();
    let pool = settings.resource_view("db").live::<u32>("pool").unwrap();
    assert_eq!(*pool.get(), 5);
    settings
        .set_internal("system.resources.db.pool", 8)
        .unwrap();
    assert_eq!(**pool.load(), 8);
    settings
        .set_internal("system.resources.db.pool", "many")
        .unwrap();
    assert_eq!(*pool.get(), 8, "a bad value is skipped");
    let missing = settings
        .live::<u32>("system.resources.db.missing")
        .unwrap_err();
    assert_eq!(
        missing,
        SettingsError::Missing {
            key: "system.resources.db.missing".into()
        }
    );
    let timeout = settings
        .live_or("system.resources.db.timeout", 30u32)
        .unwrap();
    assert_eq!(*timeout.get(), 30);
    settings
        .set_internal("system.resources.db.timeout", 10)
        .unwrap();
    assert_eq!(*timeout.get(), 10);
    settings
        .delete_internal("system.resources.db.timeout")
        .unwrap();
    assert_eq!(*timeout.get(), 30, "back to the default when deleted");
}

#[test]
fn layers_follow_the_documented_precedence() {
    let settings = Settings::new("dog");
    settings.set_internal("system.k", "in-code").unwrap();
    settings.replace_layer(Layer::File, json!({"system": {"k": "file", "f": 1}}));
    assert_eq!(settings.get::<String>("system.k").unwrap(), "file");
    settings.replace_layer(Layer::Etcd, json!({"system": {"k": "etcd"}}));
    assert_eq!(settings.get::<String>("system.k").unwrap(), "etcd");
    sources::load_env(
        &settings,
        [("TAMARCO__SYSTEM__K".to_owned(), "env".to_owned())],
    )
    .unwrap();
    assert_eq!(settings.get::<String>("system.k").unwrap(), "env");
    assert_eq!(
        settings.get::<u32>("system.f").unwrap(),
        1,
        "other keys of lower layers survive"
    );
}

#[test]
fn environment_values_stay_text_until_a_typed_read_asks_for_a_number() {
    let settings = Settings::new("dog");
    let vars = [
        ("TAMARCO__SYSTEM__RESOURCES__DB__PORT", "5432"),
        ("TAMARCO__SYSTEM__RESOURCES__DB__TLS", "true"),
        ("TAMARCO__SYSTEM__RESOURCES__DB__NAME", "0123"),
        ("TAMARCO__SYSTEM__RESOURCES__DB__USER", "p@ss #1"),
        ("TAMARCO__SYSTEM__RESOURCES__DB__PASSWORD", "12345678"),
        ("TAMARCO__SYSTEM__RESOURCES__DB__EMPTY", ""),
        ("TAMARCO__SYSTEM__RESOURCES__DB__POOL", "8o"),
        ("UNRELATED", "x"),
    ];
    sources::load_env(&settings, vars.map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap();
    let db = settings.resource_view("db");
    assert_eq!(db.get::<u16>("port").unwrap(), 5432);
    assert!(db.get::<bool>("tls").unwrap());
    assert_eq!(db.get::<String>("name").unwrap(), "0123");
    assert_eq!(db.get::<String>("user").unwrap(), "p@ss #1");
    assert_eq!(
        db.get::<crate::Secret>("password").unwrap().expose(),
        "12345678"
    );
    assert_eq!(db.get::<String>("empty").unwrap(), "");
    assert_eq!(
        settings.value("system.resources.db.port"),
        Some(json!("5432"))
    );
    let bad = db.get::<u32>("pool").unwrap_err().to_string();
    assert_eq!(
        bad,
        "setting `system.resources.db.pool`: invalid type: found a string, expected u32 \
         (from environment variable `TAMARCO__SYSTEM__RESOURCES__DB__POOL`)"
    );
    let bad = sources::load_env(
        &settings,
        [("TAMARCO__SYSTEM____X".to_owned(), "1".to_owned())],
    )
    .unwrap_err();
    assert!(bad.to_string().contains("TAMARCO__SYSTEM____X"), "{bad}");
}

#[test]
fn a_malformed_file_names_the_file_and_line() {
    let path = std::env::temp_dir().join(format!("tamarco-bad-{}.yml", std::process::id()));
    std::fs::write(&path, "system:\n  resources:\n    db: {port: 1\n").unwrap();
    let err = sources::load_file(&Settings::new("dog"), &path)
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("line"), "{err}");
}

#[test]
fn a_wrong_type_error_never_shows_the_value() {
    let settings = Settings::new("dog");
    settings
        .update_internal_yaml(
            "system:\n  resources:\n    db:\n      port: secret-ish-9876\n      password: [hunter2]\n",
        )
        .unwrap();
    let port = settings.get::<u16>("system.resources.db.port").unwrap_err();
    let port = port.to_string();
    assert!(port.contains("system.resources.db.port"), "{port}");
    assert!(
        port.contains("expected u16") && port.contains("string"),
        "{port}"
    );
    assert!(!port.contains("secret-ish-9876"), "{port}");
    let password = settings
        .get::<crate::Secret>("system.resources.db.password")
        .unwrap_err()
        .to_string();
    assert!(
        password.contains("system.resources.db.password"),
        "{password}"
    );
    assert!(!password.contains("hunter2"), "{password}");
}

#[test]
fn a_secret_that_looks_like_a_number_is_read_as_text() {
    let settings = Settings::new("dog");
    settings
        .update_internal_yaml("system:\n  resources:\n    db:\n      password: 12345678\n")
        .unwrap();
    let password: crate::Secret = settings.get("system.resources.db.password").unwrap();
    assert_eq!(password.expose(), "12345678");
    let err = settings
        .get::<bool>("system.resources.db.password")
        .unwrap_err()
        .to_string();
    assert!(!err.contains("12345678"), "{err}");
}

#[test]
fn a_panicking_watch_callback_neither_poisons_settings_nor_stops_other_watchers() {
    let settings = Settings::new("dog");
    settings.watch("system.a", |_, _| panic!("a watcher bug"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    settings.watch("system.b", move |_, value| {
        record.lock().unwrap().push(value.cloned());
    });
    // The panic stays in the callback: the change is made and `set_internal` returns.
    settings.set_internal("system.a", 1).unwrap();
    assert_eq!(settings.get::<u32>("system.a").unwrap(), 1);
    settings.set_internal("system.b", 2).unwrap();
    settings.set_internal("system.a", 3).unwrap();
    settings.set_internal("system.b", 4).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [Some(json!(2)), Some(json!(4))],
        "later changes still reach the other watchers"
    );
}

#[test]
fn a_watch_callback_that_writes_settings_does_not_deadlock() {
    let settings = Settings::new("dog");
    let writer = settings.clone();
    settings.watch("system.a", move |_, value| {
        let doubled = value.and_then(Value::as_u64).unwrap_or(0) * 2;
        writer.set_internal("system.b", doubled).unwrap();
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    settings.watch("system.b", move |_, value| {
        record.lock().unwrap().push(value.cloned());
    });
    let (done, finished) = std::sync::mpsc::channel();
    let changer = settings.clone();
    std::thread::spawn(move || {
        changer.set_internal("system.a", 21).unwrap();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("set_internal returns: a callback writing settings must not deadlock");
    assert_eq!(settings.get::<u64>("system.b").unwrap(), 42);
    assert_eq!(*seen.lock().unwrap(), [Some(json!(42))]);
}

/// A settings file in the temporary directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!("tamarco-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_wrong_type_in_a_file_names_the_key_and_the_file_but_not_the_value() {
    let file = TempFile::new(
        "wrong.yml",
        "system:\n  resources:\n    db:\n      port: '5432x'\n      password: 12345678\n",
    );
    let settings = Settings::new("dog");
    sources::load_file(&settings, &file.0).unwrap();
    let db = settings.resource_view("db");
    assert_eq!(
        db.get::<crate::Secret>("password").unwrap().expose(),
        "12345678"
    );
    let err = db.get::<u16>("port").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "setting `system.resources.db.port`: invalid type: found a string, expected u16 \
             (from file `{}`)",
            file.0.display()
        )
    );
    let err = db.get::<bool>("password").unwrap_err().to_string();
    assert!(err.contains("system.resources.db.password"), "{err}");
    assert!(!err.contains("12345678"), "{err}");
}

#[cfg(feature = "toml")]
#[test]
fn toml_and_json_files_are_read_like_yaml() {
    let toml = TempFile::new(
        "settings.toml",
        "[system.resources.db]\nport = 5432\nhosts = [\"a\", \"b\"]\npassword = \"0123\"\n",
    );
    let json = TempFile::new(
        "settings.json",
        r#"{"system": {"resources": {"db": {"port": 6543}}}}"#,
    );
    let settings = Settings::new("dog");
    sources::load_file(&settings, &toml.0).unwrap();
    assert_eq!(
        settings.value("system.resources.db"),
        Some(json!({"port": 5432, "hosts": ["a", "b"], "password": "0123"}))
    );
    sources::load_file(&settings, &json.0).unwrap();
    assert_eq!(
        settings.get::<u16>("system.resources.db.port").unwrap(),
        6543
    );
    let bad = TempFile::new("bad.toml", "[system]\nport = \nsecret = \"hunter2\"\n");
    let err = sources::load_file(&settings, &bad.0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&bad.0.display().to_string()) && err.contains("line 2"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[cfg(not(feature = "toml"))]
#[test]
fn a_toml_file_without_the_toml_feature_names_the_file_and_the_feature() {
    let toml = TempFile::new("settings.toml", "[system]\nport = 1\n");
    let err = sources::load_file(&Settings::new("dog"), &toml.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&toml.0.display().to_string()), "{err}");
    assert!(err.contains("cargo feature `toml`"), "{err}");
}

#[test]
fn an_error_in_an_overriding_value_names_the_variable_that_holds_it() {
    let settings = Settings::new("dog");
    sources::load_env(
        &settings,
        [(
            "TAMARCO__SYSTEM__MICROSERVICES__DOG__RESOURCES__DB__PORT".to_owned(),
            "x".to_owned(),
        )],
    )
    .unwrap();
    let err = settings
        .get::<u16>("system.resources.db.port")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`system.resources.db.port`")
            && err.contains("`TAMARCO__SYSTEM__MICROSERVICES__DOG__RESOURCES__DB__PORT`"),
        "{err}"
    );
}

/// What `tracing` logged while `work` ran on this thread, as text.
fn logged(work: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, work);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_bad_live_update_is_logged_with_its_key_and_source_but_never_its_value() {
    let settings = Settings::new("dog");
    settings
        .set_internal("system.resources.db.password", 12345678)
        .unwrap();
    settings
        .set_internal("system.resources.db.port", 1)
        .unwrap();
    let db = settings.resource_view("db");
    let password = db.live::<crate::Secret>("password").unwrap();
    let port = db.live::<u16>("port").unwrap();
    assert_eq!(password.get().expose(), "12345678");
    let log = logged(|| {
        settings
            .set_internal("system.resources.db.password", json!({"pin": 55443322}))
            .unwrap();
        sources::load_env(
            &settings,
            [
                ("TAMARCO__SYSTEM__RESOURCES__DB__PASSWORD", "87654321"),
                ("TAMARCO__SYSTEM__RESOURCES__DB__PORT", "87654321"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .unwrap();
    });
    assert_eq!(password.get().expose(), "87654321", "the environment wins");
    assert_eq!(*port.get(), 1, "a port out of range is skipped");
    assert!(
        log.contains("system.resources.db.port")
            && log.contains("TAMARCO__SYSTEM__RESOURCES__DB__PORT"),
        "{log}"
    );
    assert!(
        log.contains("system.resources.db.password") && log.contains("in-code"),
        "{log}"
    );
    for value in ["87654321", "12345678", "55443322"] {
        assert!(!log.contains(value), "{value} in {log}");
    }
}
