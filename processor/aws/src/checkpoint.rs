//! Where `consume` remembers how far it got: per shard, the last sequence number completed and
//! whether the shard is finished (closed and read to its end). In the table, as
//! `checkpoint#{stream}#{shardId}` items with `seq` and `done`.

use crate::dynamo;
use crate::item::{get_s, Item};
use crate::store_port::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// One shard's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last sequence number completed.
    pub seq: Option<String>,
    /// Closed and read to its end.
    pub done: bool,
}

/// Checkpoint storage.
pub trait Checkpoints: Send + Sync {
    /// The checkpoint of `shard` (default if none).
    fn load(&self, shard: &str) -> impl Future<Output = Result<Checkpoint, StoreError>> + Send;
    /// Saves the checkpoint of `shard`.
    fn save(
        &self,
        shard: &str,
        cp: &Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Checkpoints in the table.
#[derive(Debug, Clone)]
pub struct DynamoCheckpoints {
    client: aws_sdk_dynamodb::Client,
    table: String,
    stream: String,
}

impl DynamoCheckpoints {
    /// Checkpoints of `stream` in `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str, stream: &str) -> Self {
        DynamoCheckpoints {
            client,
            table: table.to_owned(),
            stream: stream.to_owned(),
        }
    }

    fn pk(&self, shard: &str) -> String {
        format!("checkpoint#{}#{shard}", self.stream)
    }
}

impl Checkpoints for DynamoCheckpoints {
    async fn load(&self, shard: &str) -> Result<Checkpoint, StoreError> {
        let item = dynamo::get_item(&self.client, &self.table, &self.pk(shard)).await?;
        Ok(item
            .map(|i| Checkpoint {
                seq: get_s(&i, "seq").map(str::to_owned),
                done: matches!(i.get("done"), Some(AttributeValue::Bool(true))),
            })
            .unwrap_or_default())
    }

    async fn save(&self, shard: &str, cp: &Checkpoint) -> Result<(), StoreError> {
        let mut attrs: Item = HashMap::new();
        if let Some(seq) = &cp.seq {
            attrs.insert("seq".into(), AttributeValue::S(seq.clone()));
        }
        attrs.insert("done".into(), AttributeValue::Bool(cp.done));
        dynamo::put_item(&self.client, &self.table, &self.pk(shard), attrs).await
    }
}

/// Checkpoints in memory.
#[derive(Debug, Default)]
pub struct MemoryCheckpoints {
    map: Mutex<HashMap<String, Checkpoint>>,
}

impl Checkpoints for MemoryCheckpoints {
    async fn load(&self, shard: &str) -> Result<Checkpoint, StoreError> {
        Ok(self
            .map
            .lock()
            .ok()
            .and_then(|m| m.get(shard).cloned())
            .unwrap_or_default())
    }

    async fn save(&self, shard: &str, cp: &Checkpoint) -> Result<(), StoreError> {
        if let Ok(mut m) = self.map.lock() {
            m.insert(shard.to_owned(), cp.clone());
        }
        Ok(())
    }
}
