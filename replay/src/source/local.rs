//! The local adapter: a file, or a directory read file by file in sorted path order.
//!
//! Firehose's `YYYY/MM/DD/HH/` layout sorts by time, and `processor local`'s log segments are
//! named by position, so sorted path order is arrival order. Hidden files (`.name`) are skipped.
//! A `processor local` store directory (one with `projections.redb` and `log/`) is read as its log
//! alone: its quarantine holds the records that did not decode.

use super::detect::{self, FileRecords};
use super::sequence::{FileSequence, Files, Unread};
use super::{ArchiveError, Meter, Position, RecordSource};
use schemas::Record;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Records from local files.
pub struct LocalSource {
    files: LocalFiles,
    sequence: FileSequence,
    meter: Meter,
}

/// The paths, and the byte counter their readers advance.
struct LocalFiles {
    paths: Vec<PathBuf>,
    read: Arc<AtomicU64>,
}

impl Files for LocalFiles {
    fn open(&mut self, index: usize) -> Result<Option<Box<dyn FileRecords>>, Unread> {
        let path = &self.paths[index];
        let io = |source| {
            Unread::Fatal(ArchiveError::Io {
                path: path.clone(),
                source,
            })
        };
        let file = File::open(path).map_err(io)?;
        detect::open(file, self.read.clone()).map_err(|e| match e {
            Ok(reason) => Unread::Skip(reason),
            Err(source) => io(source),
        })
    }

    /// Damaged compressed data (a truncated or corrupt `.gz`, which the decoder reports as
    /// invalid data or an early end) is bad data: the rest of that file is reported and skipped,
    /// like a corrupt record. Anything else part-way through a local file is a disk problem: stop.
    fn read_error(&self, index: usize, source: std::io::Error) -> Unread {
        use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
        if matches!(source.kind(), InvalidData | InvalidInput | UnexpectedEof) {
            return Unread::Skip(format!("damaged data, rest of the file skipped: {source}"));
        }
        Unread::Fatal(ArchiveError::Io {
            path: self.paths[index].clone(),
            source,
        })
    }
}

impl LocalSource {
    /// Lists the files under `path` (or `path` itself) and their total size.
    ///
    /// # Errors
    /// `path` or a directory under it cannot be read.
    pub fn open(path: &Path) -> Result<LocalSource, ArchiveError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ArchiveError::Io { path, source }
        };
        let meta = fs::metadata(path).map_err(io(path))?;
        let mut paths = Vec::new();
        if meta.is_dir() {
            let root = if path.join("projections.redb").is_file() && path.join("log").is_dir() {
                path.join("log")
            } else {
                path.to_owned()
            };
            walk(&root, &mut paths)?;
            paths.sort();
        } else {
            paths.push(path.to_owned());
        }
        let mut total = 0;
        for p in &paths {
            total += fs::metadata(p).map_err(io(p))?.len();
        }
        let names = paths.iter().map(|p| p.display().to_string()).collect();
        let meter = Meter {
            total: Some(total),
            ..Meter::default()
        };
        Ok(LocalSource {
            files: LocalFiles {
                paths,
                read: meter.read.clone(),
            },
            sequence: FileSequence::new(names),
            meter,
        })
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ArchiveError> {
    let err = |source| ArchiveError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(err)?;
        let path = entry.path();
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

impl RecordSource for LocalSource {
    fn next_record(&mut self) -> Option<Result<(Record, Position), ArchiveError>> {
        self.sequence.next_record(&mut self.files)
    }

    fn files(&self) -> &[String] {
        self.sequence.names()
    }

    fn meter(&self) -> Meter {
        self.meter.clone()
    }
}
