use serde::Deserialize;

use super::*;

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct Server {
    keep_alive: Option<bool>,
    port: u16,
    cache: Cache,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct Cache {
    enabled: bool,
    ttl_seconds: u64,
}

const LEGACY: &[LegacyKey] = &[
    LegacyKey::renamed("keep_alive_connections", "keep_alive"),
    LegacyKey::renamed("cache_ttl", "cache.ttl_seconds"),
    LegacyKey::no_effect("debug", "there is no debug mode"),
];

fn settings(yaml: &str) -> Settings {
    let settings = Settings::new("svc");
    settings.update_internal_yaml(yaml).unwrap();
    settings
}

#[test]
fn a_legacy_key_is_read_as_its_new_name_with_one_warning_naming_both() {
    let settings = settings(
        "system: {resources: {web: {keep_alive_connections: false, cache_ttl: 30, port: 81}}}",
    );
    let view = settings.resource_view("web");
    for _ in 0..2 {
        let server: Server = view.load_checked(LEGACY).unwrap();
        assert_eq!(server.keep_alive, Some(false));
        assert_eq!(server.cache.ttl_seconds, 30);
        assert_eq!(server.port, 81);
    }
    let notes = settings.key_notes();
    assert_eq!(
        notes.len(),
        2,
        "one note per key, however often read: {notes:?}"
    );
    let note = &notes[0];
    assert_eq!(note.key, "system.resources.web.keep_alive_connections");
    assert_eq!(
        note.kind,
        KeyNoteKind::Renamed {
            instead: "system.resources.web.keep_alive".into()
        }
    );
    assert!(
        note.message
            .contains("`system.resources.web.keep_alive_connections`")
            && note.message.contains("`system.resources.web.keep_alive`"),
        "{}",
        note.message
    );
}

#[test]
fn the_new_key_wins_over_its_legacy_name() {
    let settings =
        settings("system: {resources: {web: {keep_alive_connections: false, keep_alive: true}}}");
    let server: Server = settings.resource_view("web").load_checked(LEGACY).unwrap();
    assert_eq!(server.keep_alive, Some(true));
    assert!(settings.key_notes()[0].message.contains("both are set"));
}

#[test]
fn a_legacy_key_without_equivalent_is_noted_as_having_no_effect() {
    let settings = settings("system: {resources: {web: {debug: true}}}");
    let server: Server = settings.resource_view("web").load_checked(LEGACY).unwrap();
    assert_eq!(server, Server::default());
    let notes = settings.key_notes();
    assert_eq!(notes[0].kind, KeyNoteKind::NoEffect);
    assert!(
        notes[0].message.contains("`system.resources.web.debug`")
            && notes[0].message.contains("no effect")
            && notes[0].message.contains("there is no debug mode"),
        "{}",
        notes[0].message
    );
}

#[test]
fn an_unknown_key_is_ignored_with_a_warning_naming_the_closest_known_key() {
    let settings =
        settings("system: {resources: {web: {prot: 1, port: 82, cache: {ttl: 5, enabled: true}}}}");
    let server: Server = settings.resource_view("web").load_checked(&[]).unwrap();
    assert_eq!(server.port, 82);
    assert!(server.cache.enabled);
    let notes = settings.key_notes();
    let mut closest: Vec<(&str, Option<&str>)> = notes
        .iter()
        .map(|n| match &n.kind {
            KeyNoteKind::Unknown { closest } => (n.key.as_str(), closest.as_deref()),
            other => panic!("{other:?}"),
        })
        .collect();
    closest.sort();
    assert_eq!(
        closest,
        [
            ("system.resources.web.cache.ttl", Some("ttl_seconds")),
            ("system.resources.web.prot", Some("port")),
        ]
    );
    let prot = notes.iter().find(|n| n.key.ends_with("prot")).unwrap();
    assert!(
        prot.message.contains("did you mean `port`?"),
        "{}",
        prot.message
    );
}

#[test]
fn unknown_keys_fail_the_read_when_the_policy_says_error() {
    let settings = settings(
        "system: {unknown_keys: error, resources: {web: {prot: 1, keep_alive_connections: true}}}",
    );
    let error = settings
        .resource_view("web")
        .load_checked::<Server>(LEGACY)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("system.resources.web.prot") && error.contains("unknown_keys"),
        "{error}"
    );
    let bad = Settings::new("svc");
    bad.set_internal(UNKNOWN_KEYS_POLICY, "loud").unwrap();
    bad.set_internal("system.resources.web.prot", 1).unwrap();
    let error = bad
        .resource_view("web")
        .load_checked::<Server>(&[])
        .unwrap_err()
        .to_string();
    assert!(error.contains("system.unknown_keys"), "{error}");
}

#[test]
fn text_values_still_read_as_numbers_beside_an_unknown_key() {
    // Environment values are text; figment reads them as the number asked for.
    let settings = settings("system: {resources: {web: {port: '8081', prot: 1}}}");
    let server: Server = settings.resource_view("web").load_checked(&[]).unwrap();
    assert_eq!(server.port, 8081);
}

#[test]
fn a_bad_value_is_still_an_error_naming_its_key() {
    let settings = settings("system: {resources: {web: {port: many, cache_ttl: 3}}}");
    let error = settings
        .resource_view("web")
        .load_checked::<Server>(LEGACY)
        .unwrap_err()
        .to_string();
    assert!(error.contains("system.resources.web.port"), "{error}");
    assert!(
        !error.contains("many"),
        "values stay out of errors: {error}"
    );
}

#[test]
fn key_by_key_readers_get_the_same_policy() {
    let settings = settings(
        "system: {logging: {profile: DEVELOP, stdout_fromat: json, levels: {hyper: warn}, logstash: {enabeld: true}, file: false}}",
    );
    check_known(
        &settings,
        "system.logging",
        &[
            "profile",
            "stdout",
            "stdout_format",
            "levels.*",
            "logstash.enabled",
        ],
        &[LegacyKey::no_effect("file", "use file_path")],
    )
    .unwrap();
    let notes: Vec<(String, KeyNoteKind)> = settings
        .key_notes()
        .into_iter()
        .map(|n| (n.key, n.kind))
        .collect();
    // Unknown keys in the settings tree's order: by name.
    assert_eq!(
        notes,
        [
            ("system.logging.file".into(), KeyNoteKind::NoEffect),
            (
                "system.logging.logstash.enabeld".into(),
                KeyNoteKind::Unknown {
                    closest: Some("enabled".into())
                }
            ),
            (
                "system.logging.stdout_fromat".into(),
                KeyNoteKind::Unknown {
                    closest: Some("stdout_format".into())
                }
            ),
        ]
    );
}

#[test]
fn in_code_settings_overridden_by_a_file_are_listed_for_the_migration_warning() {
    let settings = settings("system: {deploy_name: mine, logging: {profile: DEVELOP}}");
    settings.replace_layer(
        crate::settings::Layer::File,
        serde_json::json!({"system": {"deploy_name": "theirs", "logging": {"profile": "DEVELOP"}}}),
    );
    assert_eq!(
        super::super::sources::overridden_in_code(&settings),
        [(
            "system.deploy_name".to_owned(),
            crate::settings::Layer::File
        )],
        "the same value in both is no surprise, so not listed"
    );
}

#[test]
fn a_bad_value_read_beside_other_keys_names_its_source() {
    // `inputs` is read by another reader: the typed read goes through a tree of its own,
    // which knows no sources; the error still names the environment variable.
    let settings = settings("system: {resources: {web: {inputs: {q: {prefetch: 1}}}}}");
    let var = "TAMARCO__SYSTEM__RESOURCES__WEB__PORT";
    crate::settings::sources::load_env(&settings, [(var.to_owned(), "80x".to_owned())]).unwrap();
    let error = settings
        .resource_view("web")
        .load_checked_beside::<Server>(&[], &["inputs"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("`system.resources.web.port`"), "{error}");
    assert!(
        error.ends_with(&format!("(from environment variable `{var}`)")),
        "{error}"
    );
    assert!(!error.contains("80x"), "{error}");
}

#[test]
fn registry_settings_are_under_the_key_policy() {
    let settings = settings("system: {resources: {registry: {enabled: true, tll_seconds: 3}}}");
    let read = crate::registry::RegistrySettings::read(&settings).unwrap();
    assert!(read.enabled);
    let notes = settings.key_notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].key, "system.resources.registry.tll_seconds");
    assert_eq!(
        notes[0].kind,
        KeyNoteKind::Unknown {
            closest: Some("ttl_seconds".to_owned())
        }
    );
}
