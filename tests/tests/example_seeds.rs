//! The README's example (`examples/seeds.jsonl`) does every seed's job: this pins what it derives,
//! so the README's description of the expected output stays true.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use projections::{Config, World};

fn run() -> (
    World,
    Vec<projections::Delivery>,
    Vec<(usize, schemas::DecodeError)>,
) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/seeds.jsonl"
    ))
    .unwrap();
    let mut world = World::in_memory(Config::default());
    let (mut deliveries, mut bad) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        match schemas::decode_json(line.as_bytes()) {
            Ok(record) => deliveries.extend(world.apply(&record)),
            Err(e) => bad.push((i + 1, e)),
        }
    }
    (world, deliveries, bad)
}

#[test]
fn the_example_derives_what_the_readme_says() {
    let (world, deliveries, bad) = run();

    // One bad line, reported by number and field.
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].0, 19);
    assert!(bad[0].1.to_string().contains("timestamp"), "{}", bad[0].1);

    let summary: Vec<(String, String, String)> = deliveries
        .iter()
        .map(|d| {
            let what = match d.payload["type"].as_str() {
                Some("message") => d.payload["message"].as_str().unwrap().to_owned(),
                other => format!("({})", other.unwrap()),
            };
            (
                d.channel.name().to_owned(),
                d.channel.target().to_owned(),
                what,
            )
        })
        .collect();
    let expected = [
        ("mqtt", "app/bob/chat/42", "Bob, are you there?"),
        ("websocket", "alice-conn", "hello everyone"),
        ("websocket", "carol-conn", "(usage)"),
        ("websocket", "carol-conn", "(telemetry)"),
        ("push", "bob", "I'll send you a push, then."),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(summary, expected);

    let p = |id: &str| world.client(id).unwrap();
    // Seed 003: connected despite the older session's later-arriving disconnect.
    assert!(p("greengrass_core").connected);
    assert_eq!(
        p("greengrass_core").session_id.as_deref(),
        Some("6b77c891-576f-47dd-b44c-000000000001")
    );
    // Takeover: the new session is current.
    assert!(p("sensor-7").connected);
    assert_eq!(p("sensor-7").version_number, Some(6));
    // Seed 000: bob is offline now, still a member of room 42.
    assert!(!p("bob").online);
    assert_eq!(p("bob").rooms, ["42"]);
    assert_eq!(
        p("bob").last_disconnect_reason.as_deref(),
        Some("MQTT_KEEP_ALIVE_TIMEOUT")
    );
    // Seed 001/002: alice still connected by WebSocket; carol closed her tab.
    assert!(p("alice").online && !p("alice").connected);
    assert!(!p("carol").online);
    // A refused connection is recorded but changes no presence.
    assert!(!p("mallory").online);
    assert_eq!(world.clients().len(), 6);
}
