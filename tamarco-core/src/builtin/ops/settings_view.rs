//! `GET /settings`: the merged settings tree with every secret masked, and each value with the
//! layer it comes from (`defaults`, `in-code`, `file`, `etcd`, `environment`).
//!
//! A value is masked when a segment of its key names a secret (`password`, `token`, `secret`...,
//! plus `system.logging.secret_fields`), whatever its type: a password that looks like a number
//! is masked too. A value the service read as a [`Secret`](crate::secret::Secret) is masked
//! under any key, once it was read (resources read theirs when they configure; a business
//! setting, when the service first reads it). A string holding a URL with a password
//! (`amqp://user:pass@host`) shows the URL with the password masked.

use serde_json::{Map, Value, json};

use crate::secret::{MASK, is_secret_name};
use crate::settings::Settings;

/// The `/settings` document: `tree` (the masked tree) and `values` (one entry per leaf, in key
/// order: `key`, `value`, `source`).
pub(crate) fn document(settings: &Settings) -> Value {
    let extra: Vec<String> = settings
        .get_or("system.logging.secret_fields", Vec::new())
        .unwrap_or_default();
    let is_secret = |segment: &str| {
        is_secret_name(segment) || extra.iter().any(|name| name.eq_ignore_ascii_case(segment))
    };
    let is_secret_value = |value: &Value| settings.is_secret_value(value);
    let tree = mask(&settings.merged_tree(), &is_secret, &is_secret_value);
    let mut values = Vec::new();
    leaves(&tree, String::new(), &mut |key, value| {
        let source = settings.source_of(&key).map(|layer| layer.name());
        values.push(json!({"key": key, "value": value, "source": source}));
    });
    json!({"tree": tree, "values": values})
}

/// A copy of `value` with secrets masked: under a secret name, or read as a secret.
fn mask(
    value: &Value,
    is_secret: &impl Fn(&str) -> bool,
    is_secret_value: &impl Fn(&Value) -> bool,
) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let item = match is_secret(key) {
                        true if !item.is_object() => Value::String(MASK.into()),
                        _ => mask(item, is_secret, is_secret_value),
                    };
                    (key.clone(), item)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| mask(i, is_secret, is_secret_value))
                .collect(),
        ),
        leaf if is_secret_value(leaf) => Value::String(MASK.into()),
        Value::String(text) => Value::String(mask_url_password(text)),
        other => other.clone(),
    }
}

/// `scheme://user:password@host...` with the password replaced by the mask.
fn mask_url_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return text.to_owned();
    };
    let Some(colon) = rest[..at].find(':') else {
        return text.to_owned();
    };
    format!("{scheme}://{}:{MASK}{}", &rest[..colon], &rest[at..])
}

/// Calls `visit(dotted key, value)` for every leaf (anything but a non-empty map).
fn leaves(value: &Value, key: String, visit: &mut impl FnMut(String, &Value)) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, item) in map {
                let child = match key.is_empty() {
                    true => name.clone(),
                    false => format!("{key}.{name}"),
                };
                leaves(item, child, visit);
            }
        }
        _ if key.is_empty() => {}
        _ => visit(key, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Layer;

    #[test]
    fn secrets_are_masked_whatever_their_type_and_each_value_has_its_source() {
        let settings = Settings::new("svc");
        settings
            .update_internal(json!({"system": {"resources": {"db": {
                "password": 1234, "user": "me", "url": "postgres://me:hunter2@db:5432/x",
                "pin": "42"
            }}, "logging": {"secret_fields": ["pin"]}}}))
            .unwrap();
        settings.replace_layer(
            Layer::Environment,
            json!({"system": {"resources": {"db": {"auth_token": "t0k"}}}}),
        );
        let doc = document(&settings).to_string();
        for secret in ["1234", "hunter2", "t0k", "\"42\""] {
            assert!(!doc.contains(secret), "{secret} leaked: {doc}");
        }
        assert!(doc.contains("postgres://me:***@db:5432/x"), "{doc}");
        let doc = document(&settings);
        let find = |key: &str| {
            doc["values"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["key"] == key)
                .cloned()
                .unwrap()
        };
        assert_eq!(find("system.resources.db.user")["source"], "in-code");
        assert_eq!(
            find("system.resources.db.auth_token")["source"],
            "environment"
        );
        assert_eq!(find("system.deploy_name")["source"], "defaults");
    }

    #[test]
    fn a_value_read_as_a_secret_is_masked_under_any_key_once_read() {
        use crate::secret::Secret;

        let settings = Settings::new("svc");
        settings
            .update_internal(json!({"system": {"microservices": {"svc": {
                "stripe": 987654321, "blob": {"pem": "BEGIN-KEY"}, "region": "eu"
            }}}}))
            .unwrap();
        let before = document(&settings).to_string();
        assert!(before.contains("987654321"), "{before}");
        let stripe: Secret = settings.get("system.microservices.svc.stripe").unwrap();
        assert_eq!(stripe.expose(), "987654321");
        let _: Secret<serde_json::Value> = settings.get("system.microservices.svc.blob").unwrap();
        let region: String = settings.get("system.microservices.svc.region").unwrap();
        let after = document(&settings).to_string();
        for secret in ["987654321", "BEGIN-KEY"] {
            assert!(!after.contains(secret), "{secret} leaked: {after}");
        }
        assert!(after.contains(&format!("\"{region}\"")), "{after}");
    }
}
