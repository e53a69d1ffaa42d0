//! A file that rotates by size, the way Python's `RotatingFileHandler` does: `app.log` is
//! written until the next record would pass the size limit, then `app.log.1` becomes
//! `app.log.2` and so on, the oldest archive past the count is deleted, and `app.log` starts
//! empty. Records are written whole, so one never straddles two files.
//!
//! Written here rather than taken from a crate: the rotation crates also carry time-based
//! rotation, time zones and compression (chrono, regex, flate2), which every service would
//! compile for a rename loop.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `path`, rotated before it would pass `max_bytes`, keeping `max_files` archives.
#[derive(Debug)]
pub(super) struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    max_files: u64,
    file: File,
    /// Bytes in the current file, counted on write so no `stat` per record.
    size: u64,
}

impl RotatingFile {
    /// Opens `path` for appending (an existing file keeps its content and counts towards the
    /// limit).
    pub(super) fn open(path: &Path, max_bytes: u64, max_files: u64) -> io::Result<Self> {
        let file = append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            max_files,
            file,
            size,
        })
    }

    /// Writes one whole record, rotating first when it would not fit. A record larger than
    /// the limit on its own is written into a fresh file rather than dropped.
    pub(super) fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        let len = record.len() as u64;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(record)?;
        self.size += len;
        Ok(())
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.max_files == 0 {
            self.file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)?;
        } else {
            // Shift from the oldest, so no archive overwrites a newer one.
            ignore_missing(std::fs::remove_file(self.archive(self.max_files)))?;
            for n in (1..self.max_files).rev() {
                ignore_missing(std::fs::rename(self.archive(n), self.archive(n + 1)))?;
            }
            std::fs::rename(&self.path, self.archive(1))?;
            self.file = append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }

    fn archive(&self, n: u64) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// An archive not there yet (fewer rotations so far than `max_files`) is not an error.
fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tamarco-rotating-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn read(path: PathBuf) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn rotates_before_a_record_would_pass_the_limit_and_keeps_the_count() {
        let dir = dir("count");
        let path = dir.join("app.log");
        let mut file = RotatingFile::open(&path, 10, 2).unwrap();
        for n in 0..5 {
            file.write_record(format!("rec{n}\n").as_bytes()).unwrap();
        }
        file.flush().unwrap();
        // 5 bytes each, two per file: rec4 current, rec2+rec3 in .1, rec0+rec1 in .2.
        assert_eq!(read(path.clone()), "rec4\n");
        assert_eq!(read(dir.join("app.log.1")), "rec2\nrec3\n");
        assert_eq!(read(dir.join("app.log.2")), "rec0\nrec1\n");
        for _ in 0..2 {
            file.write_record(b"more\n").unwrap();
        }
        assert!(
            !dir.join("app.log.3").exists(),
            "only two archives are kept"
        );
        assert_eq!(
            read(dir.join("app.log.2")),
            "rec2\nrec3\n",
            "the oldest went"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_file_counts_towards_the_limit_and_a_big_record_is_kept_whole() {
        let dir = dir("existing");
        let path = dir.join("app.log");
        std::fs::write(&path, "old-line\n").unwrap();
        let mut file = RotatingFile::open(&path, 10, 1).unwrap();
        file.write_record(b"a record longer than ten\n").unwrap();
        file.flush().unwrap();
        assert_eq!(read(dir.join("app.log.1")), "old-line\n");
        assert_eq!(read(path), "a record longer than ten\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
