//! [`FileSequence`]: records from a list of files read one after another, each file's format
//! detected as it is opened. What a local directory and an S3 prefix have in common; how a file
//! is opened, and what a read error in the middle of one means, is theirs ([`Files`]).

use super::detect::{FileError, FileRecords};
use super::{ArchiveError, Corrupt, Location, Position};
use schemas::Record;

/// Why a file could not be read.
pub enum Unread {
    /// The file is reported as corrupt, with this reason, and skipped.
    Skip(String),
    /// The source stops.
    Fatal(ArchiveError),
}

/// How a source opens its files.
pub trait Files {
    /// Opens file `index` and detects its format; `Ok(None)` for an empty file.
    ///
    /// # Errors
    /// The file cannot be read or its format is not recognised.
    fn open(&mut self, index: usize) -> Result<Option<Box<dyn FileRecords>>, Unread>;

    /// What an I/O error part-way through file `index` means.
    fn read_error(&self, index: usize, error: std::io::Error) -> Unread;
}

/// The files, by the names reports use, and the one being read.
pub struct FileSequence {
    names: Vec<String>,
    next: usize,
    current: Option<(u32, Box<dyn FileRecords>)>,
}

impl FileSequence {
    /// A sequence of the files named `names`, in that order.
    pub fn new(names: Vec<String>) -> Self {
        FileSequence {
            names,
            next: 0,
            current: None,
        }
    }

    /// The files' names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The next record of the current file, opening the next file (through `files`) when the
    /// current one ends; `None` after the last.
    pub fn next_record(
        &mut self,
        files: &mut impl Files,
    ) -> Option<Result<(Record, Position), ArchiveError>> {
        loop {
            if let Some((file, records)) = self.current.as_mut() {
                let file = *file;
                match records.next_item() {
                    Some(Ok((record, at, arrived))) => {
                        return Some(Ok((record, Position { file, at, arrived })))
                    }
                    Some(Err(FileError::Corrupt { at, reason })) => {
                        return Some(Err(self.corrupt(file, at, reason)))
                    }
                    Some(Err(FileError::Io(error))) => {
                        self.current = None;
                        let unread = files.read_error(file as usize, error);
                        return Some(Err(self.unread(file, unread)));
                    }
                    None => self.current = None,
                }
            }
            let index = self.next;
            if index >= self.names.len() {
                return None;
            }
            self.next += 1;
            let file = u32::try_from(index).unwrap_or(u32::MAX);
            match files.open(index) {
                Ok(Some(records)) => self.current = Some((file, records)),
                Ok(None) => {}
                Err(unread) => return Some(Err(self.unread(file, unread))),
            }
        }
    }

    fn unread(&self, file: u32, unread: Unread) -> ArchiveError {
        match unread {
            Unread::Skip(reason) => self.corrupt(file, Location::File, reason),
            Unread::Fatal(error) => error,
        }
    }

    fn corrupt(&self, file: u32, at: Location, reason: String) -> ArchiveError {
        ArchiveError::Corrupt(Corrupt {
            file: self.names[file as usize].clone(),
            at,
            reason,
        })
    }
}
