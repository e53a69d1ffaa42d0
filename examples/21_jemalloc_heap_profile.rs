//! 21 — Heap profiles with jemalloc: the service sets jemalloc as its global allocator (the
//! one line below; tamarco never sets it), so `/status` and `/metrics` carry jemalloc's
//! allocation statistics and `GET /debug/pprof/heap` answers the live heap. jemalloc samples
//! allocations only when profiling is switched on by the environment. Needs the cargo feature
//! `jemalloc` of `tamarco` (it builds jemalloc from C sources).
//!
//! ```text
//! _RJEM_MALLOC_CONF=prof:true cargo run --example jemalloc_heap_profile --features jemalloc
//! curl -o heap.pb.gz 127.0.0.1:5747/debug/pprof/heap     # go tool pprof heap.pb.gz
//! curl '127.0.0.1:5747/debug/pprof/heap?format=jeheap'   # jemalloc's own dump, for jeprof
//! ```

use std::sync::Mutex;

use tamarco::prelude::*;

#[global_allocator]
static ALLOCATOR: tamarco::jemalloc::Jemalloc = tamarco::jemalloc::Jemalloc;

#[microservice]
#[derive(Default)]
struct HeapProfile {
    /// Grows by 1 MiB a second, up to 64 MiB, so that the heap profile has something to show.
    kept: Mutex<Vec<Vec<u8>>>,
}

#[microservice]
impl HeapProfile {
    #[task_timer(interval = "1s", autostart)]
    async fn grow(&self) {
        let mut kept = self.kept.lock().expect("kept lock");
        if kept.len() < 64 {
            kept.push(vec![1; 1 << 20]);
        }
    }
}

fn main() -> ExitStatus {
    HeapProfile::default().run()
}
