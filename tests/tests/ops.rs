//! The operations endpoints on a real service process (the probe, `src/bin/probe.rs`):
//! `/info`, `/loggers` (a change applies to the next log line, and wins over `RUST_LOG`),
//! `/settings` (never a password, from a file or the environment, numbers included),
//! `/tasks`, the memory analyzer in `/status`, and the exposure rules with the token.

use std::time::Duration;

use tamarco::serde_json::{self, Value};
use tamarco_tests::{Probe, http_get, http_request};

const PROBE: &str = env!("CARGO_BIN_EXE_probe");
const WAIT: Duration = Duration::from_secs(10);
const SERVER: &str = "TAMARCO__SYSTEM__RESOURCES__TAMARCO_HTTP_REPORT_SERVER__";

fn get_json(probe: &mut Probe, path: &str) -> Value {
    let (code, body) = http_get(probe.report_addr(), path).unwrap();
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// The entry of the list `doc[list]` whose `field` is `name`.
fn entry(doc: &Value, list: &str, field: &str, name: &str) -> Value {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {field} {name} in {list}: {doc}"))
}

fn post_level(probe: &mut Probe, target: &str, level: &str, auth: Option<&str>) -> (u16, String) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    let body = format!("{{\"level\":{level}}}");
    http_request(
        probe.report_addr(),
        "POST",
        &format!("/loggers/{target}"),
        &headers,
        Some(&body),
    )
    .unwrap()
}

#[test]
fn info_names_the_service_its_build_and_its_uptime() {
    let mut probe = Probe::spawn(PROBE, "hello");
    let info = get_json(&mut probe, "/info");
    assert_eq!(info["service"], "probe");
    assert_eq!(info["deploy_name"], "local");
    assert_eq!(info["crate"]["name"], "tamarco-tests");
    assert_eq!(info["crate"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["build_profile"], "debug");
    assert_eq!(info["tamarco_version"], "0.1.0");
    let id = info["instance_id"].as_str().unwrap();
    assert!(id.contains(&format!("-{}-", probe_pid(&info))), "{id}");
    assert!(info["started_at"].as_str().unwrap().ends_with('Z'));
    let first = info["uptime_seconds"].as_f64().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let later = get_json(&mut probe, "/info")["uptime_seconds"]
        .as_f64()
        .unwrap();
    assert!(later > first, "{first} then {later}");
}

/// The pid part of the instance id (`host-pid-random`).
fn probe_pid(info: &Value) -> String {
    let id = info["instance_id"].as_str().unwrap();
    id.rsplit('-').nth(1).unwrap().to_owned()
}

#[test]
fn a_level_change_applies_to_the_next_log_line_and_wins_over_rust_log() {
    // RUST_LOG keeps the probe's `tick` (debug, every 50 ms) out.
    let mut probe = Probe::spawn_with(PROBE, "hello", &[("RUST_LOG", "info,probe=warn")]);
    probe.wait_for_line("started service=\"probe\"", WAIT);
    let loggers = get_json(&mut probe, "/loggers");
    let find = |doc: &Value, target: &str| entry(doc, "loggers", "target", target);
    assert_eq!(loggers["loggers"][0]["target"], "root");
    assert_eq!(find(&loggers, "probe")["level"], "warn");
    assert_eq!(find(&loggers, "probe")["source"], "rust_log");

    let (code, body) = post_level(&mut probe, "probe", "\"debug\"", None);
    assert_eq!(code, 200, "{body}");
    let after: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(find(&after, "probe")["level"], "debug");
    assert_eq!(find(&after, "probe")["source"], "runtime");
    probe.wait_for_line("logger level changed at run time", WAIT);
    // The next tick (within 50 ms) is logged.
    probe.wait_for_line(" tick", Duration::from_secs(2));

    let (code, body) = post_level(&mut probe, "probe", "null", None);
    assert_eq!(code, 200, "{body}");
    let reset: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(find(&reset, "probe")["level"], "warn");
    assert_eq!(find(&reset, "probe")["source"], "rust_log");

    let (code, body) = post_level(&mut probe, "probe", "\"loud\"", None);
    assert_eq!(code, 400);
    assert!(body.contains("unknown level \"loud\""), "{body}");
}

#[test]
fn settings_never_show_a_password_from_a_file_or_the_environment() {
    let dir = std::env::temp_dir().join(format!("tamarco-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("settings.yml");
    std::fs::write(
        &file,
        "system:\n  resources:\n    db:\n      user: app\n      password: f1le-s3cret\n      url: postgres://app:url-s3cret@127.0.0.1/db\n",
    )
    .unwrap();
    let mut probe = Probe::spawn_with(
        PROBE,
        "hello",
        &[
            ("TAMARCO_YML_FILE", file.to_str().unwrap()),
            ("TAMARCO__SYSTEM__RESOURCES__CACHE__PASSWORD", "987654321"),
            ("TAMARCO__SYSTEM__RESOURCES__CACHE__AUTH_TOKEN", "env-t0ken"),
        ],
    );
    let (code, body) = http_get(probe.report_addr(), "/settings").unwrap();
    assert_eq!(code, 200, "{body}");
    for secret in ["f1le-s3cret", "url-s3cret", "987654321", "env-t0ken"] {
        assert!(!body.contains(secret), "{secret} in /settings: {body}");
    }
    let doc: Value = serde_json::from_str(&body).unwrap();
    let value = |key: &str| entry(&doc, "values", "key", key);
    assert_eq!(value("system.resources.db.user")["value"], "app");
    assert_eq!(value("system.resources.db.user")["source"], "file");
    assert_eq!(value("system.resources.db.password")["value"], "***");
    assert_eq!(value("system.resources.cache.password")["value"], "***");
    assert_eq!(
        value("system.resources.cache.password")["source"],
        "environment"
    );
    assert_eq!(value("system.deploy_name")["source"], "defaults");
    assert_eq!(
        value("system.resources.tamarco_http_report_server.port")["source"],
        "in-code"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn status_carries_the_memory_analyzer_and_tasks_are_listed() {
    let mut probe = Probe::spawn(PROBE, "hello");
    probe.wait_for_line("started service=\"probe\"", WAIT);
    let status = get_json(&mut probe, "/status");
    let own = &status["status"];
    assert!(
        own["memory"]["rss_bytes"].as_u64().unwrap() > 1_000_000,
        "{own}"
    );
    assert!(
        own["memory"]["virtual_bytes"].as_u64().unwrap()
            >= own["memory"]["rss_bytes"].as_u64().unwrap()
    );
    assert!(own["runtime"]["workers"].as_u64().unwrap() >= 1, "{own}");
    assert!(
        own["runtime"]["alive_tasks"].as_u64().unwrap() >= 1,
        "{own}"
    );
    let tasks = get_json(&mut probe, "/tasks");
    assert_eq!(tasks["tasks"][0]["name"], "tick", "{tasks}");
    assert_eq!(tasks["tasks"][0]["kind"], "timer", "{tasks}");
    assert_eq!(tasks["tasks"][0]["state"], "running", "{tasks}");
    let (code, page) = http_get(probe.report_addr(), "/").unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("<title>tamarco dashboard</title>"));
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(
            !page.contains(external),
            "the page loads nothing from elsewhere"
        );
    }
}

#[test]
fn an_endpoint_can_be_turned_off() {
    let key = format!("{SERVER}ENDPOINTS__SETTINGS");
    let mut probe = Probe::spawn_with(PROBE, "hello", &[(&key, "false")]);
    let (code, _) = http_get(probe.report_addr(), "/settings").unwrap();
    assert_eq!(code, 404);
    let (code, _) = http_get(probe.report_addr(), "/info").unwrap();
    assert_eq!(code, 200);
}

#[test]
fn exposed_write_endpoints_need_the_bearer_token() {
    let expose = format!("{SERVER}EXPOSE");
    let token = format!("{SERVER}TOKEN");
    let mut probe = Probe::spawn_with(
        PROBE,
        "hello",
        &[(&expose, "true"), (&token, "0p3n-s3same")],
    );
    let (code, _) = post_level(&mut probe, "probe", "\"debug\"", None);
    assert_eq!(code, 401);
    let (code, _) = post_level(&mut probe, "probe", "\"debug\"", Some("Bearer wrong"));
    assert_eq!(code, 403);
    let (code, body) = post_level(&mut probe, "probe", "\"debug\"", Some("Bearer 0p3n-s3same"));
    assert_eq!(code, 200, "{body}");
    // Reads stay open; the token never shows.
    let (code, body) = http_get(probe.report_addr(), "/settings").unwrap();
    assert_eq!(code, 200);
    assert!(!body.contains("0p3n-s3same"), "{body}");
}

#[test]
fn a_non_loopback_address_needs_expose() {
    let host = format!("{SERVER}HOST");
    let probe = Probe::spawn_with(PROBE, "hello", &[(&host, "0.0.0.0")]);
    let (code, _, lines) = probe.wait_exit(WAIT);
    assert_eq!(code, 1, "{lines:#?}");
    let all = lines.join("\n");
    assert!(
        all.contains("system.resources.tamarco_http_report_server.host")
            && all.contains("system.resources.tamarco_http_report_server.expose"),
        "{all}"
    );
}

#[test]
fn a_profile_of_a_busy_task_names_its_function_and_only_one_runs_at_a_time() {
    let mut probe = Probe::spawn(PROBE, "busy");
    probe.wait_for_line("started service=\"probe\"", WAIT);
    let addr = probe.report_addr();
    let first = std::thread::spawn(move || {
        http_get(addr, "/debug/pprof/profile?seconds=2&format=svg").unwrap()
    });
    // The second request, while the first is sampling, is refused.
    probe.wait_for_line("starting cpu profiler", Duration::from_secs(30));
    let (code, body) = http_get(addr, "/debug/pprof/profile?seconds=1").unwrap();
    assert_eq!(code, 409, "{body}");
    let (code, svg) = first.join().unwrap();
    assert_eq!(code, 200, "{svg}");
    assert!(
        svg.contains("<svg"),
        "not an SVG: {}",
        &svg[..svg.len().min(200)]
    );
    assert!(
        svg.contains("spin_the_profiled_loop"),
        "the busy function is missing"
    );

    let (code, pb) = http_get(addr, "/debug/pprof/profile?seconds=1").unwrap();
    assert_eq!(code, 200);
    assert!(
        pb.contains("spin_the_profiled_loop"),
        "not in the protobuf's strings"
    );
    let (code, body) = http_get(addr, "/debug/pprof/profile?seconds=0").unwrap();
    assert_eq!(code, 400, "{body}");
}

#[test]
fn a_service_listed_in_microservices_with_profiler_writes_profiles() {
    let dir = std::env::temp_dir().join(format!("tamarco-ops-prof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A list cannot come from the environment: the file names the service.
    let file = dir.join("settings.yml");
    std::fs::write(
        &file,
        format!(
            "system:\n  resources:\n    profiler:\n      microservices_with_profiler: [probe]\n      interval_seconds: 0.5\n      directory: {}\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut probe = Probe::spawn_with(
        PROBE,
        "busy",
        &[("TAMARCO_YML_FILE", file.to_str().unwrap())],
    );
    probe.wait_for_line("writing a CPU profile every", WAIT);
    let svg = dir.join("probe.flamegraph.svg");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !svg.exists() || !dir.join("probe.profile.pb").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no profile in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // While the periodic profile runs, an on-demand one is refused.
    let (code, _) = http_get(probe.report_addr(), "/debug/pprof/profile?seconds=1").unwrap();
    assert_eq!(code, 409);
    drop(probe);
    let _ = std::fs::remove_dir_all(&dir);
}
