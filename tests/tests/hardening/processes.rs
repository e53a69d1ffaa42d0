//! Hostile clients against a real service process: idle and half-open connections during the
//! graceful stop, a panicking handler, and summaries that nobody scrapes.

use super::*;

/// A connection that never sends anything, and one that stops in the middle of its headers.
fn idle_and_half_open(addr: SocketAddr) -> [TcpStream; 2] {
    let idle = TcpStream::connect(addr).unwrap();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    [idle, half]
}

#[test]
fn idle_and_half_open_connections_do_not_hold_the_graceful_stop() {
    let mut probe = Probe::spawn_with(HTTP_PROBE, "", &[("PROBE_GRACE", "6")]);
    let report = probe.report_addr();
    let http = http_addr(&mut probe);
    probe.wait_for_line("started service=\"http_probe\"", Duration::from_secs(10));
    let _held = [idle_and_half_open(report), idle_and_half_open(http)];
    // The server has taken them in: a request on a fresh connection is answered after them.
    assert_eq!(http_get(report, "/status").unwrap().0, 200);

    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(15));
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        took < Duration::from_secs(2),
        "the stop took {took:?} of a 6 s grace period"
    );
}

#[test]
fn a_panicking_handler_answers_500_keeps_the_connection_and_is_counted() {
    let mut probe = Probe::spawn(HTTP_PROBE, "");
    let report = probe.report_addr();
    let http = http_addr(&mut probe);
    let mut connection = KeepAlive::connect(http);
    assert_eq!(connection.get("/panic", "p1").unwrap(), 500);
    assert_eq!(
        connection.get("/work", "after-panic").unwrap(),
        200,
        "the same connection serves the next request"
    );
    let (code, metrics) = http_get(report, "/metrics").unwrap();
    assert_eq!(code, 200);
    let counted = |line: &str| {
        line.starts_with("http_probe_http_server_panics_total{server=\"http_server\"} 1")
    };
    assert!(metrics.lines().any(counted), "{metrics}");
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "http_probe_http_server_requests_total{server=\"http_server\",route=\"/panic\",method=\"GET\",status=\"500\"} 1"
        )),
        "{metrics}"
    );
    probe.signal("TERM");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the handler panicked: the probe's handler panics on purpose")),
        "{lines:#?}"
    );
}

#[test]
fn summaries_stay_bounded_when_nobody_scrapes() {
    let mut probe = Probe::spawn(PROBE, "summary_flood");
    let line = probe.wait_for_line("summary flood:", Duration::from_secs(60));
    println!("{line}");
    probe.signal("TERM");
    let (code, _, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{lines:#?}");
    let grew_mib: f64 = line
        .rsplit("peak memory grew by ")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {line:?}"));
    // 10 million observations held until a scrape take about 80 MiB.
    assert!(grew_mib < 32.0, "{line}");
}
