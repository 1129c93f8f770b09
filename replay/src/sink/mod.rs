//! Where rebuilt projections go: the [`ProjectionSink`] port and its local adapters.
//!
//! - `jsonl:PATH` / `jsonl:-` ([`jsonl`]): one client projection per line, sorted by clientId,
//!   exactly as `processor local --projections-out` writes them;
//! - `store:DIR` ([`store`]): every entry of the rebuilt world, written to `processor local`'s
//!   embedded store, so `processor local --store DIR` carries on from it;
//! - `dynamodb://table` ([`dynamodb`]): every entry in the processor's table, in processor's item
//!   format (batched, parallel, idempotent and so resumable).
//!
//! Replay has no delivery sink at all: rebuilding never sends a message.

pub mod dynamodb;
pub mod jsonl;
pub mod store;

use projections::{ClientProjection, World};
use std::path::PathBuf;
use std::str::FromStr;

/// Why a sink failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionSinkError {
    /// Writing a file failed.
    #[error("writing {path}")]
    Io {
        /// The file (`-` for stdout).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The embedded store failed.
    #[error(transparent)]
    Store(#[from] embedded_store::redb_store::RedbError),
    /// An entry would not encode for the embedded store (a bug).
    #[error(transparent)]
    Encode(#[from] embedded_store::store::EncodeError),
    /// The target store already holds projections or a log.
    #[error("{dir} already holds a store ({what}): rebuild into an empty or new directory, so nothing old is mixed with the rebuilt projections")]
    NotEmpty {
        /// The store directory.
        dir: PathBuf,
        /// What was found.
        what: String,
    },
    /// A DynamoDB request failed (after retries).
    #[error("dynamodb: {0}")]
    Aws(#[from] aws_adapters::store_port::StoreError),
}

/// A sink as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `jsonl:PATH`, or `jsonl:-` for stdout.
    Jsonl(PathBuf),
    /// `store:DIR`: `processor local`'s embedded store.
    Store(PathBuf),
    /// `dynamodb://table`.
    DynamoDb {
        /// The table name.
        table: String,
    },
}

impl FromStr for SinkSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let nonempty = |rest: &str, what: &str| {
            if rest.is_empty() {
                Err(format!("{s:?}: expected {what}"))
            } else {
                Ok(rest.to_owned())
            }
        };
        if let Some(table) = s.strip_prefix("dynamodb://") {
            return Ok(SinkSpec::DynamoDb {
                table: nonempty(table, "dynamodb://table-name")?,
            });
        }
        if let Some(path) = s.strip_prefix("jsonl:") {
            return Ok(SinkSpec::Jsonl(
                nonempty(path, "jsonl:PATH or jsonl:-")?.into(),
            ));
        }
        if let Some(dir) = s.strip_prefix("store:") {
            return Ok(SinkSpec::Store(nonempty(dir, "store:DIR")?.into()));
        }
        Err(format!(
            "{s:?}: expected jsonl:PATH, jsonl:- (stdout), store:DIR or dynamodb://table"
        ))
    }
}

/// What a sink wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Client projections (jsonl) or entries (store).
    pub items: usize,
}

/// Where rebuilt projections go. Called once, at the end of a rebuild.
pub trait ProjectionSink {
    /// Writes the rebuilt `world`; `clients` are its client projections, sorted by clientId and
    /// already restricted by `--client`.
    ///
    /// # Errors
    /// Write failures.
    fn write(
        &mut self,
        world: &mut World,
        clients: &[ClientProjection],
    ) -> Result<Written, ProjectionSinkError>;
}

/// Opens the sink `spec` names; `only` is `--client` (empty: every client), which a `dynamodb://`
/// sink applies to the items it writes.
///
/// # Errors
/// A non-empty store directory; a DynamoDB table that cannot be described.
pub fn open(
    spec: &SinkSpec,
    endpoint_url: Option<&str>,
    only: &[String],
) -> Result<Box<dyn ProjectionSink>, ProjectionSinkError> {
    match spec {
        SinkSpec::Jsonl(path) => Ok(Box::new(jsonl::JsonlSink::new(path.clone())?)),
        SinkSpec::Store(dir) => Ok(Box::new(store::StoreSink::open(dir)?)),
        SinkSpec::DynamoDb { table } => Ok(Box::new(dynamodb::DynamoSink::open(
            table,
            endpoint_url,
            only,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!("jsonl:-".parse(), Ok(SinkSpec::Jsonl("-".into())));
        assert_eq!(
            "jsonl:out/p.jsonl".parse(),
            Ok(SinkSpec::Jsonl("out/p.jsonl".into()))
        );
        assert_eq!("store:./data".parse(), Ok(SinkSpec::Store("./data".into())));
        assert_eq!(
            "dynamodb://presence".parse(),
            Ok(SinkSpec::DynamoDb {
                table: "presence".into()
            })
        );
        assert!("out.jsonl".parse::<SinkSpec>().is_err());
        assert!("jsonl:".parse::<SinkSpec>().is_err());
    }
}
