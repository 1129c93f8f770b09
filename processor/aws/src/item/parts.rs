//! The items of parts: a room's members, a device's watchers and the lobby's connections, each
//! an item of its own in its whole's partition (the layout is in [`super`]), and the wholes read
//! back from a partition's items.

use super::attrs::{corrupt, decode, get_n, get_s, key_of, n, Item, SK};
use crate::store_port::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use projections::{
    ConnSummary, DeviceState, Entry, Key, LobbyState, Lww, Membership, Merge, Min, RoomState,
};
use std::collections::HashMap;

/// The prefix of a room member's sort key, as WebSocket `join` and `leave` write it.
pub const MEMBER: &str = "member#";

/// The prefix of a room member's sort key, as MQTT subscriptions to the room's topic write it.
pub const SUBSCRIBER: &str = "subscriber#";

/// The prefix of a device watcher's sort key.
pub const WATCHER: &str = "watcher#";

/// Partitions of the lobby: a broadcast reads them all, and connects and disconnects spread over
/// them (DynamoDB takes about 1,000 writes a second to one partition key).
pub const LOBBY_PARTITIONS: u64 = 16;

/// The prefix of a connection's sort key in the lobby.
pub const IN_LOBBY: &str = "conn#";

/// The lobby partition of a connection: FNV-1a of its id, so every release and every process
/// puts it in the same one.
pub fn lobby_partition(connection_id: &str) -> String {
    let hash = connection_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("lobby#{}", hash % LOBBY_PARTITIONS)
}

/// The primary key of a part's item (a room's member, a device's watcher, a connection of the
/// lobby), or `None` for a key that is no part.
pub fn part_key(key: &Key) -> Option<Item> {
    Some(match key {
        Key::Member { room, client } => member_key(room, MEMBER, client),
        Key::Subscriber { room, client } => member_key(room, SUBSCRIBER, client),
        Key::Watcher { device, connection } => HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("device#{device}")),
            ),
            (
                "sk".to_owned(),
                AttributeValue::S(format!("{WATCHER}{connection}")),
            ),
        ]),
        Key::Message {
            room,
            sent_at,
            event_id,
        } => super::timeline::message_key(room, *sent_at, *event_id),
        Key::InLobby(id) => HashMap::from([
            ("pk".to_owned(), AttributeValue::S(lobby_partition(id))),
            (
                "sk".to_owned(),
                AttributeValue::S(format!("{IN_LOBBY}{id}")),
            ),
        ]),
        _ => return None,
    })
}

fn member_key(room: &str, prefix: &str, client: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("room#{room}"))),
        (
            "sk".to_owned(),
            AttributeValue::S(format!("{prefix}{client}")),
        ),
    ])
}

/// The key of a room member's item ([`Key::Member`] or [`Key::Subscriber`]), if `item` is one.
pub fn member_of(item: &Item) -> Option<Key> {
    let room = get_s(item, "pk")?.strip_prefix("room#")?.to_owned();
    let sk = get_s(item, "sk")?;
    if let Some(client) = sk.strip_prefix(MEMBER) {
        return Some(Key::Member {
            room,
            client: client.to_owned(),
        });
    }
    let client = sk.strip_prefix(SUBSCRIBER)?.to_owned();
    Some(Key::Subscriber { room, client })
}

/// The room stored as the items of its partition: its members, and a whole room an earlier
/// release wrote (`sk` = `state`), joined. Other items are not the room's and are skipped.
///
/// # Errors
/// A member or a whole room that does not decode.
pub fn decode_room(pk: &str, items: &[Item]) -> Result<RoomState, StoreError> {
    let mut room = RoomState::default();
    for item in items {
        match get_s(item, "sk") {
            Some(SK) => match decode(pk, item)? {
                (Entry::Room(whole), _) => room.join(&whole),
                (other, _) => return Err(corrupt(pk, format!("not a room: {other:?}"))),
            },
            _ => {
                if let Some((_, client)) = member_of(item).as_ref().and_then(Key::member) {
                    room.add(client, &decode_member(pk, item)?);
                }
            }
        }
    }
    Ok(room)
}

/// A member's register, from its item.
///
/// # Errors
/// A missing `ts`, or a `membership` other than `joined` or `left`.
pub fn decode_member(pk: &str, item: &Item) -> Result<Lww<Membership>, StoreError> {
    let ts = get_n(item, "ts").ok_or_else(|| corrupt(pk, "member without a numeric `ts`"))?;
    let value = match get_s(item, "membership") {
        Some("joined") => Membership::Joined,
        Some("left") => Membership::Left,
        other => return Err(corrupt(pk, format!("member with membership {other:?}"))),
    };
    Ok(Lww::new(ts, value))
}

/// How long after its write a member that left may go from the table ([`encode_member`]'s `ttl`):
/// no record that could overrule it (a join older than the leave) can come later. A connection's
/// records all fall within its two hours, and none is read more than the tombstone retention
/// (Kinesis keeps records a day) after it happened; so a join older than the leave is never read
/// later than the leave's time plus both.
pub fn left_member_lifetime_ms(config: &projections::Config) -> u64 {
    config
        .tombstone_retention_ms
        .saturating_add(config.connection_max_age_ms)
}

/// The item of one room member (`key`, a [`Key::Member`] or [`Key::Subscriber`]): its register
/// as plain attributes, and for one that left, `ttl` = its time plus `left_lifetime_ms`
/// ([`left_member_lifetime_ms`]), in seconds.
pub fn encode_member(key: &Key, write: &Lww<Membership>, left_lifetime_ms: u64) -> Item {
    let mut item = part_key(key).unwrap_or_else(|| key_of(key.to_string()));
    if write.value == Membership::Left {
        item.insert(
            "ttl".into(),
            n(write.ts.saturating_add(left_lifetime_ms) / 1000),
        );
    }
    let membership = match write.value {
        Membership::Joined => "joined",
        Membership::Left => "left",
    };
    item.insert("ts".into(), n(write.ts));
    item.insert("membership".into(), AttributeValue::S(membership.into()));
    item
}

/// The condition on which a member's register `write` replaces the stored one: none is stored,
/// or it is older by [`Lww`]'s order (a later `ts`; at equal `ts`, leaving wins). A failed
/// condition means the store already holds the join of both. Attribute names go through `#ts`
/// and `#m`, whatever DynamoDB reserves.
pub fn member_condition(write: &Lww<Membership>) -> Condition {
    let mut values = HashMap::from([(":ts".to_owned(), n(write.ts))]);
    let mut names = HashMap::from([("#ts".to_owned(), "ts".to_owned())]);
    let expression = match write.value {
        Membership::Joined => "attribute_not_exists(pk) OR #ts < :ts",
        Membership::Left => {
            values.insert(":joined".into(), AttributeValue::S("joined".into()));
            names.insert("#m".into(), "membership".into());
            "attribute_not_exists(pk) OR #ts < :ts OR (#ts = :ts AND #m = :joined)"
        }
    };
    Condition {
        expression,
        names,
        values,
    }
}

/// A condition expression with its attribute names and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The expression.
    pub expression: &'static str,
    /// `#name` to attribute name; only those the expression uses.
    pub names: HashMap<String, String>,
    /// `:value` to value.
    pub values: Item,
}

/// The item of one watcher of a device: when the connection last listed it (`listedAt`, ms), and
/// `ttl` = `listedAt` + 2 hours in seconds, when API Gateway has closed the connection for sure.
pub fn encode_watcher(device: &str, connection: &str, listed_at: u64) -> Item {
    let watcher = Key::Watcher {
        device: device.to_owned(),
        connection: connection.to_owned(),
    };
    let mut item = part_key(&watcher).unwrap_or_else(|| key_of(watcher.to_string()));
    item.insert("listedAt".into(), n(listed_at));
    item.insert("ttl".into(), n(listed_at / 1000 + 2 * 3600));
    item
}

/// The device stored as the items of its partition: its watchers, and a whole device an
/// earlier release wrote (`sk` = `state`), joined. Other items are skipped.
///
/// # Errors
/// A watcher without a numeric `listedAt`, or a whole device that does not decode.
pub fn decode_device(pk: &str, items: &[Item]) -> Result<DeviceState, StoreError> {
    let mut device = DeviceState::default();
    for item in items {
        match get_s(item, "sk") {
            Some(SK) => match decode(pk, item)? {
                (Entry::Device(whole), _) => device.join(&whole),
                (other, _) => return Err(corrupt(pk, format!("not a device: {other:?}"))),
            },
            Some(sk) => {
                let Some(connection) = sk.strip_prefix(WATCHER) else {
                    continue;
                };
                let at = get_n(item, "listedAt")
                    .ok_or_else(|| corrupt(pk, "watcher without a numeric `listedAt`"))?;
                let listed = device.watchers.entry(connection.to_owned()).or_default();
                *listed = (*listed).max(at);
            }
            None => {}
        }
    }
    Ok(device)
}

/// The item of one connection of the lobby: its summary as plain attributes (`clientId`,
/// `connectedAt`, `closedAt`), and `ttl` = `connectedAt` + 2 hours in seconds, when API Gateway
/// has closed it for sure.
pub fn encode_in_lobby(connection_id: &str, summary: &ConnSummary) -> Item {
    let in_lobby = Key::InLobby(connection_id.to_owned());
    let mut item = part_key(&in_lobby).unwrap_or_else(|| key_of(in_lobby.to_string()));
    if let Some(client) = &summary.client_id {
        item.insert("clientId".into(), AttributeValue::S(client.clone()));
    }
    if let Some(at) = summary.connected_at.0 {
        item.insert("connectedAt".into(), n(at));
        item.insert("ttl".into(), n(at / 1000 + 2 * 3600));
    }
    if let Some(at) = summary.closed_at.0 {
        item.insert("closedAt".into(), n(at));
    }
    item
}

/// The lobby stored as the items of its partitions ([`LOBBY_PARTITIONS`]), and a whole lobby an
/// earlier release wrote (`pk` = `lobby`, `sk` = `state`), joined. Other items are skipped.
///
/// # Errors
/// A whole lobby that does not decode.
pub fn decode_lobby(items: &[Item]) -> Result<LobbyState, StoreError> {
    let mut lobby = LobbyState::default();
    for item in items {
        let (Some(pk), Some(sk)) = (get_s(item, "pk"), get_s(item, "sk")) else {
            continue;
        };
        if pk == "lobby" && sk == SK {
            match decode(pk, item)? {
                (Entry::Lobby(whole), _) => lobby.join(&whole),
                (other, _) => return Err(corrupt(pk, format!("not a lobby: {other:?}"))),
            }
            continue;
        }
        let Some(id) = sk
            .strip_prefix(IN_LOBBY)
            .filter(|_| pk.starts_with("lobby#"))
        else {
            continue;
        };
        let summary = ConnSummary {
            client_id: get_s(item, "clientId").map(str::to_owned),
            connected_at: Min(get_n(item, "connectedAt")),
            closed_at: Min(get_n(item, "closedAt")),
        };
        lobby
            .connections
            .entry(id.to_owned())
            .or_default()
            .join(&summary);
    }
    Ok(lobby)
}
