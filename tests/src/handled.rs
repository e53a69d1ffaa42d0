//! What a load-test probe handled, as both sides see it: the probe appends the id of each
//! message it handled to the file `PROBE_HANDLED_FILE` before the message is acked, one id a
//! line, and the test reads the file back to compare with what is still queued or committed.

use std::fmt::Display;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Opens `PROBE_HANDLED_FILE` for appending (the probe's side); panics when it is not set.
pub fn open_from_env() -> File {
    let path = std::env::var("PROBE_HANDLED_FILE").expect("PROBE_HANDLED_FILE is set");
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .expect("the handled file opens")
}

/// How long each handler works: `PROBE_WORK_MS`, or `default_ms`.
pub fn work_from_env(default_ms: u64) -> Duration {
    let ms = std::env::var("PROBE_WORK_MS")
        .ok()
        .map_or(default_ms, |ms| {
            ms.parse().expect("PROBE_WORK_MS is a number")
        });
    Duration::from_millis(ms)
}

/// Appends `id` as one line with a single `write(2)`: once this returns, the line is in the
/// file whatever happens to the process (only a crash of the machine would lose it).
pub fn append(file: &mut File, id: impl Display) -> std::io::Result<()> {
    file.write_all(format!("{id}\n").as_bytes())
}

/// The ids in the file at `path`, in the order they were handled (the test's side).
pub fn read(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().expect("an id per line"))
        .collect()
}
