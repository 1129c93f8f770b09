//! `processor dev` driven by MQTT clients (rumqttc, and raw packets where a library would not
//! misbehave on purpose): seed 000 (socket delivery over MQTT, then push), seed 003 (presence,
//! takeover), the lifecycle events the broker writes, and routing between clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;

use dev_server::mqtt_codec::{self, Packet};
use dev_support::{has, Dev, Mqtt, Ws, DEADLINE};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Seed 000: bob, subscribed over MQTT to his chat topic, gets alice's WebSocket message by
/// socket; once he is gone, the next one goes to push (a JSON line on stdout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_socket_then_push() {
    let dev = Dev::start();
    let mut bob = Mqtt::connect(&dev, "bob").await;
    bob.subscribe("app/bob/chat/42").await;
    dev.wait_client("bob", "in room 42", |c| {
        c["connected"] == true && has(&c["rooms"], "42")
    })
    .await;
    let mut alice = Ws::connect(&dev, "alice").await;
    dev.wait_client("alice", "online", |c| c["online"] == true)
        .await;

    alice
        .send(json!({"action": "sendmessage", "chatId": 42, "message": "lunch?"}))
        .await;
    let (topic, got) = bob.recv().await;
    assert_eq!(topic, "app/bob/chat/42");
    assert_eq!(got["type"], "message");
    assert_eq!(got["from"], "alice");
    assert_eq!(got["chatId"], "42");
    assert_eq!(got["message"], "lunch?");
    assert!(
        dev.stdout.lock().unwrap().is_empty(),
        "no push while bob is connected"
    );

    bob.disconnect().await;
    dev.wait_client("bob", "disconnected", |c| c["connected"] == false)
        .await;
    alice
        .send(json!({"action": "sendmessage", "chatId": 42, "message": "still?"}))
        .await;
    let push = dev
        .wait_stdout("a push to bob", |v| v["channel"] == "push")
        .await;
    assert_eq!(push["clientId"], "bob");
    assert_eq!(push["payload"]["message"], "still?");
    // The sender is not a member; it gets nothing back.
    assert!(alice.try_recv(Duration::from_millis(200)).await.is_none());
}

/// Seed 003: presence flips with connect and disconnect, and survives a takeover by a second
/// connection with the same client id (whose disconnect of the old session comes after the new
/// session's connect).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003_presence_and_takeover() {
    let dev = Dev::start();
    let mut watcher = Mqtt::connect(&dev, "watcher").await;
    watcher.subscribe("$aws/events/presence/+/lamp-1").await;
    dev.wait_client("watcher", "connected", |c| c["connected"] == true)
        .await;

    let first = Mqtt::connect(&dev, "lamp-1").await;
    let c = dev
        .wait_client("lamp-1", "connected", |c| c["connected"] == true)
        .await;
    assert_eq!(c["online"], true);
    first.disconnect().await;
    let c = dev
        .wait_client("lamp-1", "disconnected", |c| c["connected"] == false)
        .await;
    assert_eq!(c["online"], false);
    assert_eq!(c["lastDisconnectReason"], "CLIENT_INITIATED_DISCONNECT");

    let mut old = Mqtt::connect(&dev, "lamp-1").await;
    let new = Mqtt::connect(&dev, "lamp-1").await;
    old.wait_dropped().await;

    // The lifecycle events, in stream order, as the watcher saw them.
    let mut events = Vec::new();
    while events.len() < 5 {
        let (topic, event) = watcher.recv().await;
        assert!(topic.ends_with("/lamp-1"), "{topic}");
        events.push(event);
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "connected",
            "disconnected",
            "connected",
            "connected",
            "disconnected"
        ]
    );
    let (s1, s2, s3) = (&events[0], &events[2], &events[3]);
    assert_eq!(events[1]["sessionIdentifier"], s1["sessionIdentifier"]);
    assert_eq!(events[1]["versionNumber"], s1["versionNumber"]);
    assert_eq!(events[1]["clientInitiatedDisconnect"], true);
    // The takeover: the old session's disconnect after the new session's connect.
    assert_eq!(events[4]["sessionIdentifier"], s2["sessionIdentifier"]);
    assert_eq!(events[4]["versionNumber"], s2["versionNumber"]);
    assert_eq!(events[4]["disconnectReason"], "DUPLICATE_CLIENTID");
    let version = |e: &serde_json::Value| e["versionNumber"].as_u64().unwrap();
    assert!(version(s1) < version(s2) && version(s2) < version(s3));
    let ids: std::collections::HashSet<_> = [s1, s2, s3]
        .iter()
        .map(|e| e["sessionIdentifier"].clone())
        .collect();
    assert_eq!(ids.len(), 3);

    let c = dev
        .wait_client("lamp-1", "connected on the new session", |c| {
            c["connected"] == true && c["sessionId"] == s3["sessionIdentifier"]
        })
        .await;
    assert_eq!(c["versionNumber"], s3["versionNumber"]);
    new.disconnect().await;
    dev.wait_client("lamp-1", "disconnected", |c| c["connected"] == false)
        .await;
}

/// A raw client: CONNECT with a keep-alive, then nothing, then the socket dropped.
async fn raw_connect(dev: &Dev, client_id: &str, keep_alive: u16) -> tokio::net::TcpStream {
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", dev.mqtt))
        .await
        .unwrap();
    let mut out = bytes::BytesMut::new();
    mqtt_codec::encode(
        &Packet::Connect {
            client_id: client_id.into(),
            keep_alive,
            clean_session: true,
        },
        &mut out,
    )
    .unwrap();
    socket.write_all(&out).await.unwrap();
    let mut connack = [0u8; 4];
    tokio::time::timeout(DEADLINE, socket.read_exact(&mut connack))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0]);
    socket
}

/// `CONNECTION_LOST` when the socket closes without DISCONNECT, `MQTT_KEEP_ALIVE_TIMEOUT` when
/// nothing arrives for 1.5 x keep-alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_and_keep_alive() {
    let dev = Dev::start();
    let socket = raw_connect(&dev, "sensor-1", 0).await;
    dev.wait_client("sensor-1", "connected", |c| c["connected"] == true)
        .await;
    drop(socket);
    let c = dev
        .wait_client("sensor-1", "lost", |c| c["connected"] == false)
        .await;
    assert_eq!(c["lastDisconnectReason"], "CONNECTION_LOST");

    let _quiet = raw_connect(&dev, "sensor-2", 1).await;
    dev.wait_client("sensor-2", "connected", |c| c["connected"] == true)
        .await;
    let c = dev
        .wait_client("sensor-2", "timed out", |c| c["connected"] == false)
        .await;
    assert_eq!(c["lastDisconnectReason"], "MQTT_KEEP_ALIVE_TIMEOUT");
}

/// PUBLISH between clients with `+` and `#` filters; unsubscribing stops delivery and is a
/// lifecycle event too (the topics leave the projection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_between_clients() {
    let dev = Dev::start();
    let mut plus = Mqtt::connect(&dev, "sub-plus").await;
    let mut hash = Mqtt::connect(&dev, "sub-hash").await;
    plus.subscribe("home/+/temp").await;
    hash.subscribe("home/#").await;
    dev.wait_client("sub-plus", "subscribed", |c| {
        has(&c["topics"], "home/+/temp")
    })
    .await;
    dev.wait_client("sub-hash", "subscribed", |c| has(&c["topics"], "home/#"))
        .await;
    let publisher = Mqtt::connect(&dev, "pub").await;
    publisher
        .publish("home/kitchen/temp", json!({"c": 20}))
        .await;
    assert_eq!(
        plus.recv().await,
        ("home/kitchen/temp".into(), json!({"c": 20}))
    );
    assert_eq!(
        hash.recv().await,
        ("home/kitchen/temp".into(), json!({"c": 20}))
    );
    publisher.publish("home/door", json!("open")).await;
    assert_eq!(hash.recv().await, ("home/door".into(), json!("open")));

    hash.client.unsubscribe("home/#").await.unwrap();
    dev.wait_client("sub-hash", "unsubscribed", |c| !has(&c["topics"], "home/#"))
        .await;
    publisher.publish("home/hall/temp", json!({"c": 18})).await;
    assert_eq!(plus.recv().await.0, "home/hall/temp");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), hash.publishes.recv())
            .await
            .is_err()
    );
}

/// A protocol violation (QoS 2, which the broker does not support) ends the session as the
/// client's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_are_client_errors() {
    let dev = Dev::start();
    let mut socket = raw_connect(&dev, "rogue", 0).await;
    dev.wait_client("rogue", "connected", |c| c["connected"] == true)
        .await;
    // PUBLISH at QoS 2: topic "a", packet id 1.
    socket
        .write_all(&[0x34, 0x05, 0x00, 0x01, b'a', 0x00, 0x01])
        .await
        .unwrap();
    let c = dev
        .wait_client("rogue", "disconnected", |c| c["connected"] == false)
        .await;
    assert_eq!(c["lastDisconnectReason"], "CLIENT_ERROR");
}
