//! Presence against `processor dev`: a room's members and a watched device's connectivity,
//! asked by a WebSocket client, and heard as the device (a real MQTT client, rumqttc) goes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;
mod support;

use dev_support::{has, Dev, Mqtt, Ws};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_and_a_watcher_ask_for_presence() {
    let dev = Dev::start();
    let mut alice = Ws::connect(&dev, "alice").await;
    let mut bob = Ws::connect(&dev, "bob").await;
    for ws in [&mut alice, &mut bob] {
        ws.send(json!({"action": "join", "chatId": "r9"})).await;
    }
    dev.wait_client("bob", "in r9", |c| has(&c["rooms"], "r9"))
        .await;
    alice
        .send(json!({"action": "presence", "chatId": "r9"}))
        .await;
    let state = alice.recv().await;
    assert_eq!(state["type"], "presence_state", "{state}");
    assert_eq!(state["chatId"], "r9");
    let members: Vec<(&str, bool)> = state["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["clientId"].as_str().unwrap(), m["online"] == true))
        .collect();
    assert_eq!(members, [("alice", true), ("bob", true)]);

    // A device alice watches: connected, then gone with a last sighting.
    let device = Mqtt::connect(&dev, "thermostat-3").await;
    alice
        .send(json!({"action": "set_notify_list", "devices": ["thermostat-3"]}))
        .await;
    dev.wait_client("thermostat-3", "connected", |c| c["connected"] == true)
        .await;
    dev.wait_client("alice", "watching", |c| has(&c["watching"], "thermostat-3"))
        .await;
    alice
        .send(json!({"action": "presence", "devices": ["thermostat-3"]}))
        .await;
    let state = alice.recv().await;
    assert_eq!(state["devices"][0]["deviceId"], "thermostat-3", "{state}");
    assert_eq!(state["devices"][0]["connected"], true, "{state}");
    // Seed 002's app hears the device go away, as it happens.
    device.disconnect().await;
    let heard = alice.recv().await;
    assert_eq!(heard["type"], "presence", "{heard}");
    assert_eq!(heard["deviceId"], "thermostat-3");
    assert_eq!(heard["event"], "disconnected");
    assert_eq!(heard["connected"], false);
    assert_eq!(heard["reason"], "CLIENT_INITIATED_DISCONNECT", "{heard}");
    alice
        .send(json!({"action": "presence", "devices": ["thermostat-3"]}))
        .await;
    let state = alice.recv().await;
    assert_eq!(state["devices"][0]["connected"], false, "{state}");
    assert!(
        state["devices"][0]["lastSeen"].as_u64().is_some(),
        "{state}"
    );

    // bob watches nothing: asking about the device is refused.
    bob.send(json!({"action": "presence", "devices": ["thermostat-3"]}))
        .await;
    let refused = bob.recv().await;
    assert_eq!(refused["type"], "usage", "{refused}");
    assert_eq!(refused["action"], "presence");
}

/// Two WebSocket clients in a presence room: each joiner gets the room's state, the member
/// hears the other join, go offline as its socket closes, come back on a new one, and leave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_presence_room_hear_each_other_join_go_offline_and_leave() {
    let dev = Dev::start();
    let mut alice = Ws::connect(&dev, "alice").await;
    let mut bob = Ws::connect(&dev, "bob").await;
    alice
        .send(json!({"action": "join", "chatId": "presence-7"}))
        .await;
    let state = alice.recv().await;
    assert_eq!(state["type"], "presence_state", "{state}");
    assert_eq!(state["members"][0]["clientId"], "alice", "{state}");
    bob.send(json!({"action": "join", "chatId": "presence-7"}))
        .await;
    let state = bob.recv().await;
    assert_eq!(state["type"], "presence_state", "{state}");
    assert_eq!(state["members"].as_array().unwrap().len(), 2, "{state}");
    let joined = alice.recv().await;
    assert_eq!(
        (&joined["event"], &joined["clientId"], &joined["online"]),
        (&json!("join"), &json!("bob"), &json!(true)),
        "{joined}"
    );
    bob.close().await;
    let offline = alice.recv().await;
    assert_eq!(
        (&offline["event"], &offline["clientId"], &offline["online"]),
        (&json!("offline"), &json!("bob"), &json!(false)),
        "{offline}"
    );
    // Back on a new socket: still a member, online again.
    let mut bob = Ws::connect(&dev, "bob").await;
    let online = alice.recv().await;
    assert_eq!(
        (&online["event"], &online["clientId"], &online["via"]),
        (&json!("online"), &json!("bob"), &json!(["websocket"])),
        "{online}"
    );
    bob.send(json!({"action": "leave", "chatId": "presence-7"}))
        .await;
    let left = alice.recv().await;
    assert_eq!(left["event"], "leave", "{left}");
    assert_eq!(left["clientId"], "bob", "{left}");
    assert_eq!(left["chatId"], "presence-7", "{left}");
}

/// With `--presence-grace`, a member whose socket closes is announced offline only once the
/// grace is over (the sweep's tick finds it due), and one that comes back within it not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_grace_a_member_is_heard_offline_only_after_it() {
    let dev = Dev::start_flags(&["--presence-grace", "3s", "--sweep-every", "100ms"]);
    let mut alice = Ws::connect(&dev, "alice").await;
    let mut bob = Ws::connect(&dev, "bob").await;
    // alice's join folded before bob's, so that she hears his.
    alice
        .send(json!({"action": "join", "chatId": "presence-7"}))
        .await;
    let joined = alice.recv().await;
    assert_eq!(joined["type"], "presence_state", "{joined}");
    bob.send(json!({"action": "join", "chatId": "presence-7"}))
        .await;
    let joined = alice.recv().await;
    assert_eq!(joined["event"], "join", "{joined}");
    // Back within the grace: alice hears nothing.
    bob.close().await;
    let bob = Ws::connect(&dev, "bob").await;
    let quiet = alice.try_recv(Duration::from_millis(3_500)).await;
    assert_eq!(quiet, None, "a reconnect within the grace tells nothing");
    // Gone for good: nothing within the grace, then `offline`.
    bob.close().await;
    let early = alice.try_recv(Duration::from_millis(1_500)).await;
    assert_eq!(early, None, "nothing within the grace");
    let offline = alice.recv().await;
    assert_eq!(
        (&offline["event"], &offline["clientId"]),
        (&json!("offline"), &json!("bob")),
        "{offline}"
    );
}
