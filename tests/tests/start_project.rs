//! `tamarco start_project`: the generator's files for each option alone, all on, and the
//! minimal project, against the snapshots in `tests/snapshots/start_project/` (rewrite them
//! with `TAMARCO_BLESS=1` and read the diff); the command's refusals; and a generated project
//! with http and postgres, built against this checkout, whose own tests pass against the
//! machine's PostgreSQL and whose service answers `/status` 200.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use tamarco::cli::project::{self, ProjectOptions, ResourceKind, SettingsSource};
use tamarco::cli::{Cli, run};

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

async fn tamarco(args: &[&str]) -> Result<String, String> {
    let cli = Cli::try_parse_from(std::iter::once("tamarco").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    run(cli, &mut out)
        .await
        .map_err(|e| tamarco::error_chain(&*e))?;
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn the_command_refuses_an_existing_directory_and_a_bad_name() {
    let dir = scratch("refusals");
    let parent = dir.to_str().unwrap();
    let out = tamarco(&["new", "orders", "--yes", "--dir", parent])
        .await
        .unwrap();
    assert!(out.contains("created orders"), "{out}");
    assert!(dir.join("orders/Cargo.toml").is_file());

    let error = tamarco(&["new", "orders", "--yes", "--dir", parent])
        .await
        .unwrap_err();
    assert!(error.contains("already exists"), "{error}");
    let error = tamarco(&["start_project", "9lives", "--yes", "--dir", parent])
        .await
        .unwrap_err();
    assert!(
        error.contains("a valid name starts with an ASCII letter"),
        "{error}"
    );
    let error = tamarco(&["new", "x", "--yes", "--resources", "mongo", "--dir", parent])
        .await
        .unwrap_err();
    assert!(error.contains("unknown resource `mongo`"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The resources of the generated project that is built and run.
const BUILT: &str = "http,postgres";

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
async fn a_generated_project_with_http_and_postgres_passes_its_tests_and_answers_status() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // Outside any workspace, so that cargo takes the project as its own root.
    let parent = std::env::temp_dir().join(format!("tamarco-generated-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    // One target dir for every generated project: a second run builds only the project.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-projects");
    let started = Instant::now();
    let out = tamarco(&[
        "new",
        "demo-http-pg",
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
    assert!(out.contains("created demo-http-pg"), "{out}");
    let dir = parent.join("demo-http-pg");
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // The project's own tests, against the machine's PostgreSQL (settings.yml's defaults).
    let dir2 = dir.clone();
    let target2 = target.clone();
    tokio::task::spawn_blocking(move || cargo(&dir2, &target2, &["test", "--offline"]))
        .await
        .unwrap();
    let tested = started.elapsed();

    // The service itself, on free ports, answers /status 200.
    let build = Instant::now();
    let dir2 = dir.clone();
    let target2 = target.clone();
    tokio::task::spawn_blocking(move || cargo(&dir2, &target2, &["build", "--offline"]))
        .await
        .unwrap();
    let (report, http) = (free_port(), free_port());
    let mut child = Command::new(target.join("debug/demo-http-pg"))
        .env(
            "TAMARCO__SYSTEM__RESOURCES__TAMARCO_HTTP_REPORT_SERVER__PORT",
            report.to_string(),
        )
        .env("TAMARCO__SYSTEM__RESOURCES__HTTP__PORT", http.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the generated service runs");
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("demo-http-pg: {line}");
        }
    });
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], report));
    let mut status = None;
    while build.elapsed() < Duration::from_secs(60) {
        status = tamarco_tests::http_get(addr, "/status")
            .ok()
            .map(|(code, _)| code);
        if status == Some(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running = build.elapsed();
    let (code, _) = tamarco_tests::http_get(
        std::net::SocketAddr::from(([127, 0, 0, 1], http)),
        "/database",
    )
    .unwrap();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let exit = child.wait().unwrap();
    assert_eq!(status, Some(200), "/status of the generated service");
    assert_eq!(code, 200, "/database of the generated service");
    assert!(exit.success(), "a clean stop on SIGTERM: {exit}");
    eprintln!(
        "generated project: tests passed {:.1} s after start_project; service running {:.1} s after its build started",
        tested.as_secs_f64(),
        running.as_secs_f64()
    );
    std::fs::remove_dir_all(parent).unwrap();
}
