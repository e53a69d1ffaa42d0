//! The process-level contract, on the probe service (`src/bin/probe.rs`): `/status`, SIGTERM
//! exits 0 with the stop stages in reverse start order, a failed start exits 1 naming the
//! resource, the grace period expires into 124, a second signal exits at once with 130.

use std::time::Duration;

use tamarco_tests::{Probe, http_get};

const PROBE: &str = env!("CARGO_BIN_EXE_probe");

#[test]
fn status_is_200_then_sigterm_exits_0_with_stop_stages_in_reverse_start_order() {
    let mut probe = Probe::spawn(PROBE, "hello");
    let addr = probe.report_addr();
    probe.wait_for_line("started service=\"probe\"", Duration::from_secs(10));
    let (code, body) = http_get(addr, "/status").unwrap();
    assert_eq!(code, 200, "{body}");
    let status: tamarco::serde_json::Value = tamarco::serde_json::from_str(&body).unwrap();
    let entries = status.as_object().unwrap();
    // In start order in the body (a parsed map would sort them).
    let start_order = [
        "tamarco_http_report_server",
        "metrics",
        "status",
        "first",
        "broken",
    ];
    assert_eq!(entries.len(), start_order.len(), "{body}");
    let at = |name: &str| body.find(&format!("\"{name}\":{{")).expect(name);
    assert!(
        start_order.windows(2).all(|pair| at(pair[0]) < at(pair[1])),
        "{body}"
    );
    for (name, entry) in entries {
        assert_eq!(entry["status"], 2, "{name}: {entry}");
        assert_eq!(entry["status_str"], "STARTED", "{name}: {entry}");
    }

    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        took < Duration::from_secs(1),
        "SIGTERM to exit took {took:?}"
    );
    let order = |stage: &str| -> Vec<String> {
        let prefix = format!(" {stage} resource=\"");
        lines
            .iter()
            .filter_map(|l| {
                l.split_once(&prefix)
                    .map(|(_, rest)| rest.trim_end_matches('"').to_owned())
            })
            .collect()
    };
    let started: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            l.split_once(" started resource=\"")
                .map(|(_, r)| r.trim_end_matches('"').to_owned())
        })
        .collect();
    let mut reversed = started.clone();
    reversed.reverse();
    assert_eq!(
        started,
        [
            "tamarco_http_report_server",
            "metrics",
            "status",
            "first",
            "broken"
        ]
    );
    assert_eq!(order("stop"), reversed);
    assert_eq!(order("post_stop"), reversed);
}

#[test]
fn a_failed_start_exits_1_naming_the_resource_and_stage() {
    let probe = Probe::spawn(PROBE, "fail_start");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 1, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l
                .contains("resource `broken` failed in start: broken was told to fail in start")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("stop resource=\"first\"")),
        "first is stopped: {lines:#?}"
    );
}

#[test]
fn the_grace_period_expires_into_exit_code_124() {
    let mut probe = Probe::spawn(PROBE, "slow_stop");
    probe.wait_for_line("started service=\"probe\"", Duration::from_secs(10));
    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 124, "{lines:#?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        lines.iter().any(|l| l.contains("grace period")),
        "{lines:#?}"
    );
}

#[test]
fn a_second_signal_exits_at_once_with_130() {
    let mut probe = Probe::spawn(PROBE, "stuck_stop");
    probe.wait_for_line("started service=\"probe\"", Duration::from_secs(10));
    probe.signal("TERM");
    probe.wait_for_line("stop resource=\"broken\"", Duration::from_secs(5));
    probe.signal("INT");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 130, "{lines:#?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[test]
fn the_service_restart_policy_exits_with_75() {
    let probe = Probe::spawn(PROBE, "restart_service");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 75, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("resource `broken` failed; the restart policy stops the service")),
        "{lines:#?}"
    );
}
