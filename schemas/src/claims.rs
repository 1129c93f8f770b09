//! What a connection's token lets it do, as the `$connect` authorizer hands it to API Gateway:
//! the `rooms`, `devices` and `broadcast` keys of its context map, which API Gateway gives every
//! route of the connection as `$context.authorizer.*`, and ingest copies into each record.
//!
//! A context map with none of these keys comes from no authorizer (anonymous development) or from
//! one that leaves authorization to itself: the record is not bounded. A map with any of them is
//! bounded by all three, a missing one granting nothing, so that a token without a `rooms` claim
//! joins no room.

use std::collections::BTreeMap;

/// The context key of the rooms a connection may join, send to and read (a JSON array of room
/// ids, and prefixes ending in `*`, as a string: context values cannot be lists).
pub const ROOMS_KEY: &str = "rooms";
/// The context key of the devices a connection may watch (a JSON array of ids and prefixes).
pub const DEVICES_KEY: &str = "devices";
/// The context key of whether a connection may send a message without a room, to everyone.
pub const BROADCAST_KEY: &str = "broadcast";

/// The grants of a token: rooms, devices, broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    /// Room ids, and prefixes ending in `*` (`team-7/*`; `*` alone is every room).
    pub rooms: Vec<String>,
    /// Device ids, and prefixes ending in `*`.
    pub devices: Vec<String>,
    /// Whether a message without a room is allowed.
    pub broadcast: bool,
}

impl Claims {
    /// The claims a record's authorizer context carries, or `None` if it carries none (the
    /// record is not bounded). A value that does not parse grants nothing: a bounded record never
    /// becomes an unbounded one by a malformed context.
    pub fn of(authorizer: &BTreeMap<String, String>) -> Option<Claims> {
        let (rooms, devices, broadcast) = (
            authorizer.get(ROOMS_KEY),
            authorizer.get(DEVICES_KEY),
            authorizer.get(BROADCAST_KEY),
        );
        if rooms.is_none() && devices.is_none() && broadcast.is_none() {
            return None;
        }
        let list = |v: Option<&String>| -> Vec<String> {
            v.and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default()
        };
        Some(Claims {
            rooms: list(rooms),
            devices: list(devices),
            broadcast: broadcast.is_some_and(|b| b == "true"),
        })
    }

    /// The context entries an authorizer returns for these claims (all three keys, always).
    pub fn to_context(&self) -> BTreeMap<String, String> {
        let list = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        BTreeMap::from([
            (ROOMS_KEY.to_owned(), list(&self.rooms)),
            (DEVICES_KEY.to_owned(), list(&self.devices)),
            (BROADCAST_KEY.to_owned(), self.broadcast.to_string()),
        ])
    }

    /// Whether the room is granted: named, or under a granted prefix.
    pub fn allows_room(&self, room: &str) -> bool {
        grants(&self.rooms, room)
    }

    /// Whether the device is granted: named, or under a granted prefix.
    pub fn allows_device(&self, device: &str) -> bool {
        grants(&self.devices, device)
    }
}

/// Whether `id` is one of `granted`, or starts with one of them that ends in `*` (without it).
fn grants(granted: &[String], id: &str) -> bool {
    granted.iter().any(|g| match g.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => g == id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_context_without_claim_keys_is_not_bounded() {
        assert_eq!(Claims::of(&context(&[("principalId", "alice")])), None);
        assert_eq!(Claims::of(&BTreeMap::new()), None);
    }

    #[test]
    fn any_claim_key_bounds_by_all_three() {
        let claims = Claims::of(&context(&[("rooms", r#"["r1","team-7/*"]"#)])).unwrap();
        assert!(claims.allows_room("r1"));
        assert!(claims.allows_room("team-7/general"));
        assert!(claims.allows_room("team-7/"));
        assert!(!claims.allows_room("team-70"));
        assert!(!claims.allows_room("r10"));
        assert!(!claims.allows_device("d1"));
        assert!(!claims.broadcast);
    }

    #[test]
    fn a_malformed_value_grants_nothing() {
        let claims = Claims::of(&context(&[("rooms", "r1,r2"), ("broadcast", "yes")])).unwrap();
        assert_eq!(claims, Claims::default());
    }

    #[test]
    fn a_lone_star_grants_every_id() {
        let claims = Claims {
            devices: vec!["*".into()],
            ..Claims::default()
        };
        assert!(claims.allows_device("anything"));
        assert!(!claims.allows_room("anything"));
    }

    #[test]
    fn the_context_round_trips() {
        let claims = Claims {
            rooms: vec!["r1".into(), "a\"b,c".into()],
            devices: vec!["d*".into()],
            broadcast: true,
        };
        assert_eq!(Claims::of(&claims.to_context()), Some(claims));
    }
}
