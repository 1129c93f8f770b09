//! The sweeper against the emulator (moto) and the tests' `@connections` server: a connection
//! whose `$disconnect` never came, and that API Gateway answers 410 for, ends offline in the table
//! after one sweep, and its presence room hears `offline`, with nothing else on the stream; a
//! live idle one stays.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use aws_adapters::feedback::KinesisFeedback;
use aws_adapters::sweep::probe::ApiGatewayProbe;
use aws_adapters::sweep::{SweepSettings, Sweeper};
use aws_sdk_dynamodb::types::AttributeValue;
use tests::aws::{
    consume_until_idle, feeding_back, fixture, put_all, ws_connect, ws_message, Fixture,
};
use tests::connections::{sdk_config, Connections};

const MIN: u64 = 60_000;

/// `online` as the table's client item says it, for readers.
async fn online_in_table(f: &Fixture, client: &str) -> bool {
    let item = f
        .dynamo
        .get_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S(format!("client#{client}")))
        .key("sk", AttributeValue::S("state".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no item for {client}"));
    *item["online"].as_bool().unwrap()
}

async fn consume_all(f: &Fixture) -> processor::consume::Summary {
    consume_until_idle(f, &feeding_back(f, &[])).await.unwrap()
}

#[tokio::test]
async fn a_connection_closed_without_its_disconnect_ends_offline_after_one_sweep() {
    let f = fixture(1).await.unwrap();
    let server = Connections::start().await.unwrap();
    let t = 1_732_350_000_000u64;
    // alice and bob, both in a presence room.
    let join = serde_json::json!({"action":"join","chatId":"presence-42"});
    let lines = [
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message("alice-conn", t, t + 20, join.clone()),
        ws_message("bob-conn", t + 10, t + 30, join),
    ];
    put_all(&f, &lines).await.unwrap();
    assert_eq!(consume_all(&f).await.records, 4);
    assert!(online_in_table(&f, "bob").await);

    // bob's socket closes and API Gateway's `$disconnect` is lost: no record comes.
    server.set_gone("bob-conn");
    let sweeper = Sweeper::new(
        f.store.clone(),
        ApiGatewayProbe::new(&sdk_config(), &server.endpoint),
        KinesisFeedback::new(f.kinesis.clone(), &f.stream),
        SweepSettings::default(),
    );
    let report = sweeper.sweep(t + 11 * MIN).await.unwrap();
    assert_eq!(report.ticked, 1, "{report:?}");
    assert_eq!(
        (report.open, report.probed, report.gone),
        (2, 2, 1),
        "{report:?}"
    );
    assert!(report.failures.is_empty(), "{report:?}");

    // The tick and bob's connection_gone are all the stream gets; alice hears bob go offline.
    let handler = feeding_back(&f, &[]);
    assert_eq!(consume_until_idle(&f, &handler).await.unwrap().records, 2);
    let heard: Vec<(String, serde_json::Value)> = handler
        .sink
        .sent()
        .into_iter()
        .map(|d| (d.channel.target().to_owned(), d.payload))
        .collect();
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].0, "alice-conn");
    let offline = &heard[0].1;
    assert_eq!(
        (&offline["clientId"], &offline["event"], &offline["online"]),
        (&"bob".into(), &"offline".into(), &false.into()),
        "{offline}"
    );
    assert!(
        !online_in_table(&f, "bob").await,
        "bob is offline in the table"
    );
    assert!(
        online_in_table(&f, "alice").await,
        "alice's socket answered"
    );
    let asked: Vec<String> = server.received().iter().map(|r| r.path.clone()).collect();
    assert!(
        asked.contains(&"/prod/@connections/bob-conn".to_owned()),
        "{asked:?}"
    );

    // API Gateway said alice was active 5 minutes in, so 12 minutes in she is not idle: the
    // next sweep asks nobody, and bob's connection is closed.
    let report = sweeper.sweep(t + 12 * MIN).await.unwrap();
    assert_eq!((report.open, report.probed), (1, 0), "{report:?}");
}
