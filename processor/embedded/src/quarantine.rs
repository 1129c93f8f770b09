//! The quarantine: records that could not be decoded, kept with why, so nothing is dropped
//! silently and the run goes on (docs/architecture.md, The batch protocol, step 1).
//!
//! `DIR/quarantine.jsonl` gets one JSON object per bad line: `line` (1-based), `input` (the
//! file name, or `-` for stdin), `error`, the line as it was, `raw` (text) or, when it is not
//! UTF-8, `rawBase64` (its bytes exactly), and `quarantinedAt` (ms epoch, wall clock: this is an
//! operator's record, not part of the fold). The file is created on the first bad line and
//! appended to across runs; a line an earlier run over the same input kept already (same number,
//! same bytes) is not added again.

use base64::Engine;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The file name inside the store directory.
pub const FILE_NAME: &str = "quarantine.jsonl";

/// Writing the quarantine failed.
#[derive(Debug, thiserror::Error)]
#[error("quarantine {path}: {source}")]
pub struct QuarantineFileError {
    /// The quarantine file.
    pub path: PathBuf,
    /// The underlying error.
    pub source: io::Error,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    line: u64,
    input: &'a str,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
    quarantined_at: u64,
}

/// Appends bad records to the quarantine file.
#[derive(Debug)]
pub struct Quarantine {
    path: PathBuf,
    input: String,
    file: Option<BufWriter<File>>,
    count: u64,
    /// The lines of this input the file holds already (line number, hash of the bytes), read on
    /// the first bad line: a run again over the same input does not add them twice.
    kept: Option<std::collections::HashSet<(u64, u64)>>,
}

/// The identity of a bad line of an input: its number and a hash of its bytes.
fn identity(line: u64, raw: &[u8]) -> (u64, u64) {
    (line, xxhash_rust::xxh3::xxh3_64(raw))
}

impl Quarantine {
    /// A quarantine in `dir` for records read from `input` (a name for the record).
    pub fn new(dir: &Path, input: &str) -> Self {
        Quarantine {
            path: dir.join(FILE_NAME),
            input: input.to_owned(),
            file: None,
            count: 0,
            kept: None,
        }
    }

    /// The bad lines of this input the file already holds.
    fn kept(&self) -> std::collections::HashSet<(u64, u64)> {
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            return Default::default();
        };
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["input"] == self.input.as_str())
            .filter_map(|v| {
                let line = v["line"].as_u64()?;
                let bytes = match (v["raw"].as_str(), v["rawBase64"].as_str()) {
                    (Some(raw), _) => raw.as_bytes().to_vec(),
                    (None, Some(b64)) => {
                        base64::engine::general_purpose::STANDARD.decode(b64).ok()?
                    }
                    (None, None) => return None,
                };
                Some(identity(line, &bytes))
            })
            .collect()
    }

    /// Where bad records go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many records this run quarantined.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Keeps one bad line, unless the file holds it already (an earlier run over the same input).
    ///
    /// # Errors
    /// The file cannot be opened or written.
    pub fn add(&mut self, line: u64, raw: &[u8], error: &str) -> Result<(), QuarantineFileError> {
        if self.kept.is_none() {
            self.kept = Some(self.kept());
        }
        if let Some(kept) = &mut self.kept {
            if !kept.insert(identity(line, raw)) {
                self.count += 1;
                return Ok(());
            }
        }
        let quarantined_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let text = std::str::from_utf8(raw).ok();
        let item = Item {
            line,
            input: &self.input,
            error,
            raw: text,
            raw_base64: match text {
                Some(_) => None,
                None => Some(base64::engine::general_purpose::STANDARD.encode(raw)),
            },
            quarantined_at,
        };
        let path = &self.path;
        let err = |source| QuarantineFileError {
            path: path.clone(),
            source,
        };
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(err)?;
                self.file.insert(BufWriter::new(file))
            }
        };
        serde_json::to_writer(&mut *file, &item).map_err(|e| err(e.into()))?;
        file.write_all(b"\n").map_err(err)?;
        self.count += 1;
        Ok(())
    }

    /// Makes what was written durable: called before the batch it belongs to is committed.
    ///
    /// # Errors
    /// The file cannot be written or synced.
    pub fn flush(&mut self) -> Result<(), QuarantineFileError> {
        if let Some(file) = &mut self.file {
            let path = &self.path;
            let err = |source| QuarantineFileError {
                path: path.clone(),
                source,
            };
            file.flush().map_err(err)?;
            file.get_ref().sync_data().map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_json_object_per_bad_line() {
        let tmp = tempfile::tempdir().unwrap();
        let mut q = Quarantine::new(tmp.path(), "in.jsonl");
        assert!(!q.path().exists(), "created only when needed");
        q.add(3, b"{oops", "not a JSON object").unwrap();
        q.add(7, b"\xff", "not a JSON object").unwrap();
        q.flush().unwrap();
        assert_eq!(q.count(), 2);
        let text = std::fs::read_to_string(q.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["line"], 3);
        assert_eq!(lines[0]["input"], "in.jsonl");
        assert_eq!(lines[0]["raw"], "{oops");
        assert_eq!(lines[0]["error"], "not a JSON object");
        assert!(lines[1]["quarantinedAt"].as_u64().unwrap() > 0);
        // Bytes that are not UTF-8 are kept exactly, not with replacement characters.
        assert_eq!(lines[1]["rawBase64"], "/w==");
        assert!(lines[1].get("raw").is_none());

        // A run again over the same input adds none of them twice.
        let mut again = Quarantine::new(tmp.path(), "in.jsonl");
        again.add(3, b"{oops", "not a JSON object").unwrap();
        again.add(7, b"\xff", "not a JSON object").unwrap();
        again.add(8, b"new", "not a JSON object").unwrap();
        again.flush().unwrap();
        assert_eq!(again.count(), 3, "counted as this run's");
        let text = std::fs::read_to_string(q.path()).unwrap();
        assert_eq!(text.lines().count(), 3);
    }
}
