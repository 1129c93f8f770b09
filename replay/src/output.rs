//! A file a run writes at its end (`jsonl:PATH`, `explain --html PATH`), checked to be writable
//! before the fold starts: a typo in a directory name fails in a second, not after an hour of
//! folding. The file is opened (created if missing, an existing one left as it is) when the run
//! starts, and replaced when it ends; a run that writes nothing removes the file it created.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

/// An output file, open for writing.
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    file: Option<File>,
    created: bool,
}

impl Output {
    /// Opens `path` for writing, creating it if missing; its content is kept until
    /// [`Output::write_with`].
    ///
    /// # Errors
    /// The file cannot be opened for writing (no such directory, no permission, a directory).
    pub fn open(path: &Path) -> io::Result<Output> {
        let created = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(Output {
            path: path.to_owned(),
            file: Some(file),
            created,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file's content with what `write` writes.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write_with(
        &mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut file = match self.file.take() {
            Some(file) => file,
            None => File::create(&self.path)?,
        };
        file.set_len(0)?;
        file.rewind()?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        write(&mut out)?;
        out.flush()?;
        self.created = false;
        Ok(())
    }

    /// Writes nothing: a file this run created is removed, an existing one is left as it was.
    pub fn abandon(mut self) {
        self.file = None;
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritable_path_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("out.jsonl");
        assert_eq!(
            Output::open(&missing).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(Output::open(dir.path()).is_err(), "a directory");
    }

    #[test]
    fn replaces_the_content_or_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "an older and longer content").unwrap();
        let mut out = Output::open(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "an older and longer content",
            "kept until written"
        );
        out.write_with(|w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");

        let fresh = dir.path().join("fresh.html");
        Output::open(&fresh).unwrap().abandon();
        assert!(!fresh.exists(), "a file the run created is removed");
        Output::open(&path).unwrap().abandon();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new", "kept");
    }
}
