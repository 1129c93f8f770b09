//! `tick`: the sweeper's mark of time on a shard (our own record kind).
//!
//! The fold's now comes only from events, so on a quiet stream it stands still. The sweeper puts
//! a tick on every open shard on a schedule (every minute by default), stamped with its own clock
//! (a Lambda's, AWS's), so the fold's now moves even when no other event comes: a batch that
//! holds a tick decides against its time (docs/architecture.md, The fold).

use crate::lifecycle::EpochMillis;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The newest `tick` record version this build writes.
pub const TICK_SCHEMA_VERSION: u32 = 1;

/// The time on one shard, put there by the sweeper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tick {
    /// Record schema version.
    pub schema_version: u32,
    /// The shard it was put on: ticks of one sweep on different shards are different records.
    pub shard_id: String,
    /// The sweeper's clock when it put the tick, ms epoch.
    pub timestamp: EpochMillis,
}

impl Tick {
    /// A tick of the current schema version.
    pub fn new(shard_id: impl Into<String>, timestamp: EpochMillis) -> Self {
        Tick {
            schema_version: TICK_SCHEMA_VERSION,
            shard_id: shard_id.into(),
            timestamp,
        }
    }
}
