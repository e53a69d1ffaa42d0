//! Reporters: Carbon across a listener restart, file and stdout writing the same lines, the
//! `tamarco` path scheme and the stdout prefix.

use super::*;

#[microservice(name = "reporting")]
#[derive(Default)]
struct Reporting {}

#[microservice]
impl Reporting {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_carbon_reporter_sends_graphite_lines_and_survives_a_listener_restart() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let settings = json!({"system": {
        "deploy_name": "staging",
        "resources": {"metrics": {"collect_frequency": 0.05, "handlers": {"carbon": {"enabled": true, "port": port}}}}
    }});
    let running = with_report_server(Reporting::default(), settings)
        .start()
        .await
        .unwrap();

    let read_lines = |listener: &TcpListener| {
        listener.set_nonblocking(false).unwrap();
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut lines = Vec::new();
        while lines.len() < 5 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(line);
        }
        lines
    };
    let first = tokio::task::spawn_blocking(move || (read_lines(&listener), listener))
        .await
        .unwrap();
    let (lines, listener) = first;
    for line in &lines {
        let parts: Vec<&str> = line.trim_end().split(' ').collect();
        assert_eq!(parts.len(), 3, "{line:?}");
        assert!(parts[0].starts_with("staging.reporting."), "{line:?}");
        // The Python original's `<deploy>.<service>.<host>.<id>_<type>_<labels>__<unit>`.
        let rest = &parts[0]["staging.reporting.".len()..];
        let (_host, metric) = rest.split_once('.').unwrap();
        assert!(
            ["_counter_", "_gauge_", "_summary_"]
                .iter()
                .any(|kind| metric.contains(kind))
                && metric.contains("__"),
            "the original's path shape: {line:?}"
        );
        parts[1]
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("a number: {line:?}"));
        parts[2]
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("a unix time: {line:?}"));
    }

    // Close the listener and its connection, then listen again on the same port.
    drop(listener);
    let again = TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    let more = tokio::task::spawn_blocking(move || read_lines(&again))
        .await
        .unwrap();
    assert!(
        more.iter().all(|l| l.starts_with("staging.reporting.")),
        "{more:?}"
    );
    running.stop().await.unwrap();
}

#[test]
fn file_and_stdout_reporters_write_the_same_lines() {
    let path = std::env::temp_dir().join(format!("tamarco-metrics-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut command_env = Probe::spawn_with(
        env!("CARGO_BIN_EXE_probe"),
        "metrics_reporters",
        &[("PROBE_METRICS_FILE", path.to_str().unwrap())],
    );
    command_env.wait_for_line("local.probe.", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    command_env.signal("TERM");
    let (code, _, lines) = command_env.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0);
    let stdout: Vec<String> = lines
        .into_iter()
        .filter(|l| l.starts_with("local.probe."))
        .collect();
    let file: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    std::fs::remove_file(&path).unwrap();
    assert!(!file.is_empty());
    assert_eq!(stdout, file);
}

/// `path_scheme: tamarco` keeps tamarco's own paths; the stdout reporter's `prefix` (a key of
/// the original) replaces `<deploy>.<service>.<host>` there.
#[test]
fn the_tamarco_path_scheme_and_the_stdout_prefix() {
    let path = std::env::temp_dir().join(format!("tamarco-prefix-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut probe = Probe::spawn_with(
        env!("CARGO_BIN_EXE_probe"),
        "metrics_prefix",
        &[("PROBE_METRICS_FILE", path.to_str().unwrap())],
    );
    probe.wait_for_line(
        "custom.prefix.task_runs_total.task_tick ",
        Duration::from_secs(10),
    );
    probe.signal("TERM");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0);
    let file = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        file.lines()
            .any(|l| l.starts_with("local.probe.") && l.contains(".task_runs_total.task_tick ")),
        "{file}"
    );
    for line in lines.iter().filter(|l| l.starts_with("custom.prefix.")) {
        assert!(!line.contains("_counter_"), "the tamarco scheme: {line}");
    }
}
