//! The live page of `processor dev`, in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`, which `scripts/test` installs; without them this
//! test fails and says so). A client connects and is seen on the page, joins a room, is sent a
//! message, watches a device (a real MQTT client), and is seen to go, all without reloading the
//! page; then her timeline link opens the page `replay explain --html` makes, from the dev
//! store's log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;

use dev_support::{Dev, Mqtt, Ws, DEADLINE};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn program(env: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var_os(env).unwrap_or_else(|| default.into()));
    assert!(
        path.exists(),
        "{} not found (set {env} to another path): scripts/test installs it, or \
         `apt-get install chromium chromium-driver`",
        path.display()
    );
    path
}

impl Driver {
    async fn start() -> (Driver, Client) {
        let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let driver = Driver {
            child,
            port,
            _profile: profile,
        };
        // Flags for a machine with no display and no network beyond loopback.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1100",
            &format!("--user-data-dir={}", driver._profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        let url = format!("http://127.0.0.1:{}", driver.port);
        let until = Instant::now() + DEADLINE;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > until => panic!("no WebDriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        (driver, client)
    }
}

/// Polls the page until `css` matches `present`ly (or not); returns the element's text.
async fn wait_for(page: &Client, css: &str, present: bool, what: &str) -> String {
    let until = Instant::now() + DEADLINE;
    loop {
        let found = match page.find(Locator::Css(css)).await {
            Ok(element) => Some(element.text().await.unwrap_or_default()),
            Err(_) => None,
        };
        if found.is_some() == present {
            return found.unwrap_or_default();
        }
        if Instant::now() > until {
            let body = page.source().await.unwrap_or_default();
            panic!("the page never showed {what} ({css} present: {present}); page:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_clients_come_and_go_live() {
    let dev = Dev::start();
    let (_driver, page) = Driver::start().await;
    page.goto(&format!("http://127.0.0.1:{}/", dev.http))
        .await
        .unwrap();
    wait_for(&page, "#status[data-state='live']", true, "its live feed").await;
    let empty = wait_for(&page, "#online-empty", true, "the empty note").await;
    assert!(empty.contains("Nobody is online"), "{empty}");

    let mut alice = Ws::connect(&dev, "alice").await;
    let row = wait_for(
        &page,
        "#online tr[data-client='alice']",
        true,
        "alice online",
    )
    .await;
    assert!(row.contains("1 connection"), "{row}");

    let mut bob = Ws::connect(&dev, "bob").await;
    for ws in [&mut alice, &mut bob] {
        ws.send(json!({"action": "join", "chatId": "42"})).await;
    }
    let room = wait_for(&page, "#rooms li[data-name='42']", true, "room 42").await;
    assert!(room.contains("alice") && room.contains("bob"), "{room}");

    alice
        .send(json!({"action": "sendmessage", "chatId": "42", "message": "hi"}))
        .await;
    let delivery = wait_for(
        &page,
        "#deliveries tbody tr:first-child",
        true,
        "the delivery to bob",
    )
    .await;
    assert!(
        delivery.contains("websocket") && delivery.contains("bob"),
        "{delivery}"
    );
    assert!(delivery.contains("message"), "{delivery}");

    let device = Mqtt::connect(&dev, "thermostat-1").await;
    alice
        .send(json!({"action": "set_notify_list", "devices": ["thermostat-1"]}))
        .await;
    let watched = wait_for(
        &page,
        "#devices li[data-name='thermostat-1']",
        true,
        "a watch",
    )
    .await;
    assert!(watched.contains("alice"), "{watched}");
    let row = wait_for(
        &page,
        "#online tr[data-client='thermostat-1']",
        true,
        "the device",
    )
    .await;
    assert!(row.contains("session"), "{row}");

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dev-page.png");
    std::fs::write(&shot, page.screenshot().await.unwrap()).unwrap();

    alice.close().await;
    wait_for(
        &page,
        "#online tr[data-client='alice']",
        false,
        "alice gone",
    )
    .await;
    wait_for(
        &page,
        "#offline tr[data-client='alice']",
        true,
        "alice offline",
    )
    .await;
    let counts = wait_for(&page, "#counts", true, "the counts").await;
    assert_eq!(counts, "2 online, 1 offline");
    device.disconnect().await;

    // Her timeline, from the dev store's log: the page `replay explain --html` makes.
    page.find(Locator::Css("#offline tr[data-client='alice'] a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let title = wait_for(&page, "h1", true, "the timeline").await;
    assert_eq!(title, "replay explain: alice");
    let events = wait_for(&page, "table", true, "the timeline's events").await;
    for seen in [
        "websocket $connect",
        "websocket sendmessage",
        "websocket $disconnect",
    ] {
        assert!(events.contains(seen), "{seen} not in {events}");
    }
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dev-timeline.png");
    std::fs::write(&shot, page.screenshot().await.unwrap()).unwrap();
    page.close().await.unwrap();
}
