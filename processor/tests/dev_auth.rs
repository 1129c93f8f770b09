//! `processor dev --auth`: the local gateway admits connections as the stack's authorizer does
//! (same code), and the fold bounds what a token's claims do not grant. Real WebSocket clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;
mod support;

use dev_support::{Dev, Ws};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;
use std::time::Duration;

const SECRET: &str = "a dev secret of at least thirty-two bytes!";

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `sub` with these claims, valid for ten minutes.
fn token(sub: &str, claims: serde_json::Value) -> String {
    let mut body = json!({"sub": sub, "exp": now_s() + 600});
    body.as_object_mut()
        .unwrap()
        .extend(claims.as_object().unwrap().clone());
    encode(
        &Header::new(Algorithm::HS256),
        &body,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn start() -> Dev {
    Dev::start_flags(&["--auth", &format!("hs256:{SECRET}")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_decides_who_connects() {
    let dev = start();
    // No token: refused, whatever clientId says.
    let (status, body) = Ws::open(&dev, "?clientId=bob", None).await.err().unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("no token"), "{body}");
    // A forged or expired token: refused, with its reason.
    let forged = format!("{}x", token("bob", json!({})));
    let (status, body) = Ws::open(&dev, &format!("?token={forged}"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("signature"), "{body}");
    let expired = token("bob", json!({"exp": now_s() - 3600}));
    let (status, body) = Ws::open(&dev, &format!("?token={expired}"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("expired"), "{body}");

    // A token for alice with ?clientId=bob is alice.
    let alice = token("alice", json!({"rooms": ["*"]}));
    let mut ws = Ws::open(&dev, &format!("?token={alice}&clientId=bob"), None)
        .await
        .unwrap();
    ws.send_text("hello").await;
    let usage = ws.recv().await;
    assert_eq!(usage["type"], "usage", "{usage}");
    assert_eq!(usage["connection"]["clientId"], "alice", "{usage}");
    dev.wait_client("alice", "online", |c| c["online"] == true)
        .await;
    assert_eq!(dev.client("bob"), None, "bob never connected");

    // A browser's way: the subprotocols ["bearer", token]; the answer selects bearer (the
    // client refuses a handshake that does not).
    let carol = token("carol", json!({}));
    let mut ws = Ws::open(&dev, "", Some(&format!("bearer, {carol}")))
        .await
        .unwrap();
    ws.send_text("hello").await;
    assert_eq!(ws.recv().await["connection"]["clientId"], "carol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_outside_the_claim_is_forbidden() {
    let dev = start();
    let bob = token("bob", json!({"rooms": ["secret", "team-7/*"]}));
    let mut bob = Ws::open(&dev, &format!("?token={bob}"), None)
        .await
        .unwrap();
    bob.send(json!({"action": "join", "chatId": "secret"}))
        .await;
    dev.wait_client("bob", "in secret", |c| {
        dev_support::has(&c["rooms"], "secret")
    })
    .await;

    let alice = token("alice", json!({"rooms": ["team-7/*"]}));
    let mut alice = Ws::open(&dev, &format!("?token={alice}"), None)
        .await
        .unwrap();
    alice
        .send(json!({"action": "join", "chatId": "secret"}))
        .await;
    let refused = alice.recv().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["reason"], "forbidden");
    assert_eq!(refused["action"], "join");
    assert_eq!(refused["chatId"], "secret");
    alice
        .send(json!({"action": "history", "chatId": "secret"}))
        .await;
    let refused = alice.recv().await;
    assert_eq!(
        (&refused["reason"], &refused["action"]),
        (&json!("forbidden"), &json!("history")),
        "{refused}"
    );
    alice
        .send(json!({"action": "sendmessage", "chatId": "secret", "message": "hi"}))
        .await;
    assert_eq!(alice.recv().await["reason"], "forbidden");
    // Bob heard nothing of it; alice is in no room; a granted room works.
    assert_eq!(bob.try_recv(Duration::from_millis(300)).await, None);
    alice
        .send(json!({"action": "join", "chatId": "team-7/ops"}))
        .await;
    dev.wait_client("alice", "in team-7/ops", |c| {
        c["rooms"] == json!(["team-7/ops"])
    })
    .await;
}

#[test]
fn without_auth_it_says_it_takes_anyone_at_their_word() {
    let mut dev = Dev::start();
    let said = dev.stderr.lock().unwrap().join("\n");
    assert!(said.contains("any ?clientId= connects"), "{said}");
    dev.interrupt();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_limited_after_the_burst() {
    let dev = start();
    let claims = json!({"rooms": ["r1"]});
    let bob = token("bob", claims.clone());
    let mut bob = Ws::open(&dev, &format!("?token={bob}"), None)
        .await
        .unwrap();
    bob.send(json!({"action": "join", "chatId": "r1"})).await;
    dev.wait_client("bob", "in r1", |c| dev_support::has(&c["rooms"], "r1"))
        .await;
    let alice = token("alice", claims);
    let mut alice = Ws::open(&dev, &format!("?token={alice}"), None)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for i in 0..100 {
        alice
            .send(json!({"action": "sendmessage", "chatId": "r1", "message": i}))
            .await;
    }
    let took = started.elapsed();
    let mut limited = Vec::new();
    while let Some(reply) = alice.try_recv(Duration::from_secs(2)).await {
        assert_eq!(reply["reason"], "rate_limited", "{reply}");
        assert!(reply["retryAfterMs"].as_u64().unwrap() > 0, "{reply}");
        limited.push(reply);
    }
    let mut delivered = 0;
    while let Some(message) = bob.try_recv(Duration::from_millis(500)).await {
        assert_eq!(message["type"], "message", "{message}");
        delivered += 1;
    }
    assert_eq!(
        delivered + limited.len(),
        100,
        "each message delivered or refused"
    );
    // The burst of 20, and 10 a second for as long as sending took.
    let allowed = 20 + 10 * (took.as_millis() as usize / 1000 + 1);
    assert!(
        (20..=allowed).contains(&delivered),
        "{delivered} delivered in {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_issuers_key_set_its_tokens_are_checked_with_the_issuer() {
    let jwks = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/auth/tests/keys/test-rsa.jwks.json"
    );
    let dev = Dev::start_flags(&["--jwks", jwks, "--issuer", "https://issuer.example"]);
    let sign = |issuer: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("test-rsa".into());
        let claims = json!({"sub": "dora", "exp": now_s() + 600, "iss": issuer});
        let key = EncodingKey::from_rsa_der(include_bytes!("../auth/tests/keys/test-rsa.der"));
        encode(&header, &claims, &key).unwrap()
    };
    let mut ws = Ws::open(
        &dev,
        &format!("?token={}", sign("https://issuer.example")),
        None,
    )
    .await
    .unwrap();
    ws.send_text("hello").await;
    assert_eq!(ws.recv().await["connection"]["clientId"], "dora");
    let (status, body) = Ws::open(
        &dev,
        &format!("?token={}", sign("https://evil.example")),
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("issuer"), "{body}");
    // An HS256 token over the issuer's public key: refused (algorithm confusion).
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "dora", "exp": now_s() + 600, "iss": "https://issuer.example"}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let (status, _) = Ws::open(&dev, &format!("?token={confused}"), None)
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_says_what_happens_a_line_each() {
    let mut dev = Dev::start_flags(&["--verbose", "--auth", &format!("hs256:{SECRET}")]);
    let _ = Ws::open(&dev, "?clientId=mallory", None)
        .await
        .err()
        .unwrap();
    let alice = token("alice", json!({"broadcast": true}));
    let mut ws = Ws::open(&dev, &format!("?token={alice}"), None)
        .await
        .unwrap();
    ws.send_text("hello").await;
    let _usage = ws.recv().await;
    ws.close().await;
    dev.wait_client("alice", "offline", |c| c["online"] == false)
        .await;
    dev.interrupt();
    let said = dev.stderr.lock().unwrap().join("\n");
    for line in [
        "websocket refused (401): no token",
        "(alice) from 127.0.0.1",
        "folded websocket $default on",
        ": usage",
        "websocket disconnect",
        "dev: folded",
    ] {
        assert!(said.contains(line), "no {line:?} in:\n{said}");
    }
}
