//! `jsonl:PATH`: one client projection per line, sorted by clientId: the same bytes as
//! `processor local --projections-out` for the same projections.

use super::{ProjectionSink, ProjectionSinkError, Written};
use projections::{ClientProjection, World};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// Writes projections as JSON lines to a file, or to stdout for `-`.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
}

impl JsonlSink {
    /// A sink writing to `path` (`-` for stdout). The file is created when written.
    pub fn new(path: PathBuf) -> Self {
        JsonlSink { path }
    }

    fn write_to(&self, out: impl Write, clients: &[ClientProjection]) -> io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        for client in clients {
            serde_json::to_writer(&mut out, client)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
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
        if self.path.as_os_str() == "-" {
            self.write_to(io::stdout().lock(), clients).map_err(err)?;
        } else {
            let file = File::create(&self.path).map_err(err)?;
            self.write_to(file, clients).map_err(err)?;
        }
        Ok(Written {
            items: clients.len(),
        })
    }
}
