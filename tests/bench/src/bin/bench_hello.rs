//! Benchmark of the `hello` example (run it through `tests/bench/hello.sh`): time from process
//! start to the first 200 from `/status`, resident memory when idle, and SIGTERM to exit.
//! Prints the median, min and max of each over the runs, and the ratio to the Python
//! original's figures measured on the same kind of machine.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tamarco_tests::http_get;

/// The Python original: ~300 ms to the first `/status` 200, 41.5 MB resident when idle.
const PYTHON_STARTUP_MS: f64 = 300.0;
const PYTHON_RSS_MIB: f64 = 41.5 * 1_000_000.0 / 1_048_576.0;

fn main() {
    let mut args = std::env::args().skip(1);
    let exe = args
        .next()
        .expect("usage: bench_hello PATH_TO_HELLO [RUNS]");
    let runs: usize = args
        .next()
        .map_or(20, |n| n.parse().expect("RUNS is a number"));
    let addr = "127.0.0.1:5747".parse().unwrap();
    assert!(
        http_get(addr, "/status").is_err(),
        "something already listens on {addr}"
    );

    let (mut startup, mut rss, mut stop) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let began = Instant::now();
        let mut child = Command::new(&exe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hello starts");
        loop {
            if let Ok((200, _)) = http_get(addr, "/status") {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "no 200 within 10 s"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        startup.push(began.elapsed().as_secs_f64() * 1000.0);

        std::thread::sleep(Duration::from_secs(1));
        rss.push(resident_mib(child.id()));

        let signalled = Instant::now();
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        stop.push(signalled.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status.code(), Some(0), "hello exits 0 on SIGTERM");
    }

    println!("hello, {runs} runs (median [min, max])");
    report(
        "start to first /status 200",
        "ms",
        &mut startup,
        Some(PYTHON_STARTUP_MS),
    );
    report("RSS when idle", "MiB", &mut rss, Some(PYTHON_RSS_MIB));
    report("SIGTERM to exit", "ms", &mut stop, None);
}

fn report(what: &str, unit: &str, values: &mut [f64], python: Option<f64>) {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    let ratio = python.map_or("the original never stops gracefully".to_owned(), |p| {
        format!("{:.3}x the Python original ({p:.1} {unit})", median / p)
    });
    println!(
        "  {what:<28} {median:>8.2} {unit} [{:.2}, {:.2}]  {ratio}",
        values[0],
        values[values.len() - 1]
    );
}

fn resident_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("a live process");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib / 1024.0
}
