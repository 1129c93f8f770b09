//! Reading the input: JSON lines from a file or stdin, one record per line, in arrival order.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Big reads: the input is read once, front to back.
const BUFFER: usize = 1 << 20;

/// The input could not be read.
#[derive(Debug, thiserror::Error)]
#[error("input {name}: {source}")]
pub struct InputError {
    /// The input's name.
    pub name: String,
    /// The underlying error.
    pub source: io::Error,
}

/// Lines of the input, with their numbers.
pub struct Lines {
    name: String,
    reader: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    line: u64,
    bytes: u64,
    size: Option<u64>,
}

impl Lines {
    /// Opens `path`, or stdin when it is `-`.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: &Path) -> Result<Lines, InputError> {
        let name = path.display().to_string();
        if path == Path::new("-") {
            return Ok(Lines::from_reader(
                name,
                Box::new(BufReader::with_capacity(BUFFER, io::stdin())),
                None,
            ));
        }
        let err = |source| InputError {
            name: name.clone(),
            source,
        };
        let file = File::open(path).map_err(err)?;
        let meta = file.metadata().map_err(err)?;
        let size = meta.is_file().then_some(meta.len());
        Ok(Lines::from_reader(
            name,
            Box::new(BufReader::with_capacity(BUFFER, file)),
            size,
        ))
    }

    /// Lines from any reader.
    pub fn from_reader(name: String, reader: Box<dyn BufRead + Send>, size: Option<u64>) -> Lines {
        Lines {
            name,
            reader,
            buf: Vec::with_capacity(4096),
            line: 0,
            bytes: 0,
            size,
        }
    }

    /// The input's name, as given (`-` for stdin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input's size in bytes, when it is a regular file.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The next line without its line ending, with its 1-based number; `None` at the end.
    ///
    /// # Errors
    /// Read failures.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, InputError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| InputError {
                name: self.name.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.bytes += n as u64;
        self.line += 1;
        let mut line = self.buf.as_slice();
        if let Some(rest) = line.strip_suffix(b"\n") {
            line = rest;
        }
        if let Some(rest) = line.strip_suffix(b"\r") {
            line = rest;
        }
        Ok(Some((self.line, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_and_strips_endings() {
        let data = b"a\r\n\nb\nc".to_vec();
        let mut lines = Lines::from_reader("t".into(), Box::new(io::Cursor::new(data)), None);
        let mut seen = Vec::new();
        while let Some((n, l)) = lines.next_line().unwrap() {
            seen.push((n, l.to_vec()));
        }
        assert_eq!(
            seen,
            vec![
                (1, b"a".to_vec()),
                (2, b"".to_vec()),
                (3, b"b".to_vec()),
                (4, b"c".to_vec())
            ]
        );
        assert_eq!(lines.bytes_read(), 7);
    }
}
