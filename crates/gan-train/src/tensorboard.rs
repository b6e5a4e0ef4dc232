//! TensorBoard event files (`RUN/tensorboard/events.out.tfevents.*`): every number of every
//! `metrics.jsonl` record as a scalar, and the sample grid as an image at each evaluation, so
//! that `tensorboard --logdir runs` shows runs live.
//!
//! The format is TensorFlow's: a file of records, each `u64` length, masked CRC32C of the
//! length, the data, masked CRC32C of the data; the data is an `Event` protocol buffer. The
//! messages below are the fields of `tensorboard/compat/proto/{event,summary}.proto` that we
//! write, as `prost` derives (no protoc). A resume rewrites the file without the events after
//! the checkpoint's step (as `metrics.jsonl`), so TensorBoard never sees a step twice or a
//! step going backwards.
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::error::{io_err, Result};

/// `tensorflow.Event`, the fields we use.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The global step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// `"brain.Event:2"`, the first event of a file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Scalars and images.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The tag TensorBoard groups by (`train/d_loss`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value.
    #[prost(oneof = "Kind", tags = "2, 4")]
    pub kind: Option<Kind>,
}

/// `Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    /// A scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// An encoded image.
    #[prost(message, tag = "4")]
    Image(Image),
}

/// `tensorflow.Summary.Image`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    /// Pixels high.
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Pixels wide.
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grey, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The PNG file's bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One record in TensorFlow's framing.
fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// The events of a file, in order, up to the first torn or damaged record (a crash mid-write
/// leaves at most one).
pub fn read_events(bytes: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let len_bytes = &bytes[at..at + 8];
        let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        if crc != masked_crc(len_bytes) {
            break;
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        let Some(end) = (at + 12).checked_add(len).filter(|&e| e + 4 <= bytes.len()) else {
            break;
        };
        let data = &bytes[at + 12..end];
        let crc = u32::from_le_bytes(bytes[end..end + 4].try_into().expect("4 bytes"));
        if crc != masked_crc(data) {
            break;
        }
        match Event::decode(data) {
            Ok(e) => out.push(e),
            Err(_) => break,
        }
        at = end + 4;
    }
    out
}

/// Every number of a `metrics.jsonl` record as `(tag, value)`: `train/d_loss`,
/// `eval/scores/fcd`, ... (`kind` and `step` are the record's own; arrays, strings and
/// booleans are not scalars).
pub fn scalars_of(record: &serde_json::Value) -> Vec<(String, f64)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, f64)>) {
        match v {
            serde_json::Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    out.push((prefix.to_string(), x));
                }
            }
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    walk(&format!("{prefix}/{k}"), v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let Some(kind) = record.get("kind").and_then(|k| k.as_str()) else {
        return out;
    };
    if let Some(m) = record.as_object() {
        for (k, v) in m {
            if k != "kind" && k != "step" {
                walk(&format!("{kind}/{k}"), v, &mut out);
            }
        }
    }
    out
}

/// Appends events to a run's event file.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    file: File,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl EventWriter {
    /// Opens the event file in `dir` (made if needed; the first `events.out.tfevents.*` there,
    /// else a new one). With `truncate_after = Some(step)` the file is first rewritten without
    /// the events after `step` (a resume, or a rollback).
    pub fn open(dir: &Path, truncate_after: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        let mut existing: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err("cannot list", dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("events.out.tfevents."))
            })
            .collect();
        existing.sort();
        let path = match existing.first() {
            Some(p) => p.clone(),
            None => dir.join(format!(
                "events.out.tfevents.{}.gan.{}",
                now() as u64,
                std::process::id()
            )),
        };
        let fresh = !path.exists();
        if let (Some(step), false) = (truncate_after, fresh) {
            let bytes = std::fs::read(&path).map_err(io_err("cannot read", &path))?;
            let kept: Vec<u8> = read_events(&bytes)
                .into_iter()
                .filter(|e| e.step <= step as i64)
                .flat_map(|e| frame(&e.encode_to_vec()))
                .collect();
            gan_tensor::write_atomic(&path, &kept)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        let mut w = EventWriter { path, file };
        if fresh {
            w.write(&Event {
                wall_time: now(),
                step: 0,
                what: Some(What::FileVersion("brain.Event:2".into())),
            })?;
        }
        Ok(w)
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, e: &Event) -> Result<()> {
        self.file
            .write_all(&frame(&e.encode_to_vec()))
            .and_then(|()| self.file.flush())
            .map_err(io_err("cannot append to", &self.path))
    }

    fn summary(&mut self, step: u64, value: Vec<Value>) -> Result<()> {
        if value.is_empty() {
            return Ok(());
        }
        self.write(&Event {
            wall_time: now(),
            step: step as i64,
            what: Some(What::Summary(Summary { value })),
        })
    }

    /// Scalars at `step`, one event holding them all.
    pub fn scalars(&mut self, step: u64, scalars: &[(String, f64)]) -> Result<()> {
        let value = scalars
            .iter()
            .map(|(tag, v)| Value {
                tag: tag.clone(),
                kind: Some(Kind::SimpleValue(*v as f32)),
            })
            .collect();
        self.summary(step, value)
    }

    /// A PNG file's bytes as image `tag` at `step` (its size read from the PNG header).
    pub fn png(&mut self, step: u64, tag: &str, png: Vec<u8>) -> Result<()> {
        let (width, height) = png_size(&png).unwrap_or((0, 0));
        self.summary(
            step,
            vec![Value {
                tag: tag.to_string(),
                kind: Some(Kind::Image(Image {
                    height: height as i32,
                    width: width as i32,
                    colorspace: 3,
                    encoded_image_string: png,
                })),
            }],
        )
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().expect("4 bytes"));
    Some((be(&png[16..20]), be(&png[20..24])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framing_is_tensorflows() {
        // The masked CRC32C of TFRecord: crc32c("a") = 0xc1d04330.
        assert_eq!(crc32c::crc32c(b"a"), 0xc1d0_4330);
        assert_eq!(
            masked_crc(b"a"),
            0xc1d0_4330u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
        let e = Event {
            wall_time: 1.5,
            step: 7,
            what: Some(What::FileVersion("brain.Event:2".into())),
        };
        let bytes = frame(&e.encode_to_vec());
        assert_eq!(read_events(&bytes), vec![e.clone()]);
        // A torn tail is dropped, the complete records kept.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes[..bytes.len() - 3]);
        assert_eq!(read_events(&two), vec![e]);
    }

    #[test]
    fn records_become_tagged_scalars() {
        let r: serde_json::Value = serde_json::from_str(
            r#"{"kind":"eval","step":5,"modes":{"n":8,"kl":0.5,"hist":[1,2]},"name":"x","ok":true}"#,
        )
        .unwrap();
        assert_eq!(
            scalars_of(&r),
            vec![
                ("eval/modes/kl".to_string(), 0.5),
                ("eval/modes/n".to_string(), 8.0)
            ]
        );
    }

    #[test]
    fn reopening_truncates_after_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::open(dir.path(), Some(0)).unwrap();
        for step in [10, 20, 30] {
            w.scalars(step, &[("train/x".into(), step as f64)]).unwrap();
        }
        let path = w.path().to_path_buf();
        drop(w);
        let mut w = EventWriter::open(dir.path(), Some(20)).unwrap();
        assert_eq!(w.path(), path, "the same file is continued");
        w.scalars(30, &[("train/x".into(), 31.0)]).unwrap();
        let events = read_events(&std::fs::read(&path).unwrap());
        let steps: Vec<i64> = events.iter().map(|e| e.step).collect();
        assert_eq!(
            steps,
            vec![0, 10, 20, 30],
            "one file_version, no step twice"
        );
        let Some(What::Summary(s)) = &events[3].what else {
            panic!()
        };
        assert_eq!(s.value[0].kind, Some(Kind::SimpleValue(31.0)));
    }
}
