//! A service whose global allocator is jemalloc (tamarco's feature `jemalloc`), for the heap
//! profile test: on start it allocates `HEAP_PROBE_MIB` MiB (0 by default) in one function and
//! keeps it until it stops, then prints `allocated N MiB`.

use std::sync::Mutex;

use tamarco::prelude::*;

#[global_allocator]
static ALLOCATOR: tamarco::jemalloc::Jemalloc = tamarco::jemalloc::Jemalloc;

/// What the probe keeps allocated.
static KEPT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

#[microservice(name = "heap_probe")]
#[derive(Default)]
struct HeapProbe {}

#[microservice]
impl HeapProbe {
    #[task]
    async fn hold(&self) {
        let mib: usize = std::env::var("HEAP_PROBE_MIB")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        allocate_the_probe_buffer(mib);
        println!("allocated {mib} MiB");
    }
}

/// One MiB at a time, touched, so that the heap holds `mib` MiB from this function.
#[inline(never)]
fn allocate_the_probe_buffer(mib: usize) {
    let mut kept = KEPT.lock().unwrap();
    for _ in 0..mib {
        kept.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

fn main() -> ExitStatus {
    HeapProbe::default()
        .runtime()
        .with_settings(tamarco::serde_json::json!({"system": {"resources": {
            "tamarco_http_report_server": {"host": "127.0.0.1", "port": 0}
        }}}))
        .expect("the probe's settings")
        .run()
}
