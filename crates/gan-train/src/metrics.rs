//! `metrics.jsonl`: one JSON object per line, each with `kind` and `step`.
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{io_err, Result};

/// Appends records to `metrics.jsonl`, flushing each line, and (with
/// [`MetricsWriter::with_events`]) every number of each record to TensorBoard.
#[derive(Debug)]
pub struct MetricsWriter {
    path: PathBuf,
    file: File,
    events: Option<crate::tensorboard::EventWriter>,
}

impl MetricsWriter {
    /// Opens `path` for appending. With `truncate_after = Some(step)` (a resume), first drops
    /// the lines of steps after `step`, written after the checkpoint that is being resumed.
    pub fn open(path: &Path, truncate_after: Option<u64>) -> Result<Self> {
        if let (Some(step), true) = (truncate_after, path.exists()) {
            let f = File::open(path).map_err(io_err("cannot read", path))?;
            let mut kept = String::new();
            for line in BufReader::new(f).lines() {
                let line = line.map_err(io_err("cannot read", path))?;
                let line_step = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v.get("step").and_then(|s| s.as_u64()));
                if line_step.is_some_and(|s| s <= step) {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
            gan_tensor::write_atomic(path, kept.as_bytes())?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_err("cannot open", path))?;
        Ok(MetricsWriter {
            path: path.to_path_buf(),
            file,
            events: None,
        })
    }

    /// Also writes each record's numbers into the TensorBoard event file of `dir`, truncated
    /// after the same step as `metrics.jsonl`.
    pub fn with_events(mut self, dir: &Path, truncate_after: Option<u64>) -> Result<Self> {
        self.events = Some(crate::tensorboard::EventWriter::open(dir, truncate_after)?);
        Ok(self)
    }

    /// A PNG file as TensorBoard image `tag` at `step` (nothing without TensorBoard, or when
    /// the file is not there).
    pub fn image(&mut self, step: u64, tag: &str, png: &Path) -> Result<()> {
        let Some(events) = &mut self.events else {
            return Ok(());
        };
        match std::fs::read(png) {
            Ok(bytes) => events.png(step, tag, bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("cannot read", png)(e)),
        }
    }

    /// Writes one record.
    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let mut line = serde_json::to_string(record).expect("records serialise");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(io_err("cannot append to", &self.path))?;
        if let Some(events) = &mut self.events {
            let value = serde_json::to_value(record).expect("records serialise");
            let step = value.get("step").and_then(|s| s.as_u64()).unwrap_or(0);
            events.scalars(step, &crate::tensorboard::scalars_of(&value))?;
        }
        Ok(())
    }
}
