//! Errors: a wrong type or a missing key names the full key, never the value; a secret that
//! looks like a number stays text; an overriding value's error names its variable.

use super::*;

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

#[cfg(feature = "yaml")]
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

#[cfg(feature = "yaml")]
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
