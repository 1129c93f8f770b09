//! The API Gateway sink and probe against the tests' `@connections` server
//! ([`tests::connections`]), which answers by connection id.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_adapters::sink_port::{DeliveryOutcome, DeliverySink};
use aws_adapters::sinks::ApiGatewaySink;
use projections::{Channel, Delivery};
use schemas::EventId;
use tests::connections::{sdk_config, Connections};
use tokio::net::TcpListener;

fn to(connection_id: &str) -> Delivery {
    Delivery::new(
        EventId(7),
        Channel::WebSocket {
            connection_id: connection_id.into(),
        },
        Some("alice".into()),
        serde_json::json!({"type": "message", "from": "carol", "message": "hello"}),
    )
}

#[tokio::test]
async fn sent_posts_the_payload_to_the_connection() {
    let server = Connections::start().await.unwrap();
    let sink = ApiGatewaySink::new(&sdk_config(), &server.endpoint);
    let outcome = sink.deliver(&to("BxQ3vdxvjoECFxQ=")).await;
    assert_eq!(outcome, Ok(DeliveryOutcome::Sent));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/prod/@connections/BxQ3vdxvjoECFxQ=");
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"type": "message", "from": "carol", "message": "hello"})
    );
}

#[tokio::test]
async fn gone_is_an_outcome() {
    let server = Connections::start().await.unwrap();
    let sink = ApiGatewaySink::new(&sdk_config(), &server.endpoint);
    assert_eq!(sink.deliver(&to("gone-1")).await, Ok(DeliveryOutcome::Gone));
    // Other connections are unaffected.
    assert_eq!(sink.deliver(&to("alive")).await, Ok(DeliveryOutcome::Sent));
}

#[tokio::test]
async fn too_large_from_the_service_and_before_sending() {
    let server = Connections::start().await.unwrap();
    let sink = ApiGatewaySink::new(&sdk_config(), &server.endpoint);
    assert_eq!(
        sink.deliver(&to("big")).await,
        Ok(DeliveryOutcome::TooLarge)
    );
    // Over the 128 KB quota: refused without a call.
    let mut huge = to("alive");
    huge.payload = serde_json::json!({"type": "message", "message": "x".repeat(200 * 1024)});
    let before = server.received().len();
    assert_eq!(sink.deliver(&huge).await, Ok(DeliveryOutcome::TooLarge));
    assert_eq!(server.received().len(), before);
}

#[tokio::test]
async fn server_errors_and_throttling_are_retryable_forbidden_is_not() {
    let server = Connections::start().await.unwrap();
    let sink = ApiGatewaySink::new(&sdk_config(), &server.endpoint);
    let err = sink.deliver(&to("boom")).await.unwrap_err();
    assert!(err.retryable, "{err}");
    let err = sink.deliver(&to("throttled")).await.unwrap_err();
    assert!(err.retryable, "{err}");
    let err = sink.deliver(&to("forbidden")).await.unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("forbidden"), "{err}");
}

#[tokio::test]
async fn nobody_listening_is_retryable() {
    // Bind and drop: the port is (very likely) closed when the sink connects.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/prod", listener.local_addr().unwrap());
    drop(listener);
    let sink = ApiGatewaySink::new(&sdk_config(), &endpoint);
    let err = sink.deliver(&to("alive")).await.unwrap_err();
    assert!(err.retryable, "{err}");
}

#[tokio::test]
async fn get_connection_says_alive_with_its_last_activity_or_gone() {
    use aws_adapters::sweep::probe::{ApiGatewayProbe, ConnectionProbe, Liveness};
    let server = Connections::start().await.unwrap();
    let probe = ApiGatewayProbe::new(&sdk_config(), &server.endpoint);
    assert_eq!(
        probe.probe("alive").await,
        Ok(Liveness::Alive {
            // 2024-11-23T08:25:00Z
            last_active_at: Some(1_732_350_300_000)
        })
    );
    assert_eq!(probe.probe("gone-2").await, Ok(Liveness::Gone));
    let err = probe.probe("boom").await.unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    let received = server.received();
    assert!(received.iter().all(|r| r.method == "GET"), "{received:?}");
    assert_eq!(received[0].path, "/prod/@connections/alive");
}

/// A WebSocket record as ingest writes it.
fn ws(event: &str, route: &str, conn: &str, t: u64, extra: serde_json::Value) -> Vec<u8> {
    let mut record = serde_json::json!({"kind":"websocket","schemaVersion":2,"eventType":event,
        "routeKey":route,"connectionId":conn,"connectedAt":1_732_350_000_000u64,
        "requestTimeEpoch":t,"messageId":format!("m-{conn}-{t}")});
    for (k, v) in extra.as_object().unwrap() {
        record[k] = v.clone();
    }
    serde_json::to_vec(&record).unwrap()
}

/// The batch handler with the real API Gateway sink: one broadcast reaches a gone connection
/// (fed back as `connection_gone`), a connection whose delivery is too large and one that refuses
/// it for good (each quarantined under its own delivery id, neither retried nor dropped), and a
/// live one; the batch completes.
#[tokio::test]
async fn handler_feeds_back_gone_and_quarantines_each_undeliverable_delivery() {
    use aws_adapters::feedback::MemoryFeedback;
    use aws_adapters::quarantine_port::MemoryQuarantine;
    use aws_adapters::source::InRecord;
    use aws_adapters::store_port::MemoryRevisionedStore;
    use processor::lambda::Handler;
    use processor::settings::HandlerSettings;

    let server = Connections::start().await.unwrap();
    let t = 1_732_350_000_000u64;
    let connect = |conn: &str, client: &str, at: u64| {
        ws(
            "CONNECT",
            "$connect",
            conn,
            at,
            serde_json::json!({"clientId": client}),
        )
    };
    let body = serde_json::json!({"action":"sendmessage","message":"hello everyone"}).to_string();
    let data = [
        connect("carol-conn", "carol", t),
        connect("gone-1", "gina", t + 1),
        connect("big", "bob", t + 2),
        connect("forbidden", "fred", t + 3),
        connect("alive", "alice", t + 4),
        ws(
            "MESSAGE",
            "sendmessage",
            "carol-conn",
            t + 10,
            serde_json::json!({ "body": body }),
        ),
    ];
    let input: Vec<InRecord> = data
        .iter()
        .enumerate()
        .map(|(i, d)| InRecord {
            shard: "shardId-000000000000".into(),
            seq: format!("{i:05}"),
            data: d.clone(),
        })
        .collect();
    let handler = Handler {
        store: MemoryRevisionedStore::new(),
        quarantine: MemoryQuarantine::new(),
        sink: ApiGatewaySink::new(&sdk_config(), &server.endpoint),
        feedback: MemoryFeedback::new(),
        settings: HandlerSettings::default(),
    };
    let report = handler.handle(&input).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    assert_eq!(report.gone, 1);

    let posted: Vec<String> = server.received().iter().map(|r| r.path.clone()).collect();
    for conn in ["gone-1", "big", "forbidden", "alive"] {
        assert!(
            posted.contains(&format!("/prod/@connections/{conn}")),
            "{conn} not posted: {posted:?}"
        );
    }
    assert!(
        !posted.iter().any(|p| p.ends_with("carol-conn")),
        "{posted:?}"
    );

    let gone = handler.feedback.records();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].connection_id, "gone-1");

    let kept = handler.quarantine.items();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let mut reasons: Vec<&str> = kept.iter().map(|q| q.error.as_str()).collect();
    reasons.sort_unstable();
    assert!(reasons[0].contains("forbidden"), "{reasons:?}");
    assert!(reasons[1].contains("too large"), "{reasons:?}");
    for q in &kept {
        // Both from the message record, each under its own delivery id.
        assert_eq!(q.sequence_number, "00005");
        let delivery: serde_json::Value = serde_json::from_slice(&q.raw).unwrap();
        assert_eq!(q.delivery_id.as_deref(), delivery["id"].as_str());
    }
    assert_ne!(kept[0].delivery_id, kept[1].delivery_id);

    // A retry of the whole batch sends nothing again.
    let before = server.received().len();
    let again = handler.handle(&input).await;
    assert_eq!(again.failed_at, None, "{:?}", again.failure);
    assert_eq!(server.received().len(), before);
}
