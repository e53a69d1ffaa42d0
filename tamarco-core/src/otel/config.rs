//! `system.tracing`: what to export, where, and how much to sample.

use crate::settings::{Settings, SettingsError};

/// The only OTLP protocol this build sends: protobuf over HTTP (no gRPC transport compiled in).
pub(crate) const PROTOCOL: &str = "http/protobuf";

/// The collector's OTLP/HTTP port on this host, when `endpoint` is not set.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";

/// The settings under `system.tracing`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    pub(crate) enabled: bool,
    /// The full URL spans are posted to (`.../v1/traces`).
    pub(crate) traces_url: String,
    /// The share of root spans kept, 0.0 to 1.0; children follow their parent's decision.
    pub(crate) sampling_ratio: f64,
    pub(crate) deploy_name: String,
}

impl Config {
    /// Reads `system.tracing`; a bad value is an error naming its key.
    pub(crate) fn read(settings: &Settings) -> Result<Config, SettingsError> {
        let enabled = settings.get_or("system.tracing.enabled", false)?;
        let protocol: String = settings.get_or("system.tracing.protocol", PROTOCOL.to_owned())?;
        if enabled && protocol != PROTOCOL {
            return Err(SettingsError::Invalid {
                key: "system.tracing.protocol".into(),
                message: format!("`{protocol}` is not supported; use `{PROTOCOL}`"),
            });
        }
        let endpoint: String =
            settings.get_or("system.tracing.endpoint", DEFAULT_ENDPOINT.to_owned())?;
        let sampling_ratio = read_ratio(settings)?;
        let deploy_name = settings.get_or(
            "system.deploy_name",
            crate::settings::DEFAULT_DEPLOY_NAME.to_owned(),
        )?;
        Ok(Config {
            enabled,
            traces_url: traces_url(&endpoint),
            sampling_ratio,
            deploy_name,
        })
    }
}

/// `system.tracing.sampling_ratio`, 1.0 when unset.
pub(crate) fn read_ratio(settings: &Settings) -> Result<f64, SettingsError> {
    let key = "system.tracing.sampling_ratio";
    let ratio: f64 = settings.get_or(key, 1.0)?;
    if !(0.0..=1.0).contains(&ratio) {
        return Err(SettingsError::Invalid {
            key: key.into(),
            message: format!("{ratio} is not between 0 and 1"),
        });
    }
    Ok(ratio)
}

/// The collector's base URL with the traces path, as OTLP/HTTP collectors expect it; a URL that
/// already names `/v1/traces` is kept.
fn traces_url(endpoint: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    if endpoint.ends_with("/v1/traces") {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/v1/traces")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c/v1/traces"), "http://c/v1/traces");
    }

    #[test]
    fn off_by_default_and_bad_values_name_their_key() {
        let settings = Settings::new("svc");
        assert!(!Config::read(&settings).unwrap().enabled);
        settings
            .update_internal(serde_json::json!({"system": {"tracing": {
                "enabled": true, "protocol": "grpc"}}}))
            .unwrap();
        let err = Config::read(&settings).unwrap_err().to_string();
        assert!(err.contains("system.tracing.protocol"), "{err}");
        settings
            .update_internal(serde_json::json!({"system": {"tracing": {
                "protocol": "http/protobuf", "sampling_ratio": 1.5}}}))
            .unwrap();
        let err = Config::read(&settings).unwrap_err().to_string();
        assert!(err.contains("system.tracing.sampling_ratio"), "{err}");
    }
}
