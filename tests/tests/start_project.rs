//! `tamarco start_project`: the generator's files for each option alone, all on, and the
//! minimal project, against the snapshots in `tests/snapshots/start_project/` (rewrite them
//! with `TAMARCO_BLESS=1` and read the diff); the command's refusals; and a generated project
//! with http, postgres and amqp, built against this checkout, whose own tests pass against the
//! machine's PostgreSQL (AMQP on the harness's in-memory broker) and whose service answers
//! `/status` 200 (against the machine's RabbitMQ), with the time from `start_project` to that
//! answer printed; and the all-on project passes `cargo check --all-targets`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tamarco::cli::project::{self, ProjectOptions, ResourceKind, SettingsSource};
use tamarco_tests::tamarco_cli;

/// Options every snapshot shares, so that they differ only by the option under test.
fn options(resources: &[ResourceKind], settings: SettingsSource) -> ProjectOptions {
    let mut options = ProjectOptions::new("demo-service", "/nowhere").unwrap();
    options.author = "Ada Lovelace".into();
    options.email = "ada@example.com".into();
    options.description = "Counts things.".into();
    options.resources = resources.iter().copied().collect::<BTreeSet<_>>();
    options.settings = settings;
    options
}

/// Every file of the project, each under a `=== path ===` line.
fn rendered(options: &ProjectOptions) -> String {
    project::files(options)
        .unwrap()
        .into_iter()
        .map(|(path, text)| format!("=== {path} ===\n{text}"))
        .collect()
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/start_project")
}

/// Compares `actual` with the snapshot `name`, or rewrites it under `TAMARCO_BLESS=1`.
fn check_snapshot(name: &str, actual: &str) {
    let path = snapshot_dir().join(format!("{name}.txt"));
    if std::env::var_os("TAMARCO_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (TAMARCO_BLESS=1 writes it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "the `{name}` project differs from {} from line {}:\n  expected: {:?}\n  actual:   {:?}\n(TAMARCO_BLESS=1 rewrites it)",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line),
        );
    }
}

#[test]
fn the_minimal_project_matches_its_snapshot() {
    check_snapshot("minimal", &rendered(&options(&[], SettingsSource::File)));
}

#[test]
fn each_option_alone_matches_its_snapshot() {
    for kind in ResourceKind::ALL {
        check_snapshot(
            kind.name(),
            &rendered(&options(&[kind], SettingsSource::File)),
        );
    }
    check_snapshot("etcd", &rendered(&options(&[], SettingsSource::Etcd)));
}

#[test]
fn the_all_on_project_matches_its_snapshot() {
    let all = rendered(&options(&ResourceKind::ALL, SettingsSource::Etcd));
    check_snapshot("all", &all);
    // what a user would see: the image installs only what the features need
    assert!(all.contains(
        "install -y --no-install-recommends gcc libprotobuf-dev make protobuf-compiler zlib1g-dev"
    ));
}

#[test]
fn generated_rust_is_formatted() {
    let dir = scratch("fmt");
    let mut options = options(&ResourceKind::ALL, SettingsSource::Etcd);
    options.parent = dir.clone();
    let root = project::generate(&options).unwrap();
    let minimal = {
        let mut options = options.clone();
        options.name = "minimal".into();
        options.resources.clear();
        project::generate(&options).unwrap()
    };
    for root in [root, minimal] {
        let status = Command::new("rustfmt")
            .args(["--edition", "2024", "--check"])
            .args(["src/lib.rs", "src/main.rs", "tests/service.rs"])
            .current_dir(&root)
            .status()
            .expect("rustfmt runs");
        assert!(status.success(), "rustfmt --check in {}", root.display());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A new, empty directory under the target dir's tmp.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("start_project-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_command_refuses_an_existing_directory_and_a_bad_name() {
    let dir = scratch("refusals");
    let parent = dir.to_str().unwrap();
    let out = tamarco_cli(&["new", "orders", "--yes", "--dir", parent])
        .await
        .unwrap();
    assert!(out.contains("created orders"), "{out}");
    assert!(dir.join("orders/Cargo.toml").is_file());

    let error = tamarco_cli(&["new", "orders", "--yes", "--dir", parent])
        .await
        .unwrap_err();
    assert!(error.contains("already exists"), "{error}");
    let error = tamarco_cli(&["start_project", "9lives", "--yes", "--dir", parent])
        .await
        .unwrap_err();
    assert!(
        error.contains("a valid name starts with an ASCII letter"),
        "{error}"
    );
    let error = tamarco_cli(&["new", "x", "--yes", "--resources", "mongo", "--dir", parent])
        .await
        .unwrap_err();
    assert!(error.contains("unknown resource `mongo`"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The resources of the generated project that is built and run.
const BUILT: &str = "http,postgres,amqp";

/// Held by a test that builds a generated project: they share a target dir, and a wait for
/// cargo's lock on it must not count in the timing.
static GENERATED_TARGET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `cargo` with `args` in `dir`, on the shared target dir for generated projects.
fn cargo(dir: &Path, target: &Path, args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo {args:?} in {}", dir.display());
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_project_with_http_postgres_and_amqp_passes_its_tests_and_answers_status() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // Outside any workspace, so that cargo takes the project as its own root.
    let parent = std::env::temp_dir().join(format!("tamarco-generated-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    // One target dir for every generated project: a second run builds only the project.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-projects");
    let _target = GENERATED_TARGET.lock().await;
    let started = Instant::now();
    let out = tamarco_cli(&[
        "new",
        "demo-http-pg-amqp",
        "--yes",
        "--resources",
        BUILT,
        "--tamarco-path",
        workspace.to_str().unwrap(),
        "--dir",
        parent.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert!(out.contains("created demo-http-pg-amqp"), "{out}");
    let dir = parent.join("demo-http-pg-amqp");
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // The service itself, on free ports, answers /status 200: the time from `start_project`
    // to a running service (on a warm cache, when this test ran before).
    let build = Instant::now();
    let dir2 = dir.clone();
    let target2 = target.clone();
    tokio::task::spawn_blocking(move || cargo(&dir2, &target2, &["build", "--offline"]))
        .await
        .unwrap();
    let built = build.elapsed();
    let (report, http) = (free_port(), free_port());
    let spawned = Instant::now();
    let mut child = Command::new(target.join("debug/demo-http-pg-amqp"))
        .env(
            "TAMARCO__SYSTEM__RESOURCES__TAMARCO_HTTP_REPORT_SERVER__PORT",
            report.to_string(),
        )
        .env("TAMARCO__SYSTEM__RESOURCES__HTTP__PORT", http.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the generated service runs");
    // Its log, shown by the test harness when the test fails.
    for output in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                println!("demo-http-pg-amqp: {line}");
            }
        });
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], report));
    let mut status = None;
    while status != Some(200) && spawned.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        status = tamarco_tests::http_get(addr, "/status")
            .ok()
            .map(|(code, _)| code);
    }
    let running = spawned.elapsed();
    let to_running = started.elapsed();
    let database = tamarco_tests::http_get(([127, 0, 0, 1], http).into(), "/database");
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let exit = child.wait().unwrap();
    assert_eq!(status, Some(200), "/status of the generated service");
    assert_eq!(database.unwrap(), (200, "2".to_owned()), "/database");
    assert!(exit.success(), "a clean stop on SIGTERM: {exit}");

    // The project's own tests, against the machine's PostgreSQL (settings.yml's defaults).
    let testing = Instant::now();
    let dir2 = dir.clone();
    let target2 = target.clone();
    tokio::task::spawn_blocking(move || cargo(&dir2, &target2, &["test", "--offline"]))
        .await
        .unwrap();
    eprintln!(
        "generated project: a running service (/status 200) {:.1} s after start_project (its \
         build {:.1} s, its start {:.2} s); its own tests passed {:.1} s later",
        to_running.as_secs_f64(),
        built.as_secs_f64(),
        running.as_secs_f64(),
        testing.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(parent).unwrap();
}

/// Every template compiles: the all-on project (and its tests) pass `cargo check`, on the target
/// dir the other generated project builds in (it shares the build scripts and proc macros).
#[tokio::test(flavor = "multi_thread")]
async fn the_all_on_project_passes_cargo_check() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let parent = std::env::temp_dir().join(format!("tamarco-all-on-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-projects");
    let mut options = ProjectOptions::new("all-on", &parent).unwrap();
    options.resources = ResourceKind::ALL.into_iter().collect();
    options.settings = SettingsSource::Etcd;
    options.tamarco = project::TamarcoSource::Path(workspace.to_path_buf());
    let dir = project::generate(&options).unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let _target = GENERATED_TARGET.lock().await;
    let started = Instant::now();
    tokio::task::spawn_blocking(move || {
        cargo(&dir, &target, &["check", "--all-targets", "--offline"]);
    })
    .await
    .unwrap();
    eprintln!(
        "all-on project: cargo check in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(parent).unwrap();
}
