//! `jsonl:PATH`: one client projection per line, sorted by clientId: the same bytes as
//! `processor local --projections-out` for the same projections.

use super::{ProjectionSink, ProjectionSinkError, Written};
use crate::output::Output;
use projections::{ClientProjection, World};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// Writes projections as JSON lines to a file, or to stdout for `-`.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    /// The file, opened when the run starts (none for stdout).
    file: Option<Output>,
}

impl JsonlSink {
    /// A sink writing to `path` (`-` for stdout), which is opened now: a path that cannot be
    /// written fails before the fold.
    ///
    /// # Errors
    /// The file cannot be opened for writing.
    pub fn new(path: PathBuf) -> Result<Self, ProjectionSinkError> {
        let file = if path.as_os_str() == "-" {
            None
        } else {
            Some(
                Output::open(&path).map_err(|source| ProjectionSinkError::Io {
                    path: path.clone(),
                    source,
                })?,
            )
        };
        Ok(JsonlSink { path, file })
    }
}

fn write_lines(out: &mut dyn Write, clients: &[ClientProjection]) -> io::Result<()> {
    for client in clients {
        serde_json::to_writer(&mut *out, client)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

impl ProjectionSink for JsonlSink {
    fn write(
        &mut self,
        _world: &mut World,
        clients: &[ClientProjection],
    ) -> Result<Written, ProjectionSinkError> {
        let err = |source| ProjectionSinkError::Io {
            path: self.path.clone(),
            source,
        };
        match &mut self.file {
            Some(file) => file.write_with(|out| write_lines(out, clients)),
            None => {
                let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
                write_lines(&mut out, clients).and_then(|()| out.flush())
            }
        }
        .map_err(err)?;
        Ok(Written {
            items: clients.len(),
        })
    }
}
