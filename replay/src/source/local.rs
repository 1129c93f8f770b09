//! The local adapter: a file, or a directory read file by file in sorted path order.
//!
//! Firehose's `YYYY/MM/DD/HH/` layout sorts by time, and `processor local`'s log segments are
//! named by position, so sorted path order is arrival order. Hidden files (`.name`) are skipped.
//! A `processor local` store directory (one with `projections.redb` and `log/`) is read as its log
//! alone: its quarantine holds the records that did not decode.

use super::detect::{self, FileError, FileRecords};
use super::{Corrupt, Location, Meter, Position, RecordSource, SourceError};
use schemas::Record;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Records from local files.
pub struct LocalSource {
    paths: Vec<PathBuf>,
    names: Vec<String>,
    next_file: usize,
    current: Option<(u32, Box<dyn FileRecords>)>,
    meter: Meter,
}

impl LocalSource {
    /// Lists the files under `path` (or `path` itself) and their total size.
    ///
    /// # Errors
    /// `path` or a directory under it cannot be read.
    pub fn open(path: &Path) -> Result<LocalSource, SourceError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| SourceError::Io { path, source }
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
        Ok(LocalSource {
            paths,
            names,
            next_file: 0,
            current: None,
            meter: Meter {
                total: Some(total),
                ..Meter::default()
            },
        })
    }

    fn corrupt(&self, file: u32, at: Location, reason: String) -> SourceError {
        SourceError::Corrupt(Corrupt {
            file: self.names[file as usize].clone(),
            at,
            reason,
        })
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let err = |source| SourceError::Io {
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
    fn next_record(&mut self) -> Option<Result<(Record, Position), SourceError>> {
        loop {
            if let Some((file, records)) = self.current.as_mut() {
                let file = *file;
                match records.next_item() {
                    Some(Ok((record, at))) => return Some(Ok((record, Position { file, at }))),
                    Some(Err(FileError::Corrupt { at, reason })) => {
                        return Some(Err(self.corrupt(file, at, reason)))
                    }
                    Some(Err(FileError::Io(source))) => {
                        self.current = None;
                        return Some(Err(SourceError::Io {
                            path: self.paths[file as usize].clone(),
                            source,
                        }));
                    }
                    None => self.current = None,
                }
            }
            let index = self.next_file;
            let path = self.paths.get(index)?;
            self.next_file += 1;
            let file = u32::try_from(index).unwrap_or(u32::MAX);
            let opened = File::open(path)
                .map_err(Err)
                .and_then(|f| detect::open(f, self.meter.read.clone()));
            match opened {
                Ok(Some(records)) => self.current = Some((file, records)),
                Ok(None) => {}
                Err(Ok(reason)) => return Some(Err(self.corrupt(file, Location::File, reason))),
                Err(Err(source)) => {
                    return Some(Err(SourceError::Io {
                        path: path.clone(),
                        source,
                    }))
                }
            }
        }
    }

    fn files(&self) -> &[String] {
        &self.names
    }

    fn meter(&self) -> Meter {
        self.meter.clone()
    }
}
