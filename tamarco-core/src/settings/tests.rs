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
        .set("system.resources.db.port", "not a port")
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
    assert!(
        err.to_string().contains("`system.resources.db.pool.size`"),
        "{err}"
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
    settings.set("a.b.c", 1).unwrap();
    assert_eq!(settings.value("a"), Some(json!({"b": {"c": 1}})));
    settings.delete("a.b").unwrap();
    assert_eq!(settings.value("a"), Some(json!({})));
    assert!(settings.set("a..b", 1).is_err());
}

#[test]
fn malformed_yaml_names_the_line() {
    let settings = Settings::new("dog");
    let err = settings
        .update_internal_yaml("system:\n  a: [1, 2\n")
        .unwrap_err();
    assert!(err.to_string().contains("line"), "{err}");
}
