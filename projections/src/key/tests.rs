//! Unit tests of `key`.

use super::*;

#[test]
fn keys_round_trip_through_strings() {
    for key in [
        Key::Client("a#b".into()),
        Key::Connection("c=".into()),
        Key::Room("42".into()),
        Key::Device("d1".into()),
        Key::History {
            room: "r 1".into(),
            since: 0,
        },
        Key::Lobby,
        Key::Watermark,
        Key::Pending("shardId-000000000001".into()),
        Key::Pending("*".into()),
    ] {
        assert_eq!(key.to_string().parse::<Key>().unwrap(), key);
    }
    assert!("nope#x".parse::<Key>().is_err());
    assert!("client#".parse::<Key>().is_err());
}

#[test]
fn a_room_stored_before_it_kept_its_newest_write_still_reads() {
    // A room item as stores wrote it before `RoomState::updated_at` existed.
    #[derive(Serialize)]
    enum OldEntry {
        #[allow(dead_code)]
        Client(()),
        #[allow(dead_code)]
        Connection(()),
        Room(OldRoom),
    }
    #[derive(Serialize)]
    struct OldRoom {
        members: std::collections::BTreeMap<String, crate::Lww<crate::Membership>>,
    }
    let members = [(
        "c1".to_owned(),
        crate::Lww::new(5, crate::Membership::Joined),
    )];
    let old = OldEntry::Room(OldRoom {
        members: members.into_iter().collect(),
    });
    let mut bytes = Vec::new();
    rmp_serde::encode::write(&mut bytes, &old).unwrap();
    let Entry::Room(room) = rmp_serde::from_slice::<Entry>(&bytes).unwrap() else {
        panic!("not a room")
    };
    assert_eq!(room.updated_at, 0, "forgets nothing until its next write");
    assert_eq!(room.joined().collect::<Vec<_>>(), ["c1"]);
}

#[test]
fn clients_and_connections_stored_before_they_kept_their_stamped_time_still_read() {
    use crate::{ClientState, ConnectionState};
    // The entries as stores wrote them before `stamped_at` existed: the same fields, one
    // fewer at the end.
    #[derive(Serialize)]
    enum OldEntry {
        Client(OldClient),
        Connection(OldConnection),
    }
    type Rooms = crate::vecmap::VecMap<crate::Lww<crate::Membership>>;
    #[derive(Serialize)]
    struct OldClient(
        crate::sessions::Sessions,
        std::collections::BTreeMap<String, crate::ConnSummary>,
        Rooms,
        Option<crate::Lww<String>>,
        u64,
        bool,
    );
    #[derive(Serialize)]
    struct OldConnection(
        crate::ConnSummary,
        Option<crate::Lww<Vec<String>>>,
        Option<String>,
        Rooms,
        u64,
    );
    let decode = |old: &OldEntry| {
        let mut bytes = Vec::new();
        rmp_serde::encode::write(&mut bytes, old).unwrap();
        rmp_serde::from_slice::<Entry>(&bytes).unwrap()
    };
    let c = ClientState::default();
    let old = OldEntry::Client(OldClient(c.sessions, c.connections, c.rooms, None, 7, true));
    let Entry::Client(client) = decode(&old) else {
        panic!("not a client")
    };
    assert_eq!(
        (client.updated_at, client.seen, client.stamped_at),
        (7, true, 0)
    );
    let c = ConnectionState::default();
    let old = OldEntry::Connection(OldConnection(c.summary, None, None, c.rooms, 9));
    let Entry::Connection(conn) = decode(&old) else {
        panic!("not a connection")
    };
    assert_eq!((conn.last_ts, conn.stamped_at), (9, 0));
}
