//! The layers: defaults, in-code settings, the per-service override, editing the in-code layer,
//! the documented precedence, and environment values kept as text until a typed read.

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

#[cfg(feature = "yaml")]
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
fn set_and_delete_edit_the_in_code_layer() {
    let settings = Settings::new("dog");
    settings.set_internal("a.b.c", 1).unwrap();
    assert_eq!(settings.value("a"), Some(json!({"b": {"c": 1}})));
    settings.delete_internal("a.b").unwrap();
    assert_eq!(settings.value("a"), Some(json!({})));
    assert!(settings.set_internal("a..b", 1).is_err());
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
