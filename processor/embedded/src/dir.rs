//! The store directory itself: made if missing, refused if something else is in its place.

use std::io;
use std::path::{Path, PathBuf};

/// The store directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreDirError {
    /// A file (or something else) is where the directory should be.
    #[error("store {0}: not a directory (a store is a directory of the log and the database)")]
    NotADirectory(PathBuf),
    /// It could not be made.
    #[error("store {path}: cannot create the directory: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Makes the store directory `dir` if it is missing.
///
/// # Errors
/// Something other than a directory is there, or it cannot be made.
pub fn store_dir(dir: &Path) -> Result<(), StoreDirError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StoreDirError::NotADirectory(dir.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(|source| StoreDirError::Create {
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_named_not_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("afile");
        std::fs::write(&file, b"x").unwrap();
        let err = store_dir(&file).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        let fresh = tmp.path().join("a/b");
        store_dir(&fresh).unwrap();
        assert!(fresh.is_dir());
        store_dir(&fresh).unwrap();
    }
}
