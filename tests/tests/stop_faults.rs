//! Stops that meet faults, in real service processes (issue 14): a SIGTERM while the settings
//! load from an etcd that accepts connections and never answers, and a SIGTERM to a service
//! whose task ignores the stop, whose other task is stuck in blocking code and whose resource
//! stops slower than the grace period.

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use tamarco_tests::Probe;

const PROBE: &str = env!("CARGO_BIN_EXE_probe");

/// An etcd that accepts connections and never answers: a listener that keeps every connection
/// open and reads nothing. Returns its port and a receiver told of each connection.
fn stalled_etcd() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    (port, rx)
}

#[test]
fn a_sigterm_while_settings_load_from_a_stalled_etcd_exits_0_at_once() {
    let (port, connected) = stalled_etcd();
    let port = port.to_string();
    let probe = Probe::spawn_with(
        PROBE,
        "hello",
        &[
            ("TAMARCO_ETCD_HOST", "127.0.0.1"),
            ("TAMARCO_ETCD_PORT", &port),
        ],
    );
    connected
        .recv_timeout(Duration::from_secs(10))
        .expect("the probe connects to etcd");
    // It is now waiting on etcd, before any resource started.
    std::thread::sleep(Duration::from_millis(200));
    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "a clean stop: nothing had started\n{lines:#?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("SIGTERM received") || l.contains("stopped before")),
        "the log says why it stopped\n{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("resource=\"first\"")),
        "no resource started\n{lines:#?}"
    );
}

#[test]
fn overrunning_tasks_and_a_slow_resource_still_end_within_the_grace_period() {
    let mut probe = Probe::spawn(PROBE, "overrun");
    probe.wait_for_line("started service=\"probe\"", Duration::from_secs(10));
    probe.signal("TERM");
    let (code, took, lines) = probe.wait_exit(Duration::from_secs(10));
    let shown = lines.join("\n");
    assert_eq!(code, 124, "the grace period expired\n{shown}");
    // 1 s of grace, then 0.5 s for the last stops, and some slack for a loaded machine
    assert!(took < Duration::from_secs(3), "took {took:?}\n{shown}");
    let said = |needles: &[&str]| lines.iter().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(
        said(&["ignores_the_stop", "did not stop in time"]),
        "the log names the task that ignored the stop\n{shown}"
    );
    assert!(
        said(&[
            "stuck_in_blocking_code",
            "did not yield to its cancellation"
        ]),
        "the log names the task stuck in blocking code\n{shown}"
    );
    assert!(
        said(&["broken", "did not finish within the stop budget"]),
        "the log names the resource that overran\n{shown}"
    );
    // `first` started before `broken`, so it stops after it: in the final window.
    assert!(
        said(&["stop", "resource=\"first\""]),
        "the resource after the slow one is still stopped\n{shown}"
    );
    assert!(
        !said(&["first", "did not finish"]),
        "and its stop finished\n{shown}"
    );
}
