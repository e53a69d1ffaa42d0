//! The size-rotated file (`system.logging.file_path`): `app.log`, then `app.log.1` (the newest
//! archive) up to `app.log.<file_max_files>`, rotated before a record would pass
//! `file_max_bytes`, so a record never straddles two files.

use super::rotating_file::RotatingFile;

use super::super::config::{FileConfig, Format};
use super::super::document::{self, DocContext};
use super::super::record::Record;
use super::super::sink::{Batch, Sink, Transport};
use super::super::text;

const KEY: &str = "system.logging.file_path";

struct FileSink {
    writer: RotatingFile,
    format: Format,
    cx: DocContext,
}

pub(super) fn start(config: &FileConfig, cx: &DocContext) -> Result<Sink, String> {
    let problem = |what: String| format!("logging: setting `{KEY}`: {what}; the file sink is off");
    let path = &config.path;
    let file_name = path
        .file_name()
        .ok_or_else(|| problem(format!("{} names no file", path.display())))?;
    let directory = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&directory)
        .map_err(|e| problem(format!("cannot create {}: {e}", directory.display())))?;
    let writer = RotatingFile::open(
        &directory.join(file_name),
        config.max_bytes,
        config.max_files,
    )
    .map_err(|e| problem(format!("cannot open {}: {e}", path.display())))?;
    let sink = FileSink {
        writer,
        format: config.format,
        cx: cx.clone(),
    };
    super::spawn(
        "file",
        "system.logging.file_path",
        10_000,
        Batch::Drain(256),
        sink,
    )
}

impl Transport for FileSink {
    fn render(&self, record: &Record) -> String {
        let mut line = match self.format {
            Format::Text => text::line(record, false),
            Format::Json => document::json(record, &self.cx),
        };
        line.push('\n');
        line
    }

    async fn connect(&mut self) -> Result<(), String> {
        Ok(())
    }

    async fn send(&mut self, batch: Vec<String>) -> Result<(), String> {
        // One write per record: rotation happens between records, never inside one.
        for line in batch {
            self.writer
                .write_record(line.as_bytes())
                .map_err(|e| format!("cannot write: {e}"))?;
        }
        self.writer
            .flush()
            .map_err(|e| format!("cannot write: {e}"))
    }
}
