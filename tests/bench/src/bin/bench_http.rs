//! Benchmark of the HTTP server (run it through `tests/bench/http.sh`): the same hello-world
//! handler served by tamarco's `HttpServer` (in a full service with its default settings:
//! request id made and echoed, span, metrics into tamarco's recorder, panics answered 500) and
//! by bare axum (`axum::serve`), loaded by the same `wrk -t2 -c50` on the same machine, one
//! right after the other in each round, which goes first alternating. Prints requests per
//! second of each round, the ratio tamarco / axum of the means and the median of the rounds'
//! own ratios; with `perf` installed, also the CPU time each server spends per request, which
//! the other load of a shared machine moves less than the rate; and how each server's CPU time
//! splits between its own code and the kernel.
//!
//! Modes: `bench_http run [SECONDS] [ROUNDS]` starts both servers (this program in the two
//! modes below) and drives wrk; `bench_http axum PORT` and `bench_http tamarco PORT` serve.
//! `bench_http tracing [SECONDS] [ROUNDS]` compares three tamarco servers instead: tracing
//! off, on at sampling 0 and on at sampling 1, exporting to an OTLP receiver in this process
//! that discards what it gets (goals: 0.97 and 0.85 of off); `BENCH_HTTP_TRACING` (JSON) is
//! the `system.tracing` of a `tamarco` server. `bench_http receiver` runs only that discarding
//! receiver, prints its URL, and the running total of bytes received on stderr after each
//! export (for `tracing_instructions.sh`, which counts instructions under callgrind).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tamarco::http::HttpServer;
use tamarco::http::axum::{Router, routing::get};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco_bench::cpu::cpu_ticks;
use tamarco_bench::stats::median;
use tamarco_tests::http_get;

#[microservice(name = "bench_http")]
#[derive(Default)]
struct Bench {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Bench {
    /// The same handler as bare axum's, declared with `#[route]`: the service is its state.
    #[route(http_server, GET "/")]
    async fn hello(&self) -> &'static str {
        "Hello world!"
    }
}

fn main() -> ExitStatus {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("axum") => {
            serve_axum(port(&args));
            ExitStatus::Success
        }
        Some("tamarco") => {
            // `BENCH_HTTP_SETTINGS` (JSON) adds server settings, to measure what each part costs.
            let mut server = json!({"port": port(&args)});
            if let Ok(extra) = std::env::var("BENCH_HTTP_SETTINGS") {
                let extra: tamarco::serde_json::Value =
                    tamarco::serde_json::from_str(&extra).expect("JSON settings");
                server
                    .as_object_mut()
                    .unwrap()
                    .extend(extra.as_object().expect("an object").clone());
            }
            let tracing = match std::env::var("BENCH_HTTP_TRACING") {
                Ok(tracing) => tamarco::serde_json::from_str(&tracing).expect("JSON settings"),
                Err(_) => json!({}),
            };
            let settings = json!({"system": {
                "resources": {
                    "http_server": server,
                    "tamarco_http_report_server": {"port": 0},
                },
                "tracing": tracing,
            }});
            let runtime = Bench::default().runtime().with_settings(settings);
            runtime.expect("valid settings").run()
        }
        Some("receiver") => {
            println!("{}", discarding_receiver(true));
            // Until whoever started it closes stdin.
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
            ExitStatus::Success
        }
        Some(mode @ ("run" | "tracing")) => {
            let seconds = args
                .get(1)
                .map_or(10, |s| s.parse().expect("SECONDS is a number"));
            let rounds = args
                .get(2)
                .map_or(2, |s| s.parse().expect("ROUNDS is a number"));
            match mode {
                "run" => run(seconds, rounds),
                _ => run_tracing(seconds, rounds),
            }
            ExitStatus::Success
        }
        _ => panic!(
            "usage: bench_http run|tracing [SECONDS] [ROUNDS] | axum PORT | tamarco PORT | receiver"
        ),
    }
}

fn port(args: &[String]) -> u16 {
    args.get(1)
        .expect("a port")
        .parse()
        .expect("the port is a number")
}

/// The baseline: the same handler on `axum::serve`, on a multi-threaded runtime as tamarco's.
fn serve_axum(port: u16) {
    let runtime = tamarco::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tamarco::tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let router = Router::new().route("/", get(|| async { "Hello world!" }));
        tamarco::http::axum::serve(listener, router).await.unwrap();
    });
}

/// A server of this program and its mode (`axum`, `tamarco`), killed when dropped.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(mode: &str) -> (Server, SocketAddr) {
    start_with(mode, &[])
}

/// [`start`] with extra environment variables.
fn start_with(mode: &str, env: &[(&str, String)]) -> (Server, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([mode, &port.to_string()])
        .env(
            "RUST_LOG",
            std::env::var("BENCH_HTTP_LOG").unwrap_or_else(|_| "info".to_owned()),
        )
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server = Server(child, mode.to_owned());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let began = Instant::now();
    while !matches!(http_get(addr, "/"), Ok((200, ref body)) if body == "Hello world!") {
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{mode} does not answer on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, addr)
}

/// One wrk run against `server`: its requests per second, and, when `perf` is there, the CPU
/// time the server spent per request (in microseconds), which depends less than the rate on
/// the other load of a shared machine.
fn wrk(server: &Server, addr: SocketAddr, seconds: u32) -> (f64, Option<f64>) {
    let counting = seconds.saturating_sub(1).max(1);
    let perf = Command::new("perf")
        .args([
            "stat",
            "-x,",
            "-e",
            "task-clock",
            "-p",
            &server.0.id().to_string(),
        ])
        .args(["--", "sleep", &counting.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok();
    let output = Command::new("wrk")
        .args([
            "-t2",
            "-c50",
            &format!("-d{seconds}s"),
            &format!("http://{addr}/"),
        ])
        .output()
        .expect("wrk runs (install the Debian package `wrk`)");
    let text = String::from_utf8_lossy(&output.stdout);
    // Named, since both servers log to this program's stderr.
    let name = &server.1;
    assert!(output.status.success(), "wrk failed on {name}:\n{text}");
    assert!(
        !text.contains("Non-2xx"),
        "errors under load on {name}:\n{text}"
    );
    assert!(
        !text.contains("Socket errors"),
        "socket errors under load on {name}:\n{text}"
    );
    let rps: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in:\n{text}"));
    let cpu_ms = perf
        .and_then(|perf| perf.wait_with_output().ok())
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stderr).into_owned();
            let line = text.lines().find(|line| line.contains("task-clock"))?;
            line.split(',').next()?.parse::<f64>().ok()
        });
    // task-clock counts milliseconds: microseconds per request.
    (
        rps,
        cpu_ms.map(|ms| ms * 1000.0 / (rps * f64::from(counting))),
    )
}

fn run(seconds: u32, rounds: usize) {
    let (axum_server, axum_addr) = start("axum");
    let (tamarco_server, tamarco_addr) = start("tamarco");
    println!(
        "hello world, wrk -t2 -c50 -d{seconds}s, {rounds} rounds, both servers in each round, \
         which goes first alternating"
    );
    wrk(&axum_server, axum_addr, 2);
    wrk(&tamarco_server, tamarco_addr, 2);
    let ticks_before = (
        cpu_ticks(axum_server.0.id()),
        cpu_ticks(tamarco_server.0.id()),
    );
    let (mut axum, mut tamarco, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        // The machine's state drifts over seconds (other load, the scheduler's placement of
        // wrk's threads beside the server's): each server goes first in every other round.
        let axum_first = round % 2 == 1;
        let (a, t) = if axum_first {
            let a = wrk(&axum_server, axum_addr, seconds);
            (a, wrk(&tamarco_server, tamarco_addr, seconds))
        } else {
            let t = wrk(&tamarco_server, tamarco_addr, seconds);
            (wrk(&axum_server, axum_addr, seconds), t)
        };
        axum.push(a);
        tamarco.push(t);
        ratios.push(t.0 / a.0);
        println!(
            "  round {round}: bare axum {:>9.0} req/s {}   tamarco {:>9.0} req/s {}   ratio {:.3} ({} first)",
            a.0,
            per_request(a.1),
            t.0,
            per_request(t.1),
            t.0 / a.0,
            if axum_first { "axum" } else { "tamarco" }
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let rate = |v: &[(f64, Option<f64>)]| mean(&v.iter().map(|r| r.0).collect::<Vec<_>>());
    let (axum_rate, tamarco_rate) = (rate(&axum), rate(&tamarco));
    println!("  mean:    bare axum {axum_rate:>9.0} req/s   tamarco {tamarco_rate:>9.0} req/s");
    println!(
        "  ratio tamarco / bare axum: {:.3} of the means, {:.3} median of the rounds' own \
         (goal: 0.95 or better)",
        tamarco_rate / axum_rate,
        median(&mut ratios)
    );
    let work = |v: &[(f64, Option<f64>)]| {
        let counts: Option<Vec<f64>> = v.iter().map(|r| r.1).collect();
        counts.map(|c| mean(&c))
    };
    if let (Some(a), Some(t)) = (work(&axum), work(&tamarco)) {
        println!(
            "  server CPU per request: bare axum {a:.2} us, tamarco {t:.2} us; \
             throughput it allows, tamarco / bare axum: {:.3}",
            a / t
        );
    }
    // The kernel's share sets how much a difference in the servers' own code moves the rate,
    // and it differs between machines: part of why one machine's ratio is not another's.
    let ticks_after = (
        cpu_ticks(axum_server.0.id()),
        cpu_ticks(tamarco_server.0.id()),
    );
    if let ((Some(a0), Some(t0)), (Some(a1), Some(t1))) = (ticks_before, ticks_after) {
        let split = |(user0, system0): (u64, u64), (user1, system1): (u64, u64)| {
            let (user, system) = ((user1 - user0) as f64, (system1 - system0) as f64);
            let percent = |part: f64| 100.0 * part / (user + system).max(1.0);
            format!("{:.0}% / {:.0}%", percent(user), percent(system))
        };
        println!(
            "  server CPU, user / system: bare axum {}, tamarco {}",
            split(a0, a1),
            split(t0, t1)
        );
    }
}

fn per_request(cpu_us: Option<f64>) -> String {
    cpu_us.map_or_else(String::new, |us| format!("({us:>5.2} us CPU/req)"))
}

/// An OTLP/HTTP receiver that answers every export and keeps nothing, on a thread of its own;
/// returns its base URL. With `report`, prints the running total of bytes received on stderr
/// after each export: a script can check that every span arrived (the SDK drops spans when its
/// queue is full).
fn discarding_receiver(report: bool) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let runtime = tamarco::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tamarco::tokio::net::TcpListener::from_std(listener).unwrap();
            static TOTAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let router = Router::new().route(
                "/v1/traces",
                tamarco::http::axum::routing::post(
                    move |body: tamarco::http::axum::body::Bytes| async move {
                        let ordering = std::sync::atomic::Ordering::Relaxed;
                        let now = TOTAL.fetch_add(body.len(), ordering) + body.len();
                        if report {
                            eprintln!("received {now}");
                        }
                    },
                ),
            );
            tamarco::http::axum::serve(listener, router).await.unwrap();
        });
    });
    url
}

/// Tracing off, on at sampling 0 and on at sampling 1, in alternating wrk turns.
fn run_tracing(seconds: u32, rounds: usize) {
    let collector = discarding_receiver(false);
    let on = |ratio: f64| {
        let tracing = json!({"enabled": true, "endpoint": collector, "sampling_ratio": ratio});
        vec![("BENCH_HTTP_TRACING", tracing.to_string())]
    };
    let servers = [
        ("off", start("tamarco")),
        ("sampling 0", start_with("tamarco", &on(0.0))),
        ("sampling 1", start_with("tamarco", &on(1.0))),
    ];
    println!(
        "hello world with tracing off / on at sampling 0 / on at sampling 1 (exported to a \
         receiver that discards), wrk -t2 -c50 -d{seconds}s, {rounds} rounds, turns alternating"
    );
    for (_, (server, addr)) in &servers {
        wrk(server, *addr, 2);
    }
    let mut results = vec![Vec::new(); servers.len()];
    for round in 1..=rounds {
        let mut line = format!("  round {round}:");
        for (i, (name, (server, addr))) in servers.iter().enumerate() {
            let result = wrk(server, *addr, seconds);
            line += &format!("  {name} {:>9.0} req/s {}", result.0, per_request(result.1));
            results[i].push(result);
        }
        println!("{line}");
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let rate = |v: &[(f64, Option<f64>)]| mean(&v.iter().map(|r| r.0).collect::<Vec<_>>());
    let off = rate(&results[0]);
    println!(
        "  mean: off {off:.0} req/s, sampling 0 {:.0} req/s, sampling 1 {:.0} req/s",
        rate(&results[1]),
        rate(&results[2])
    );
    println!(
        "  ratio to off: sampling 0 {:.3} (goal 0.97), sampling 1 {:.3} (goal 0.85)",
        rate(&results[1]) / off,
        rate(&results[2]) / off
    );
    // CPU time per request, when perf measured it: less moved by the machine's other load.
    let cpu = |v: &[(f64, Option<f64>)]| {
        let each: Option<Vec<f64>> = v.iter().map(|r| r.1).collect();
        each.map(|each| mean(&each))
    };
    if let [Some(off), Some(zero), Some(one)] = [0, 1, 2].map(|i| cpu(&results[i])) {
        println!(
            "  server CPU per request: off {off:.2} us, sampling 0 {zero:.2} us, sampling 1 \
             {one:.2} us; throughput it allows, to off: sampling 0 {:.3}, sampling 1 {:.3}",
            off / zero,
            off / one
        );
    }
}
