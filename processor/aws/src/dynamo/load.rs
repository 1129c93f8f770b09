//! A batch's load: which of its keys are items (`BatchGetItem`) and which are partitions
//! (`Query`: rooms, devices, the lobby's 16 partitions, a room's recent messages), and the
//! entries their items decode to.

use super::{DynamoStore, WRITES_IN_FLIGHT};
use crate::item::{self, Item};
use crate::store_port::{Loaded, StoreError};
use projections::{Entry, Key};
use std::collections::HashMap;

impl DynamoStore {
    /// The entries of `keys`, in order: items by `BatchGetItem`, partitions by `Query`.
    pub(super) async fn load_entries(&self, keys: &[Key]) -> Result<Vec<Loaded>, StoreError> {
        // Rooms, devices and the lobby are partitions, read by `Query`; every other entry is one item,
        // and so is a whole lobby an earlier release wrote, read along with its partitions.
        // A room's history is read only when its head (read with the other items) says it has
        // a message as new as the membership asking: most memberships are newer than every
        // message of their room.
        let (histories, keys_left): (Vec<&Key>, Vec<&Key>) =
            keys.iter().partition(|k| matches!(k, Key::History { .. }));
        let (rooms, items): (Vec<&Key>, Vec<&Key>) = keys_left
            .into_iter()
            .partition(|k| matches!(k, Key::Room(_) | Key::Device(_)));
        let mut pks: Vec<String> = items.iter().map(ToString::to_string).collect();
        let histories: Vec<(&Key, &str, u64)> = histories
            .into_iter()
            .filter_map(|key| match key {
                Key::History { room, since } => Some((key, room.as_str(), *since)),
                _ => None,
            })
            .collect();
        pks.extend(histories.iter().map(|(_, room, _)| item::head_pk(room)));
        pks.sort_unstable();
        pks.dedup();
        let found = self.batch_get(pks).await?;
        let mut pks: Vec<String> = rooms.iter().map(ToString::to_string).collect();
        if keys.contains(&Key::Lobby) {
            pks.extend((0..item::LOBBY_PARTITIONS).map(|n| format!("lobby#{n}")));
        }
        let permits = tokio::sync::Semaphore::new(WRITES_IN_FLIGHT);
        let queries = pks
            .iter()
            .map(|pk| self.query_limited(&permits, pk.clone()));
        let asked: Vec<(&Key, &str, u64)> = histories
            .into_iter()
            .filter(|(_, room, since)| {
                let head = found.get(&item::head_pk(room));
                head.and_then(item::head_newest)
                    .is_some_and(|newest| newest >= *since)
            })
            .collect();
        let history_queries = asked
            .iter()
            .map(|(_, room, since)| self.query_history(&permits, room, *since));
        let (results, history_results) = futures_util::future::join(
            futures_util::future::join_all(queries),
            futures_util::future::join_all(history_queries),
        )
        .await;
        let mut partitions: HashMap<String, Vec<Item>> = HashMap::with_capacity(pks.len());
        for (pk, result) in pks.iter().zip(results) {
            partitions.insert(pk.clone(), result?);
        }
        let mut loaded_histories: HashMap<&Key, Vec<Item>> = HashMap::new();
        for ((key, ..), result) in asked.iter().zip(history_results) {
            loaded_histories.insert(key, result?);
        }
        keys.iter()
            .map(|key| {
                if let Key::History { .. } = key {
                    let pk = key.to_string();
                    let messages = loaded_histories.get(key).map_or(&[][..], Vec::as_slice);
                    // Messages are written on their own: the history has no revision.
                    let history = item::decode_history(&pk, messages)?;
                    return Ok(Loaded {
                        entry: (!history.is_empty()).then_some(Entry::History(history)),
                        rev: None,
                    });
                }
                let pk = key.to_string();
                if let Some(parts) = partitions.get(&pk) {
                    // Neither has a revision: their parts are written on their own.
                    let entry = match key {
                        Key::Device(_) => Entry::Device(item::decode_device(&pk, parts)?),
                        _ => Entry::Room(item::decode_room(&pk, parts)?),
                    };
                    return Ok(Loaded {
                        entry: (!parts.is_empty()).then_some(entry),
                        rev: None,
                    });
                }
                if *key == Key::Lobby {
                    // Neither has the lobby: each connection's item is written on its own.
                    let mut parts: Vec<Item> = found.get(&pk).into_iter().cloned().collect();
                    for n in 0..item::LOBBY_PARTITIONS {
                        let partition = partitions.get(&format!("lobby#{n}"));
                        parts.extend(partition.into_iter().flatten().cloned());
                    }
                    let lobby = item::decode_lobby(&parts)?;
                    return Ok(Loaded {
                        entry: (!parts.is_empty()).then_some(Entry::Lobby(lobby)),
                        rev: None,
                    });
                }
                match found.get(&pk) {
                    Some(item) => {
                        let (entry, rev) = item::decode(&pk, item)?;
                        Ok(Loaded {
                            entry: Some(entry),
                            rev: Some(rev),
                        })
                    }
                    None => Ok(Loaded::default()),
                }
            })
            .collect()
    }
}
