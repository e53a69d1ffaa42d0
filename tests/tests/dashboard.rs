//! The dashboard (`GET /` on the report server) in a real headless Chromium, driven over the
//! DevTools protocol: the page loads with no console errors, shows every resource of the probe
//! service, a metric chart gains points, and the level switch changes a logger. One screenshot
//! per run is written under the target dir (its path is printed).
//!
//! Needs Debian's `chromium` (`apt-get install -y chromium`); `CHROMIUM` names another binary.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use tamarco::serde_json::{self, Value, json};
use tamarco_tests::{Probe, http_get};
use tokio_tungstenite::tungstenite::Message;

const PROBE: &str = env!("CARGO_BIN_EXE_probe");

/// Headless Chromium with its DevTools endpoint; killed on drop.
struct Browser {
    child: Child,
    ws_url: String,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    fn launch() -> Browser {
        let exe = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile =
            TempDir(std::env::temp_dir().join(format!("tamarco-chromium-{}", std::process::id())));
        let mut child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--window-size=1280,1000",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {exe} ({e}): apt-get install -y chromium"));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let ws_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium announces its DevTools endpoint");
        Browser {
            child,
            ws_url,
            _profile: profile,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A DevTools session on one page (flat mode: one socket, commands carry the session id).
struct Page {
    socket: Socket,
    session: String,
    next_id: u64,
    /// Events received while waiting for answers.
    events: VecDeque<Value>,
}

impl Page {
    async fn open(ws_url: &str) -> Page {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        let mut page = Page {
            socket,
            session: String::new(),
            next_id: 0,
            events: VecDeque::new(),
        };
        let target = page
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = page
            .call(
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        page.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            page.call(domain, json!({})).await;
        }
        page
    }

    /// Sends a command and waits (bounded) for its answer.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("the DevTools socket stays open")
                .unwrap();
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["id"] == id {
                assert!(value.get("error").is_none(), "{method}: {value}");
                return value["result"].clone();
            }
            self.events.push_back(value);
        }
    }

    /// Evaluates `expression` in the page; returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Re-evaluates `expression` until `check` accepts its value (at most `timeout`).
    async fn wait_for(
        &mut self,
        expression: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expression).await;
            if check(&value) {
                return value;
            }
            assert!(Instant::now() < deadline, "{expression} is still {value}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Console errors, uncaught exceptions and error log entries seen so far.
    fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|event| match event["method"].as_str() {
                Some("Runtime.exceptionThrown") => true,
                Some("Runtime.consoleAPICalled") => event["params"]["type"] == "error",
                Some("Log.entryAdded") => event["params"]["entry"]["level"] == "error",
                _ => false,
            })
            .map(Value::to_string)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_resources_charts_and_switches_a_level_in_chromium() {
    let mut probe = Probe::spawn(PROBE, "hello");
    probe.wait_for_line("started service=\"probe\"", Duration::from_secs(10));
    let addr = probe.report_addr();
    let browser = Browser::launch();
    let mut page = Page::open(&browser.ws_url).await;
    page.call("Page.navigate", json!({"url": format!("http://{addr}/")}))
        .await;

    let names = page
        .wait_for(
            "[...document.querySelectorAll('#resources tbody tr')].map(r => r.dataset.resource)",
            Duration::from_secs(15),
            |v| v.as_array().is_some_and(|a| a.len() == 5),
        )
        .await;
    assert_eq!(
        names,
        json!([
            "tamarco_http_report_server",
            "metrics",
            "status",
            "first",
            "broken"
        ])
    );
    let statuses = page
        .eval("[...document.querySelectorAll('#resources tbody tr td:last-child')].map(td => td.textContent)")
        .await;
    assert_eq!(statuses, json!(vec!["STARTED"; 5]));
    let title = page
        .eval("document.getElementById('title').textContent")
        .await;
    assert_eq!(title, "probe (local)");

    // The memory chart gains points as the page refreshes (every 2 s).
    let points = "Number(document.getElementById('chart-rss')?.dataset.points || 0)";
    let first = page
        .wait_for(points, Duration::from_secs(10), |v| v.as_u64() >= Some(1))
        .await;
    page.wait_for(points, Duration::from_secs(10), |v| {
        v.as_u64() > first.as_u64()
    })
    .await;
    page.wait_for(
        "document.querySelector('#chart-rss path').getAttribute('d').split('L').length",
        Duration::from_secs(5),
        |v| v.as_u64() >= Some(2),
    )
    .await;

    // The level switch of the probe's logger changes it on the service.
    page.wait_for(
        "document.querySelector('select[data-target=\"probe\"]')?.value",
        Duration::from_secs(5),
        |v| v == "info",
    )
    .await;
    page.eval(
        "(() => { const s = document.querySelector('select[data-target=\"probe\"]'); s.value = 'debug'; s.dispatchEvent(new Event('change')); return true; })()",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = http_get(addr, "/loggers").unwrap();
        let doc: Value = serde_json::from_str(&body).unwrap();
        let probe_logger = doc["loggers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["target"] == "probe")
            .cloned()
            .unwrap();
        if probe_logger["level"] == "debug" {
            assert_eq!(probe_logger["source"], "runtime");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the switch did not change the level: {doc}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    probe.wait_for_line(" tick", Duration::from_secs(5));
    page.wait_for(
        "document.querySelector('select[data-target=\"probe\"]').value",
        Duration::from_secs(5),
        |v| v == "debug",
    )
    .await;

    let shot = page
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&path, png).unwrap();
    println!("dashboard screenshot: {}", path.display());

    // Let the event queue catch up with anything the page logged, then check.
    page.eval("1").await;
    let errors = page.errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}
