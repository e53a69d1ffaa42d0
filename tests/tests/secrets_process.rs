//! Secrets that look like numbers, given the way operators give them (issue 14): unquoted in a
//! YAML file and in a `TAMARCO__...` environment variable of a real service process
//! (`src/bin/secrets_probe.rs`). The service logs in to Redis with them, as two ACL users this
//! test creates, so it starts only if both reached Redis exactly as written (`04231508` keeps
//! its leading zero). Neither its log (at debug level), `/status`, `/settings` nor an error
//! shows them. A wrong type given to a plain setting through the environment fails the start
//! with an error that names the variable, and not the value.

use std::process::Command;
use std::time::Duration;

use tamarco_tests::{Probe, http_get};

const PROBE: &str = env!("CARGO_BIN_EXE_secrets_probe");
const WAIT: Duration = Duration::from_secs(20);
/// Unquoted in the YAML file: YAML reads it as a number.
const FILE_PASSWORD: &str = "48151623";
/// In the environment: with a leading zero, which a number would lose.
const ENV_PASSWORD: &str = "04231508";

/// A Redis ACL user of the machine's Redis (127.0.0.1:6379) with `password`, deleted on drop.
struct AclUser(String);

impl AclUser {
    fn create(name: &str, password: &str) -> AclUser {
        let name = format!("tamarco-{name}-{}", std::process::id());
        redis_cli(&[
            "ACL",
            "SETUSER",
            &name,
            "reset",
            "on",
            &format!(">{password}"),
            "~*",
            "&*",
            "+@all",
        ]);
        AclUser(name)
    }
}

impl Drop for AclUser {
    fn drop(&mut self) {
        redis_cli(&["ACL", "DELUSER", &self.0]);
    }
}

fn redis_cli(args: &[&str]) {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379"])
        .args(args)
        .output()
        .expect("redis-cli runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && !said.starts_with("ERR"),
        "redis-cli {}: {said}",
        args[..2].join(" ")
    );
}

/// Writes the settings file of the test in a directory of its own; returns its path.
fn settings_file(name: &str, yaml: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tamarco-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, yaml).unwrap();
    file
}

#[test]
fn numeric_secrets_from_a_file_and_the_environment_log_in_as_text_and_never_show() {
    let cache_user = AclUser::create("cache", FILE_PASSWORD);
    let store_user = AclUser::create("store", ENV_PASSWORD);
    let file = settings_file(
        "numbers.yml",
        &format!(
            "system:\n  resources:\n    cache:\n      host: 127.0.0.1\n      user: {}\n      \
             password: {FILE_PASSWORD}\n      connection_timeout: 5\n",
            cache_user.0
        ),
    );
    let mut probe = Probe::spawn_with(
        PROBE,
        "secrets",
        &[
            ("RUST_LOG", "debug"),
            ("TAMARCO_YML_FILE", file.to_str().unwrap()),
            ("TAMARCO__SYSTEM__RESOURCES__STORE__HOST", "127.0.0.1"),
            ("TAMARCO__SYSTEM__RESOURCES__STORE__USER", &store_user.0),
            ("TAMARCO__SYSTEM__RESOURCES__STORE__PASSWORD", ENV_PASSWORD),
            ("TAMARCO__SYSTEM__RESOURCES__STORE__CONNECTION_TIMEOUT", "5"),
        ],
    );
    // Both resources connected: Redis took both passwords.
    probe.wait_for_line("started service=\"secrets_probe\"", WAIT);
    let report = probe.report_addr();
    for path in ["/status", "/settings"] {
        let (code, body) = http_get(report, path).unwrap();
        assert_eq!(code, 200, "{path}: {body}");
        for secret in [FILE_PASSWORD, ENV_PASSWORD] {
            assert!(!body.contains(secret), "{secret} in {path}: {body}");
        }
        assert!(body.contains("cache") && body.contains("store"), "{body}");
    }
    probe.signal("TERM");
    let (code, _, lines) = probe.wait_exit(WAIT);
    let log = lines.join("\n");
    assert_eq!(code, 0, "a clean stop:\n{log}");
    assert!(
        log.contains("level=DEBUG") || log.contains("DEBUG"),
        "the log ran at debug level:\n{log}"
    );
    for secret in [FILE_PASSWORD, ENV_PASSWORD] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn a_wrong_type_through_the_environment_names_the_variable_and_not_the_value() {
    let store_user = AclUser::create("store-typed", ENV_PASSWORD);
    let file = settings_file(
        "typed.yml",
        "system:\n  resources:\n    cache:\n      host: 127.0.0.1\n",
    );
    let probe = Probe::spawn_with(
        PROBE,
        "secrets",
        &[
            ("TAMARCO_YML_FILE", file.to_str().unwrap()),
            ("TAMARCO__SYSTEM__RESOURCES__STORE__USER", &store_user.0),
            ("TAMARCO__SYSTEM__RESOURCES__STORE__PASSWORD", ENV_PASSWORD),
            ("TAMARCO__SYSTEM__RESOURCES__STORE__PORT", "63x79-port"),
        ],
    );
    let (code, _, lines) = probe.wait_exit(WAIT);
    let log = lines.join("\n");
    assert_eq!(code, 1, "the start fails:\n{log}");
    assert!(
        log.contains("TAMARCO__SYSTEM__RESOURCES__STORE__PORT"),
        "the error names the variable:\n{log}"
    );
    for shown in ["63x79-port", ENV_PASSWORD] {
        assert!(!log.contains(shown), "{shown} in the log:\n{log}");
    }
}
