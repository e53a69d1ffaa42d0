//! Settings files: YAML, TOML and JSON read alike (YAML with the feature `yaml`), and their errors name the file and line but
//! never the value.

use super::*;

#[cfg(feature = "yaml")]
#[test]
fn malformed_yaml_names_the_line() {
    let settings = Settings::new("dog");
    let err = settings
        .update_internal_yaml("system:\n  a: [1, 2\n")
        .unwrap_err();
    assert!(err.to_string().contains("line"), "{err}");
}

#[cfg(feature = "yaml")]
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

#[cfg(feature = "yaml")]
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
fn a_malformed_json_file_names_the_file_and_line() {
    let file = TempFile::new(
        "bad.json",
        "{\"system\": {\"password\": \"hunter2\",\n \"port\": }}",
    );
    let err = sources::load_file(&Settings::new("dog"), &file.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&file.0.display().to_string()), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[cfg(not(feature = "yaml"))]
#[test]
fn a_yaml_file_without_the_yaml_feature_names_the_file_and_the_feature() {
    let yaml = TempFile::new("settings.yml", "system:\n  port: 1\n");
    let settings = Settings::new("dog");
    let err = sources::load_file(&settings, &yaml.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&yaml.0.display().to_string()), "{err}");
    assert!(err.contains("cargo feature `yaml`"), "{err}");
    // JSON is YAML: a `.yml` file that holds JSON is read all the same.
    let json = TempFile::new("json.yml", r#"{"system": {"port": 2}}"#);
    sources::load_file(&settings, &json.0).unwrap();
    assert_eq!(settings.get::<u16>("system.port").unwrap(), 2);
}
