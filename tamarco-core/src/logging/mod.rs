//! Logging, set up for every service on `tracing`, from `system.logging`.
//!
//! From the first instant of [`Runtime::start`](crate::Runtime::start) (and
//! [`run`](crate::Runtime::run)) a provisional logger writes to stdout at `info` (or as `RUST_LOG`
//! says), so that errors while loading the settings are visible. Once the settings are loaded it
//! is replaced by the configured one: the level follows `system.logging.profile` (and changes
//! without a restart when the profile changes), and records go to stdout, a size-rotated file,
//! Logstash over UDP, a Redis list and an HTTP endpoint, as configured. Records from crates that
//! use the `log` crate arrive too.
//!
//! The sinks other than stdout never block the service: each sits behind a bounded queue served
//! by its own thread; when a sink is slow or down, records are dropped and counted (the metrics
//! counter `log_records_dropped_total{sink}`, [`stats`], and a periodic warning). A sink that
//! comes back is used again. On a graceful stop the queues are flushed within
//! `system.logging.flush_timeout_seconds`.
//!
//! Fields whose name looks secret ([`is_secret_name`](crate::secret::is_secret_name):
//! `password`, `auth_token`, `api_key`...) and those listed in `system.logging.secret_fields`
//! never reach any sink, stdout included; values wrapped in [`Secret`] print as `***`.
//!
//! The keys, the Logstash document and how to write tags and extra fields are described in the
//! `tamarco` crate's `logging` module documentation.

mod config;
mod document;
mod filter;
mod layer;
mod levels;
mod record;
mod sink;
mod sinks;
mod text;
mod time;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tracing_subscriber::Layer as _;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

use crate::settings::{Settings, SettingsError};

pub use crate::secret::Secret;
pub use config::Profile;
pub(crate) use document::hostname;
pub use levels::{LevelError, LevelSource, LoggerLevel, ROOT_LOGGER, parse_level};
pub use sink::SinkStats;
pub(crate) use time::rfc3339_millis;

use config::Config;
use filter::LevelsFilter;
use layer::{Pipeline, TamarcoLayer};
use levels::Levels;

/// The target of the records that logging itself writes (sink problems, dropped records).
pub const TARGET: &str = "tamarco::logging";

/// The process-wide logging state: the global subscriber is installed once per process.
struct Global {
    /// The filter of the logging layer only: exported spans do not depend on it.
    filter: LevelsFilter,
    pipeline: Arc<ArcSwap<Pipeline>>,
    /// The settings' (or `RUST_LOG`'s) levels with the run-time overrides on top.
    levels: Levels,
    /// Incremented by every [`init`]; a settings watch of an older configuration does nothing.
    generation: AtomicU64,
}

static GLOBAL: OnceLock<Option<Global>> = OnceLock::new();

/// The global state, installing the provisional logger on first use. `None` when the program
/// had installed a global subscriber of its own: then tamarco leaves logging alone.
fn global() -> Option<&'static Global> {
    GLOBAL.get_or_init(install).as_ref()
}

fn install() -> Option<Global> {
    let levels = Levels::default();
    let filter = match env_filter() {
        Some(filter) => levels.set_base(filter, LevelSource::RustLog),
        None => levels.set_base(
            Targets::new().with_default(tracing::Level::INFO),
            LevelSource::Settings,
        ),
    };
    let filter = LevelsFilter::new(filter);
    let pipeline = Arc::new(ArcSwap::from_pointee(Pipeline::provisional()));
    let subscriber = Registry::default();
    // The OpenTelemetry layer, sampling nothing until `system.tracing` turns exporting on.
    #[cfg(feature = "tracing-otel")]
    let subscriber = subscriber.with(crate::otel::layer());
    let logging = TamarcoLayer::new(Arc::clone(&pipeline)).with_filter(filter.clone());
    let subscriber = subscriber.with(logging);
    tracing::subscriber::set_global_default(subscriber).ok()?;
    // Records of crates that use `log`; fails only if the program set a `log` logger itself.
    let _ = tracing_log::LogTracer::init();
    Some(Global {
        filter,
        pipeline,
        levels,
        generation: AtomicU64::new(0),
    })
}

/// `RUST_LOG`, when set and valid, wins over the profile (`info,my_crate=debug` syntax).
fn env_filter() -> Option<Targets> {
    std::env::var("RUST_LOG").ok()?.parse().ok()
}

/// Installs the provisional stdout logger, unless logging is installed already (or the program
/// installed its own subscriber).
pub(crate) fn provisional() {
    let _ = global();
}

/// The log shippers that need a heavy client, each with the cargo feature of `tamarco` that
/// brings it in: `(sink, feature, compiled in)`.
const FEATURE_GATED_SINKS: [(&str, &str, bool); 2] = [
    ("redis", "log-redis", cfg!(feature = "log-redis")),
    ("http", "log-http", cfg!(feature = "log-http")),
];

/// Refuses settings that turn on a log shipper this build leaves out (the Redis and HTTP sinks
/// are cargo features, so that a small service does not compile their clients). The error
/// names the key and the feature to turn on: a sink the operator asked for is never skipped
/// silently. The runtime calls it right after loading the settings.
pub fn check_sink_features(settings: &Settings) -> Result<(), SettingsError> {
    check_gated_sinks(settings, &FEATURE_GATED_SINKS)?;
    crate::settings::check_known(
        settings,
        "system.logging",
        config::KNOWN_KEYS,
        config::LEGACY_KEYS,
    )
}

fn check_gated_sinks(
    settings: &Settings,
    gated: &[(&str, &str, bool)],
) -> Result<(), SettingsError> {
    for &(sink, feature, compiled) in gated {
        let key = format!("system.logging.{sink}.enabled");
        if !compiled && settings.get_or(&key, false)? {
            return Err(SettingsError::Invalid {
                key,
                message: format!(
                    "the {sink} log sink is not in this build; turn on the cargo feature \
                     `{feature}` of `tamarco`"
                ),
            });
        }
    }
    Ok(())
}

/// Sets logging up from `settings`: replaces the provisional logger (or a previous
/// configuration), starts the sinks, and follows later changes of the levels. Problems (an
/// unknown profile, a missing key of an enabled sink, a sink that can't be opened) are logged,
/// naming the key; the service runs on with the sinks that work.
///
/// The runtime calls it once the settings are loaded. Programs that log without the runtime
/// (scripts around a [`MicroserviceContext`](crate::MicroserviceContext), benchmarks) may call
/// it themselves, and [`flush`] before they exit. Does nothing if the program installed a
/// global `tracing` subscriber of its own.
pub fn init(settings: &Settings) {
    let Some(global) = global() else { return };
    let (config, mut problems) = Config::read(settings);
    let generation = global.generation.fetch_add(1, Ordering::SeqCst) + 1;
    let pipeline = Pipeline::build(&config, settings.service(), &mut problems);
    let old = global.pipeline.swap(Arc::new(pipeline));
    drop(old); // its sinks drain what they hold and stop
    reload_filter(global, &config);
    let service = settings.service().to_owned();
    settings.watch("system.logging", move |_, value| {
        let Some(global) = GLOBAL.get().and_then(Option::as_ref) else {
            return;
        };
        if global.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        // The new (resolved) subtree, read through scratch settings: holding the service's
        // own settings here would make them own themselves through this callback.
        let scratch = Settings::new(service.clone());
        let logging = value.cloned().unwrap_or_else(|| serde_json::json!({}));
        let _ = scratch.update_internal(serde_json::json!({"system": {"logging": logging}}));
        let (config, problems) = Config::read_levels(&scratch);
        reload_filter(global, &config);
        for problem in problems {
            tracing::warn!(target: TARGET, "{problem}");
        }
        tracing::info!(
            target: TARGET,
            profile = %config.profile,
            level = %config.profile.level(),
            "logging levels changed"
        );
    });
    for problem in problems {
        tracing::error!(target: TARGET, "{problem}");
    }
}

fn reload_filter(global: &Global, config: &Config) {
    let filter = match env_filter() {
        Some(filter) => global.levels.set_base(filter, LevelSource::RustLog),
        None => global.levels.set_base(
            config.targets(&global.pipeline.load().service),
            LevelSource::Settings,
        ),
    };
    global.filter.set(filter);
}

/// Every configured logger with its effective level: `root` (the default level) first, then
/// each target the settings, `RUST_LOG` or a run-time change name. Empty when the program
/// installed its own subscriber.
pub fn levels() -> Vec<LoggerLevel> {
    match GLOBAL.get().and_then(Option::as_ref) {
        Some(global) => global.levels.list(),
        None => Vec::new(),
    }
}

/// Changes the level of `target` (or of [`ROOT_LOGGER`], the default) at run time: the next record
/// is filtered by it. `None` resets the target to what the settings or `RUST_LOG` say.
///
/// Which wins: a run-time change wins over `RUST_LOG`, which wins over `system.logging`
/// (`profile`, `default_level`, `levels`). A later change of the settings (a new profile from
/// etcd) does not undo a run-time change; reset it with `None`.
pub fn set_level(target: &str, level: Option<LevelFilter>) -> Result<(), LevelError> {
    levels::check_target(target)?;
    let global = global().ok_or(LevelError::NotManaged)?;
    let filter = global.levels.set_override(target, level);
    global.filter.set(filter);
    Ok(())
}

/// Waits (at most `timeout`) until every record queued so far has been delivered to its sink,
/// or given up on; true if all sinks finished in time. The runtime calls it at the end of a
/// graceful stop; call it yourself before exiting a program that logs without the runtime.
pub fn flush(timeout: Duration) -> bool {
    let Some(global) = GLOBAL.get().and_then(Option::as_ref) else {
        return true;
    };
    let pipeline = global.pipeline.load_full();
    pipeline.flush(Instant::now() + timeout)
}

/// [`flush`] with the configured `system.logging.flush_timeout_seconds`, off the async
/// threads.
pub(crate) async fn flush_on_stop() {
    let Some(global) = GLOBAL.get().and_then(Option::as_ref) else {
        return;
    };
    let timeout = global.pipeline.load().flush_timeout;
    let _ = tokio::task::spawn_blocking(move || flush(timeout)).await;
}

/// The counters of every configured sink other than stdout: records sent, dropped because the
/// queue was full, failed in delivery, and whether the sink is reachable now.
pub fn stats() -> Vec<SinkStats> {
    match GLOBAL.get().and_then(Option::as_ref) {
        Some(global) => global.pipeline.load().stats(),
        None => Vec::new(),
    }
}
