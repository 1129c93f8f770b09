//! `processor dev` driven by WebSocket clients (tokio-tungstenite) and, for telemetry, an MQTT
//! device (rumqttc): seeds 001 and 002, the `@connections` API, presence over HTTP, and a
//! restart on the same store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;
mod support;

use dev_support::{has, http, Dev, Mqtt, Ws};
use serde_json::json;
use std::time::Duration;

/// Seed 001: a chat where every connected client but the sender gets each message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_broadcast_excludes_the_sender() {
    let dev = Dev::start();
    let mut alice = Ws::connect(&dev, "alice").await;
    let mut bob = Ws::connect(&dev, "bob").await;
    for id in ["alice", "bob"] {
        dev.wait_client(id, "online", |c| c["online"] == true).await;
    }

    alice
        .send(json!({"action": "sendmessage", "message": "hi bob"}))
        .await;
    let got = bob.recv().await;
    assert_eq!(got["type"], "message");
    assert_eq!(got["from"], "alice");
    assert_eq!(got["message"], "hi bob");

    bob.send(json!({"action": "sendmessage", "message": "hi alice"}))
        .await;
    // The first thing alice receives is bob's message, not her own.
    let got = alice.recv().await;
    assert_eq!(got["from"], "bob");
    assert_eq!(got["message"], "hi alice");
    assert!(bob.try_recv(Duration::from_millis(200)).await.is_none());

    // Not JSON, or an unknown action: `$default` answers the sender with usage.
    alice.send_text("hello?").await;
    let usage = alice.recv().await;
    assert_eq!(usage["type"], "usage");
    alice.send(json!({"action": "dance"})).await;
    let usage = alice.recv().await;
    assert_eq!(usage["type"], "usage");
    assert_eq!(usage["action"], "dance");
    assert!(bob.try_recv(Duration::from_millis(200)).await.is_none());
}

/// Seed 002: a WebSocket client's notify list, and telemetry a device publishes over MQTT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_telemetry_reaches_watchers() {
    let dev = Dev::start();
    let mut carol = Ws::connect(&dev, "carol").await;
    let mut dave = Ws::connect(&dev, "dave").await;
    carol
        .send(json!({"action": "set_notify_list", "devices": ["thermostat-1"]}))
        .await;
    dev.wait_client("carol", "watching thermostat-1", |c| {
        has(&c["watching"], "thermostat-1")
    })
    .await;
    dev.wait_client("dave", "online", |c| c["online"] == true)
        .await;

    let device = Mqtt::connect(&dev, "thermostat-1").await;
    // Carol hears her device come online, then its telemetry.
    let heard = carol.recv().await;
    assert_eq!(heard["type"], "presence", "{heard}");
    assert_eq!(heard["event"], "connected");
    device
        .publish(
            "devices/thermostat-1/params",
            json!({"temp": 21.5, "mode": "heat"}),
        )
        .await;
    let got = carol.recv().await;
    assert_eq!(got["type"], "telemetry");
    assert_eq!(got["deviceId"], "thermostat-1");
    assert_eq!(got["params"], json!({"temp": 21.5, "mode": "heat"}));
    // Dave watches nothing; another device's telemetry reaches nobody.
    device
        .publish("devices/thermostat-2/params", json!({"temp": 5}))
        .await;
    assert!(dave.try_recv(Duration::from_millis(300)).await.is_none());
    assert!(carol.try_recv(Duration::from_millis(100)).await.is_none());

    // Replacing the list stops the old device's telemetry.
    carol
        .send(json!({"action": "set_notify_list", "devices": ["thermostat-2"]}))
        .await;
    dev.wait_client("carol", "watching thermostat-2", |c| {
        has(&c["watching"], "thermostat-2") && !has(&c["watching"], "thermostat-1")
    })
    .await;
    device
        .publish("devices/thermostat-1/params", json!({"temp": 22}))
        .await;
    device
        .publish("devices/thermostat-2/params", json!({"temp": 6}))
        .await;
    let got = carol.recv().await;
    assert_eq!(got["deviceId"], "thermostat-2");
    device.disconnect().await;
}

/// A room's members chat; a client that joins later reads the room's history with `history`,
/// oldest first, a page at a time; a client that is no member gets a usage reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_reads_the_rooms_history() {
    let dev = Dev::start();
    let mut alice = Ws::connect(&dev, "alice").await;
    let mut bob = Ws::connect(&dev, "bob").await;
    for ws in [&mut alice, &mut bob] {
        ws.send(json!({"action": "join", "chatId": "lobby-7"}))
            .await;
    }
    dev.wait_client("bob", "in lobby-7", |c| has(&c["rooms"], "lobby-7"))
        .await;
    for text in ["one", "two", "three"] {
        alice
            .send(json!({"action": "sendmessage", "chatId": "lobby-7", "message": text}))
            .await;
        let got = bob.recv().await;
        assert_eq!(got["message"], text);
        // Each message its own millisecond: a page ends after the last time it holds.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }

    let mut carol = Ws::connect(&dev, "carol").await;
    carol
        .send(json!({"action": "history", "chatId": "lobby-7", "since": 0}))
        .await;
    let refused = carol.recv().await;
    assert_eq!(refused["type"], "usage", "{refused}");
    assert_eq!(refused["action"], "history");

    carol
        .send(json!({"action": "join", "chatId": "lobby-7"}))
        .await;
    carol
        .send(json!({"action": "history", "chatId": "lobby-7", "since": 0, "limit": 2}))
        .await;
    let page = carol.recv().await;
    assert_eq!(page["type"], "history", "{page}");
    assert_eq!(page["chatId"], "lobby-7");
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(page["more"], true);
    assert_eq!(page["messages"][0]["from"], "alice");
    let after = page["messages"][1]["sentAt"].as_u64().unwrap();
    carol
        .send(json!({"action": "history", "chatId": "lobby-7", "since": after}))
        .await;
    let rest = carol.recv().await;
    assert_eq!(rest["messages"].as_array().map(Vec::len), Some(1), "{rest}");
    assert_eq!(rest["messages"][0]["message"], "three");
    assert_eq!(rest["more"], false);
}

/// Presence over HTTP flips with a WebSocket connection's connect and close; GET /clients lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_presence_flips() {
    let dev = Dev::start();
    assert_eq!(dev.get("/clients/erin").0, 404);
    let erin = Ws::connect(&dev, "erin").await;
    let c = dev
        .wait_client("erin", "online", |c| c["online"] == true)
        .await;
    assert_eq!(c["connected"], false, "not IoT-connected: {c}");
    assert_eq!(c["connections"].as_array().map(Vec::len), Some(1));
    let (status, all) = dev.get("/clients");
    assert_eq!(status, 200);
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["clientId"] == "erin"));
    let online_seen = c["lastSeen"].as_u64().expect("lastSeen while online");
    erin.close().await;
    let c = dev
        .wait_client("erin", "offline", |c| c["online"] == false)
        .await;
    // Last seen at her `$disconnect`, no earlier than the last time she was seen online.
    let last_seen = c["lastSeen"].as_u64().expect("lastSeen once offline");
    assert!(last_seen >= online_seen, "{c}");

    // No clientId: refused, as ingest refuses it (401).
    let refused = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/", dev.ws)).await;
    assert!(refused.is_err());
}

/// `@connections`: POST sends to the socket, GET describes it, DELETE closes it (and
/// `$disconnect` follows), 410 for a gone id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_api() {
    let dev = Dev::start();
    let mut frank = Ws::connect(&dev, "frank").await;
    let c = dev
        .wait_client("frank", "online", |c| c["online"] == true)
        .await;
    let id = c["connections"][0].as_str().unwrap().to_owned();

    let (status, _) = http(
        dev.http,
        "POST",
        &format!("/@connections/{id}"),
        br#"{"x":1}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(frank.recv().await, json!({"x": 1}));
    // With a stage in the path, as an SDK client configured with the stage URL calls it.
    let (status, _) = http(
        dev.http,
        "POST",
        &format!("/local/@connections/{id}"),
        b"[2]",
    );
    assert_eq!(status, 200);
    assert_eq!(frank.recv().await, json!([2]));

    let (status, body) = http(dev.http, "GET", &format!("/@connections/{id}"), b"");
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(info["connectedAt"].as_str().unwrap().ends_with('Z'));
    assert!(info["lastActiveAt"].is_string());
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");

    let (status, _) = http(dev.http, "DELETE", &format!("/@connections/{id}"), b"");
    assert_eq!(status, 204);
    assert!(frank.try_recv(Duration::from_secs(5)).await.is_none());
    dev.wait_client("frank", "offline", |c| c["online"] == false)
        .await;
    for method in ["POST", "GET", "DELETE"] {
        let (status, body) = http(dev.http, method, &format!("/@connections/{id}"), b"{}");
        assert_eq!(status, 410, "{method}: {body}");
        assert!(body.contains("GoneException"));
    }
}

/// The Lambda processor's own WebSocket sink (the AWS SDK's API Gateway Management API client),
/// pointed at dev's `@connections` with a stage in the URL as a deployed stack's is: a delivery
/// reaches the socket, and once the connection is gone the answer is `Gone`, which the processor
/// turns into `connection_gone` feedback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processors_api_gateway_sink_delivers_through_connections() {
    use aws_adapters::sink_port::{DeliveryOutcome, DeliverySink};
    use aws_adapters::sinks::ApiGatewaySink;
    use projections::{Channel, Delivery};

    let dev = Dev::start();
    let mut grace = Ws::connect(&dev, "grace").await;
    let c = dev
        .wait_client("grace", "online", |c| c["online"] == true)
        .await;
    let id = c["connections"][0].as_str().unwrap().to_owned();
    let sink = ApiGatewaySink::new(
        &support::sdk_config(),
        &format!("http://127.0.0.1:{}/local", dev.http),
    );
    let delivery = Delivery::new(
        schemas::EventId(1),
        Channel::WebSocket {
            connection_id: id.clone(),
        },
        Some("grace".into()),
        json!({"type": "message", "from": "heidi", "message": "through @connections"}),
    );
    assert_eq!(sink.deliver(&delivery).await, Ok(DeliveryOutcome::Sent));
    assert_eq!(
        grace.recv().await,
        json!({"type": "message", "from": "heidi", "message": "through @connections"})
    );

    let (status, _) = http(dev.http, "DELETE", &format!("/@connections/{id}"), b"");
    assert_eq!(status, 204);
    assert_eq!(sink.deliver(&delivery).await, Ok(DeliveryOutcome::Gone));
}

/// Ctrl-C stops cleanly (the open socket's `$disconnect` is folded); a restart on the same store
/// continues from what was folded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_continues_from_the_store() {
    let mut dev = Dev::start();
    let mut gina = Ws::connect(&dev, "gina").await;
    gina.send(json!({"action": "join", "chatId": "room-7"}))
        .await;
    dev.wait_client("gina", "in room-7", |c| has(&c["rooms"], "room-7"))
        .await;
    let status = dev.interrupt();
    assert!(
        status.success(),
        "exit: {status:?}; stderr: {:?}",
        dev.stderr
    );
    assert!(dev
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with("dev: folded")));
    assert!(gina.try_recv(Duration::from_secs(5)).await.is_none());

    let dir = dev.take_dir().unwrap();
    let again = Dev::start_in(&dev.store);
    let c = again
        .wait_client("gina", "known after the restart", |_| true)
        .await;
    assert!(has(&c["rooms"], "room-7"), "{c}");
    assert_eq!(c["online"], false, "the socket closed at shutdown: {c}");
    drop(again);
    drop(dir);
}

/// A `processor dev` killed while `ghost` was connected: its directory (kept alive) and store.
async fn crashed_with_a_ghost() -> (tempfile::TempDir, std::path::PathBuf) {
    let mut dev = Dev::start();
    let _ghost = Ws::connect(&dev, "ghost").await;
    dev.wait_client("ghost", "online", |c| c["online"] == true)
        .await;
    dev.kill();
    (dev.take_dir().unwrap(), dev.store.clone())
}

/// After a crash the store still has a connection whose `$disconnect` never came; the first
/// delivery to it finds it gone (410), and the `connection_gone` record written back ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_connection_after_a_crash_is_ended_by_feedback() {
    let (dir, store) = crashed_with_a_ghost().await;
    let again = Dev::start_in(&store);
    // Recovered from the log: the crash wrote no `$disconnect`.
    again
        .wait_client("ghost", "still online after the crash", |c| {
            c["online"] == true
        })
        .await;
    let mut henry = Ws::connect(&again, "henry").await;
    again
        .wait_client("henry", "online", |c| c["online"] == true)
        .await;
    henry
        .send(json!({"action": "sendmessage", "message": "anyone?"}))
        .await;
    again
        .wait_client("ghost", "ended by connection_gone", |c| {
            c["online"] == false
        })
        .await;
    assert!(henry.try_recv(Duration::from_millis(200)).await.is_none());
    drop(again);
    drop(dir);
}

/// After a crash the store still has a connection whose `$disconnect` never came; with no other
/// event, the sweeper finds the gateway no longer has it and ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ghost_after_a_crash_is_ended_by_the_sweep() {
    let (dir, store) = crashed_with_a_ghost().await;
    let again = Dev::start_with(&store, &["--sweep-every", "200ms"]);
    again
        .wait_client("ghost", "ended by the sweep", |c| c["online"] == false)
        .await;
    drop(again);
    drop(dir);
}

/// The gateway closes a connection at its maximum age (2 hours; a hidden flag shortens it here)
/// and writes its `$disconnect`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_closed_at_their_maximum_age() {
    let dev = Dev::start_flags(&["--ws-max-age", "300ms"]);
    let mut ivy = Ws::connect(&dev, "ivy").await;
    let t0 = std::time::Instant::now();
    assert!(ivy.try_recv(dev_support::DEADLINE).await.is_none());
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "not closed by the gateway"
    );
    dev.wait_client("ivy", "offline", |c| c["online"] == false)
        .await;
}

/// Protocol hygiene: a message over the limit gets a close frame with 1009 and a reason, not a
/// dropped connection; a client's close is answered with a close frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_messages_and_closes_get_close_frames() {
    let dev = Dev::start();
    let mut big = Ws::connect(&dev, "big").await;
    big.send_text(&"x".repeat(128 * 1024 + 1)).await;
    let (code, reason) = big.close_frame().await.expect("a close frame");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("too big"), "{reason}");

    let mut polite = Ws::connect(&dev, "polite").await;
    polite.send_close().await;
    let (code, _) = polite.close_frame().await.expect("the close answered");
    assert_eq!(code, 1000);
}

/// A client id with a `/` (an MQTT client may have one) is read percent-encoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_with_a_slash_is_read_percent_encoded() {
    let dev = Dev::start();
    let _device = dev_support::Mqtt::connect(&dev, "site-1/pump").await;
    dev.wait_client("site-1%2Fpump", "connected", |c| c["connected"] == true)
        .await;
    let (status, body) = dev.get("/clients/site-1%2Fpump");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"clientId\":\"site-1/pump\""), "{body}");
}
