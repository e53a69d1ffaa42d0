//! The CPU profiler (cargo feature `profiler`, the `pprof` crate sampling at 99 Hz):
//! `GET /debug/pprof/profile?seconds=N` answers a profile of the next N seconds (default 10,
//! at most 300) in the pprof protobuf format, or as a flame graph SVG with `&format=svg`. One
//! profile at a time: a request while one is taken gets 409.
//!
//! The original's setting keeps its meaning: when the service's name is listed in
//! `system.resources.profiler.microservices_with_profiler`, a profile of every
//! `system.resources.profiler.interval_seconds` (5) is written to
//! `<directory>/<service>.profile.pb` and `<service>.flamegraph.svg` (`directory`: `.`),
//! replacing the previous one. While it runs, on-demand requests get 409.
//!
//! Unwinding: by default `pprof` unwinds with the DWARF unwinder, which has known crashes when a
//! signal lands in some system libraries (those are on its block list here). The feature
//! `profiler-frame-pointer` walks frame pointers instead; build the service with
//! `RUSTFLAGS="-C force-frame-pointers=yes"` for it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use pprof::protos::Message;
use serde::Deserialize;

use crate::shutdown::ShutdownHandle;

/// Set while a profile is being taken.
static TAKING: AtomicBool = AtomicBool::new(false);

/// The right to take the one profile; released on drop.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        TAKING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        TAKING.store(false, Ordering::Release);
    }
}

/// How a profile is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// pprof protobuf (`go tool pprof`, pyroscope...).
    Protobuf,
    /// Flame graph SVG.
    Svg,
}

/// `GET /debug/pprof/profile?seconds=N[&format=svg]`.
pub(crate) async fn profile(uri: Uri, shutdown: ShutdownHandle) -> Response {
    let (seconds, format) = match parse_query(uri.query().unwrap_or_default()) {
        Ok(query) => query,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let Some(slot) = Slot::take() else {
        return (
            StatusCode::CONFLICT,
            "a profile is being taken already; retry after it",
        )
            .into_response();
    };
    match take(
        slot,
        Duration::from_secs_f64(seconds),
        vec![format],
        &shutdown,
    )
    .await
    {
        Ok(mut bodies) => {
            let body = bodies.pop().unwrap_or_default();
            let kind = match format {
                Format::Protobuf => "application/octet-stream",
                Format::Svg => "image/svg+xml",
            };
            ([(header::CONTENT_TYPE, kind)], body).into_response()
        }
        Err(message) => (StatusCode::INTERNAL_SERVER_ERROR, message).into_response(),
    }
}

fn parse_query(query: &str) -> Result<(f64, Format), String> {
    let mut seconds = 10.0;
    let mut format = Format::Protobuf;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "seconds" => {
                seconds = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && *s <= 300.0)
                    .ok_or_else(|| {
                        format!("`seconds`: expected a number in (0, 300], found {value:?}")
                    })?;
            }
            "format" => {
                format = match value {
                    "pb" | "proto" | "protobuf" => Format::Protobuf,
                    "svg" | "flamegraph" => Format::Svg,
                    _ => return Err(format!("`format`: expected pb or svg, found {value:?}")),
                };
            }
            _ => {
                return Err(format!(
                    "unknown parameter {key:?} (expected seconds, format)"
                ));
            }
        }
    }
    Ok((seconds, format))
}

/// Profiles for `duration` (cut short by a stop of the service) and encodes the result in
/// each of `formats`.
async fn take(
    slot: Slot,
    duration: Duration,
    formats: Vec<Format>,
    shutdown: &ShutdownHandle,
) -> Result<Vec<Vec<u8>>, String> {
    let guard = tokio::task::spawn_blocking(|| {
        pprof::ProfilerGuardBuilder::default()
            .frequency(99)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot start the profiler: {e}"))?;
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = shutdown.stopping() => {}
    }
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let report = guard.report().build().map_err(|e| e.to_string())?;
        drop(guard);
        let mut bodies = Vec::new();
        for format in formats {
            let mut body = Vec::new();
            match format {
                Format::Svg => report.flamegraph(&mut body).map_err(|e| e.to_string())?,
                Format::Protobuf => report
                    .pprof()
                    .map_err(|e| e.to_string())?
                    .write_to_vec(&mut body)
                    .map_err(|e| e.to_string())?,
            }
            bodies.push(body);
        }
        Ok(bodies)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// `system.resources.profiler`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PeriodicSettings {
    microservices_with_profiler: Vec<String>,
    interval_seconds: crate::settings::Duration,
    directory: PathBuf,
}

impl Default for PeriodicSettings {
    fn default() -> Self {
        PeriodicSettings {
            microservices_with_profiler: Vec::new(),
            interval_seconds: crate::settings::Duration::from_secs(5),
            directory: PathBuf::from("."),
        }
    }
}

impl PeriodicSettings {
    /// Whether `service` is listed.
    pub(crate) fn applies_to(&self, service: &str) -> bool {
        self.microservices_with_profiler
            .iter()
            .any(|name| name == service)
    }
}

/// Writes a profile every interval until the service stops.
pub(crate) async fn periodic(
    settings: PeriodicSettings,
    service: String,
    shutdown: ShutdownHandle,
) {
    let period = settings
        .interval_seconds
        .get()
        .clamp(Duration::from_millis(100), Duration::from_secs(3600));
    let pb = settings.directory.join(format!("{service}.profile.pb"));
    let svg = settings.directory.join(format!("{service}.flamegraph.svg"));
    tracing::info!(path = %pb.display(), "writing a CPU profile every {period:?}");
    while !shutdown.is_stopping() {
        let Some(slot) = Slot::take() else {
            tokio::time::sleep(period).await;
            continue;
        };
        // One sampling window gives both files.
        let formats = vec![Format::Protobuf, Format::Svg];
        let written = take(slot, period, formats, &shutdown)
            .await
            .and_then(|bodies| {
                for (path, body) in [&pb, &svg].into_iter().zip(bodies) {
                    std::fs::write(path, body).map_err(|e| format!("{}: {e}", path.display()))?;
                }
                Ok(())
            });
        if let Err(error) = written {
            tracing::warn!("periodic profile not written: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_checked() {
        assert_eq!(parse_query("").unwrap(), (10.0, Format::Protobuf));
        assert_eq!(
            parse_query("seconds=2&format=svg").unwrap(),
            (2.0, Format::Svg)
        );
        assert!(parse_query("seconds=0").unwrap_err().contains("seconds"));
        assert!(parse_query("seconds=1000").is_err());
        assert!(parse_query("format=gif").unwrap_err().contains("format"));
    }

    #[test]
    fn one_profile_at_a_time() {
        let first = Slot::take().unwrap();
        assert!(Slot::take().is_none());
        drop(first);
        assert!(Slot::take().is_some());
    }
}
