//! The workloads of the DynamoDB cost benchmark (`scripts/bench/dynamodb-cost`), as records with
//! their partition keys, and what the layout of the seed handlers this project replaces would
//! cost on them, counted by the same rules as the processor counts its own calls.

use crate::aws::{ws_connect, ws_message};
use crate::workload::{iot_lifecycle_lines, Rng};
use serde_json::json;

/// One record for the stream, with the partition key its source would give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// The partition key: the connection id for WebSocket records, the client id for IoT's.
    pub key: String,
    /// The record, as its source writes it.
    pub line: String,
}

/// The first record's time.
const T0: u64 = 1_732_350_000_000;

/// A WebSocket fleet: `connections` clients (`u0`, `u1`, ...) connect, one connection each
/// (`c0`, ...), and each joins one of `rooms` rooms (`r0`, ...); then `messages` chat messages,
/// each from a connection drawn at random to its own room. A record a millisecond.
pub fn websocket_fleet(connections: usize, rooms: usize, messages: usize) -> Vec<Put> {
    let mut out = Vec::with_capacity(2 * connections + messages);
    let mut t = T0;
    let mut tick = || {
        t += 1;
        t
    };
    let connected_at: Vec<u64> = (0..connections)
        .map(|i| {
            let at = tick();
            out.push(Put {
                key: format!("c{i}"),
                line: ws_connect(&format!("c{i}"), &format!("u{i}"), at),
            });
            at
        })
        .collect();
    let room_of = |i: usize| format!("r{}", i % rooms.max(1));
    for (i, at) in connected_at.iter().enumerate() {
        let body = json!({"action":"join","chatId":room_of(i)});
        out.push(Put {
            key: format!("c{i}"),
            line: ws_message(&format!("c{i}"), *at, tick(), body),
        });
    }
    let mut rng = Rng::new(7);
    for n in 0..messages {
        let i = rng.below(connections as u64) as usize;
        let body =
            json!({"action":"sendmessage","chatId":room_of(i),"message":format!("message {n}")});
        out.push(Put {
            key: format!("c{i}"),
            line: ws_message(&format!("c{i}"), connected_at[i], tick(), body),
        });
    }
    out
}

/// The IoT lifecycle workload ([`iot_lifecycle_lines`]), keyed by client id as the IoT rule
/// keys it.
pub fn iot_lifecycle(events: usize, clients: usize) -> Vec<Put> {
    iot_lifecycle_lines(events, clients, 11)
        .into_iter()
        .map(|line| {
            let key = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["clientId"].as_str().map(str::to_owned))
                .unwrap_or_default();
            Put { key, line }
        })
        .collect()
}

/// What a layout's DynamoDB calls cost on a workload.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayoutCost {
    /// Calls.
    pub requests: u64,
    /// Read units.
    pub read_units: f64,
    /// Write units.
    pub write_units: f64,
}

/// Seed 001's layout on a WebSocket workload: a `connections` table of `{connectionId}` items,
/// one PutItem per `$connect`, one DeleteItem per `$disconnect`, and a Scan of the whole table
/// (eventually consistent, as a Scan is by default) per `sendmessage`; it has no rooms, so a
/// `join` costs nothing.
pub fn seed_001_cost(puts: &[Put]) -> LayoutCost {
    let mut cost = LayoutCost::default();
    // Each item's size: the attribute's name and the id's bytes.
    let mut table_bytes: u64 = 0;
    for put in puts {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&put.line) else {
            continue;
        };
        let conn = v["connectionId"].as_str().unwrap_or_default();
        let item = ("connectionId".len() + conn.len()) as u64;
        match (v["eventType"].as_str(), v["routeKey"].as_str()) {
            (Some("CONNECT"), _) => {
                cost.requests += 1;
                cost.write_units += item.div_ceil(1024) as f64;
                table_bytes += item;
            }
            (Some("DISCONNECT"), _) => {
                cost.requests += 1;
                cost.write_units += item.div_ceil(1024) as f64;
                table_bytes = table_bytes.saturating_sub(item);
            }
            (Some("MESSAGE"), Some("sendmessage")) => {
                // A Scan reads 1 MB a page and is charged per started 4 KB of what it read.
                let pages = table_bytes.div_ceil(1 << 20).max(1);
                cost.requests += pages;
                cost.read_units += table_bytes.div_ceil(4096).max(1) as f64 / 2.0;
            }
            _ => {}
        }
    }
    cost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_has_its_connections_joins_and_messages_and_every_record_decodes() {
        let puts = websocket_fleet(100, 8, 10);
        assert_eq!(puts.len(), 210);
        for put in &puts {
            assert!(
                schemas::decode_json(put.line.as_bytes()).is_ok(),
                "{}",
                put.line
            );
            assert!(put.key.starts_with('c'));
        }
        assert_eq!(puts, websocket_fleet(100, 8, 10));
    }

    #[test]
    fn seed_001_writes_a_unit_per_connect_and_scans_the_table_per_message() {
        let puts = websocket_fleet(1000, 8, 4);
        let cost = seed_001_cost(&puts);
        assert_eq!(cost.requests, 1000 + 4);
        assert_eq!(cost.write_units, 1000.0);
        // About 16 bytes an item: 1000 items are four 4 KB pages, half a unit each.
        assert_eq!(cost.read_units, 4.0 * 2.0);
        assert!(iot_lifecycle(100, 10)
            .iter()
            .all(|p| p.key.starts_with("device-")));
    }
}
