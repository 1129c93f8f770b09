//! Whole-process measurements of `processor dev`, ignored by default (never timed assertions in
//! the test suite). Run with a release build:
//!
//! ```text
//! cargo test --release -p processor --test dev_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `latency`: 10,000 WebSocket messages from one client to another, one at a time: send to
//!   receive, p50/p99/max.
//! - `throughput`: 1,000 connected WebSocket clients in 500 two-member rooms, each keeping a
//!   window of messages in flight to its partner: delivered messages per second.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;

use dev_support::{Dev, Ws};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // Rounding an index into a short list: precision loss is irrelevant here.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn latency() {
    let dev = Dev::start();
    let mut alice = Ws::connect(&dev, "alice").await;
    let mut bob = Ws::connect(&dev, "bob").await;
    for id in ["alice", "bob"] {
        dev.wait_client(id, "online", |c| c["online"] == true).await;
    }
    let n = 10_000;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        alice
            .send(json!({"action": "sendmessage", "message": i}))
            .await;
        let got = bob.recv().await;
        samples.push(t0.elapsed());
        assert_eq!(got["message"], i);
    }
    samples.sort();
    println!(
        "latency over {n} messages: p50 {:?} p99 {:?} max {:?}",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[n - 1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn throughput() {
    let dev = Dev::start();
    let clients = 1_000;
    let mut sockets = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut ws = Ws::connect(&dev, &format!("c{i}")).await;
        ws.send(json!({"action": "join", "chatId": format!("pair-{}", i / 2)}))
            .await;
        sockets.push(ws);
    }
    dev.wait_client(&format!("c{}", clients - 1), "in its room", |c| {
        c["rooms"].as_array().is_some_and(|r| !r.is_empty())
    })
    .await;
    let (status, all) = dev.get("/clients");
    assert_eq!(status, 200);
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    let online = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["online"] == true)
        .count();
    println!("{online} clients online");

    let received = Arc::new(AtomicU64::new(0));
    let run_for = Duration::from_secs(10);
    let window = 4u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, mut ws) in sockets.into_iter().enumerate() {
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            let room = format!("pair-{}", i / 2);
            let mut sent = 0u64;
            let mut got = 0u64;
            // Keep `window` messages in flight: send one for each received.
            while started.elapsed() < run_for {
                while sent < got + window {
                    ws.send(json!({"action": "sendmessage", "chatId": room, "message": sent}))
                        .await;
                    sent += 1;
                }
                if ws.try_recv(Duration::from_secs(1)).await.is_some() {
                    got += 1;
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = received.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / elapsed;
    println!("{clients} clients: {total} messages delivered in {elapsed:.1}s: {rate:.0} msg/s");
}
