//! jemalloc's allocation statistics and heap profile (cargo feature `jemalloc`), for a service
//! that sets jemalloc as its global allocator; the library never does:
//!
//! ```rust,ignore
//! #[global_allocator]
//! static ALLOCATOR: tamarco::jemalloc::Jemalloc = tamarco::jemalloc::Jemalloc;
//! ```
//!
//! The statistics (allocated, active, resident, mapped, retained bytes) go to `/status` and
//! the metrics. `GET /debug/pprof/heap` answers the live heap in the pprof format (gzipped
//! protobuf, `go tool pprof`), or jemalloc's own dump with `?format=jeheap` (`jeprof`). jemalloc
//! samples allocations only when the process starts with profiling on, which is done by the
//! environment (code would need `unsafe`): `_RJEM_MALLOC_CONF=prof:true` (one sample per
//! 512 KiB allocated on average; `prof:true,lg_prof_sample:16` for one per 64 KiB).

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tikv_jemalloc_ctl::{epoch, stats};

/// The environment variable that switches jemalloc's profiling on (tikv-jemallocator's jemalloc
/// reads its options under this prefixed name).
pub(crate) const PROFILING_VAR: &str = "_RJEM_MALLOC_CONF";

/// jemalloc's counters, bytes.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Stats {
    /// Allocated by the application.
    pub(crate) allocated_bytes: u64,
    /// In active pages (allocated plus fragmentation).
    pub(crate) active_bytes: u64,
    /// Resident in memory, jemalloc's metadata included.
    pub(crate) resident_bytes: u64,
    /// Mapped by jemalloc.
    pub(crate) mapped_bytes: u64,
    /// Kept mapped for reuse, not returned to the system.
    pub(crate) retained_bytes: u64,
}

/// The counters now, or `None` when jemalloc is not the global allocator (it then has
/// allocated nothing: Rust's allocations go elsewhere).
pub(crate) fn stats() -> Option<Stats> {
    epoch::advance().ok()?;
    let read = |value: Result<usize, tikv_jemalloc_ctl::Error>| value.ok().map(|v| v as u64);
    let allocated_bytes = read(stats::allocated::read())?;
    if allocated_bytes == 0 {
        return None;
    }
    Some(Stats {
        allocated_bytes,
        active_bytes: read(stats::active::read())?,
        resident_bytes: read(stats::resident::read())?,
        mapped_bytes: read(stats::mapped::read())?,
        retained_bytes: read(stats::retained::read())?,
    })
}

/// `GET /debug/pprof/heap[?format=jeheap]`.
pub(crate) async fn profile(uri: Uri) -> Response {
    let jeheap = match uri.query().unwrap_or_default() {
        "" | "format=pprof" => false,
        "format=jeheap" => true,
        other => {
            let message = format!("unknown query `{other}`: use format=pprof or format=jeheap");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    if stats().is_none() {
        let message = "this service does not allocate with jemalloc: set it as the global \
                       allocator (`#[global_allocator] static ALLOCATOR: \
                       tamarco::jemalloc::Jemalloc = tamarco::jemalloc::Jemalloc;`)";
        return (StatusCode::NOT_IMPLEMENTED, message).into_response();
    }
    let Some(control) = jemalloc_pprof::PROF_CTL.as_ref() else {
        let message = format!(
            "jemalloc's heap profiling is off: start the service with {PROFILING_VAR}=prof:true"
        );
        return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
    };
    let mut control = std::sync::Arc::clone(control).lock_owned().await;
    // The dump goes through a temporary file: off the async workers.
    let dumped = tokio::task::spawn_blocking(move || {
        let dumped = match jeheap {
            true => control.dump().and_then(|mut file| {
                let mut text = Vec::new();
                std::io::Read::read_to_end(&mut file, &mut text)?;
                Ok(text)
            }),
            false => control.dump_pprof(),
        };
        dumped.map_err(|error| format!("{error:#}"))
    })
    .await
    .unwrap_or_else(|panic| Err(format!("the dump panicked: {panic}")));
    match dumped {
        Ok(body) => {
            let content_type = match jeheap {
                true => "text/plain; charset=utf-8",
                false => "application/octet-stream",
            };
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(error) => {
            let message = format!("the heap profile failed: {error}");
            (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
        }
    }
}
