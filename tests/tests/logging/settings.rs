//! Logging settings: a profile changed live, and bad values that name their key while the
//! service starts with the sinks that work.

use super::*;

#[test]
fn a_profile_change_in_the_settings_changes_the_level_without_a_restart() {
    let run = probe("profile", json!({"profile": "PRODUCTION"}), &[]);
    assert_eq!(run.code, 0, "{}", run.text());
    let text = run.text();
    assert!(!text.contains("before-change"), "{text}");
    assert!(text.contains("after-change"), "{text}");
    assert!(!text.contains("after-revert"), "{text}");
    assert!(
        text.contains("after-override"),
        "the per-service override applies: {text}"
    );
    assert!(text.contains("profile-done"), "{text}");
}

#[test]
fn bad_logging_settings_name_the_key_and_the_service_starts_with_the_sinks_that_work() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let run = probe(
        "emit",
        json!({
            "profile": "LOUD",
            "http": {"enabled": true},
            "file_path": "/proc/no-such-dir/app.log",
            "logstash": {"enabled": true, "port": port},
        }),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    let text = run.text();
    assert!(
        text.contains("setting `system.logging.profile`: unknown profile \"LOUD\""),
        "{text}"
    );
    assert!(
        text.contains("setting `system.logging.http.url` is missing"),
        "{text}"
    );
    assert!(
        text.contains("setting `system.logging.file_path`: cannot create /proc/no-such-dir"),
        "{text}"
    );
    assert!(text.contains("started"), "{text}");
    // The sink that works still gets the records.
    check_emitted(&datagrams(&socket), "logstash");
}
