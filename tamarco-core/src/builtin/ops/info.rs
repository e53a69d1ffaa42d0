//! `GET /info`: what is running (service, instance, deployment), what was built (the service
//! crate's version, git commit and build profile) and since when.

use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};

/// What the service's own build knows about itself; made by [`build_info!`](crate::build_info)
/// in the service's crate, so that the version is the service's, not tamarco's.
///
/// The git commit comes from the environment variable `TAMARCO_GIT_COMMIT` at compile time;
/// the one line that sets it, in the service's `build.rs`:
///
/// ```text
/// fn main() { if let Ok(o) = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output() { println!("cargo:rustc-env=TAMARCO_GIT_COMMIT={}", String::from_utf8_lossy(&o.stdout).trim()) } }
/// ```
///
/// (or `TAMARCO_GIT_COMMIT=$(git rev-parse HEAD) cargo build`). The build profile is
/// `TAMARCO_BUILD_PROFILE` when set that way, otherwise `debug` or `release` from the service
/// crate's `debug_assertions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildInfo {
    /// The service crate's name (`CARGO_PKG_NAME`).
    pub crate_name: &'static str,
    /// The service crate's version (`CARGO_PKG_VERSION`).
    pub crate_version: &'static str,
    /// The git commit the service was built from, if the build recorded it.
    pub git_commit: Option<&'static str>,
    /// The build profile (`debug`, `release`, or what the build recorded).
    pub build_profile: &'static str,
}

impl Default for BuildInfo {
    /// Unknown: the service did not pass its own (`Runtime::build_info`).
    fn default() -> Self {
        BuildInfo {
            crate_name: "unknown",
            crate_version: "unknown",
            git_commit: None,
            build_profile: "unknown",
        }
    }
}

/// The service's [`BuildInfo`], read at compile time in the crate that calls it. Pass it to
/// `Runtime::build_info`: `Svc::default().runtime().build_info(tamarco::build_info!()).run()`.
#[macro_export]
macro_rules! build_info {
    () => {
        $crate::builtin::BuildInfo {
            crate_name: ::core::env!("CARGO_PKG_NAME"),
            crate_version: ::core::env!("CARGO_PKG_VERSION"),
            git_commit: ::core::option_env!("TAMARCO_GIT_COMMIT"),
            build_profile: match ::core::option_env!("TAMARCO_BUILD_PROFILE") {
                ::core::option::Option::Some(profile) => profile,
                ::core::option::Option::None if ::core::cfg!(debug_assertions) => "debug",
                ::core::option::Option::None => "release",
            },
        }
    };
}

/// The running instance: made once when the report server is configured.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub(crate) service: String,
    pub(crate) id: String,
    pub(crate) deploy_name: String,
    pub(crate) build: BuildInfo,
    started: SystemTime,
    started_at: Instant,
}

impl Instance {
    pub(crate) fn new(service: &str, deploy_name: String, build: BuildInfo) -> Self {
        Instance {
            service: service.to_owned(),
            id: instance_id(),
            deploy_name,
            build,
            started: SystemTime::now(),
            started_at: Instant::now(),
        }
    }

    /// The `/info` document.
    pub(crate) fn document(&self) -> Value {
        json!({
            "service": self.service,
            "instance_id": self.id,
            "deploy_name": self.deploy_name,
            "crate": {"name": self.build.crate_name, "version": self.build.crate_version},
            "git_commit": self.build.git_commit,
            "build_profile": self.build.build_profile,
            "tamarco_version": env!("CARGO_PKG_VERSION"),
            "started_at": crate::logging::rfc3339_millis(self.started),
            "uptime_seconds": self.started_at.elapsed().as_secs_f64(),
        })
    }
}

/// `<hostname>-<pid>-<8 hex digits>`: unique per process start, readable in a log line.
pub(crate) fn instance_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let host = crate::logging::hostname();
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        hasher.finish() as u32
    )
}
