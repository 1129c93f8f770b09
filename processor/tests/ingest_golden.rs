//! Golden fixtures of real API Gateway WebSocket events (`fixtures/apigw/*.event.json`) and what
//! ingest makes of them: the record it writes (`*.record.json`, compared as JSON values) or the
//! response it refuses with (`*.response.json`). `UPDATE_GOLDEN=1` rewrites the expectations;
//! review the diff before committing it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::encodings::Body;
use processor::ingest::{to_record, Identity};
use schemas::{decode_json, encode_json, Record};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apigw")
}

/// What ingest makes of one event, as JSON (anonymous connections allowed, so that the
/// fixtures without an authorizer map too).
fn outcome(event: &ApiGatewayWebsocketProxyRequest) -> (&'static str, Value) {
    match to_record(event, Identity::AllowAnonymous) {
        Ok(record) => {
            let bytes = encode_json(&Record::WebSocket(Box::new(record.clone())));
            // What ingest writes, the processor reads back unchanged.
            assert_eq!(decode_json(&bytes), Ok(Record::WebSocket(Box::new(record))));
            ("record", serde_json::from_slice(&bytes).unwrap())
        }
        Err(e) => {
            let response = e.response();
            let body = match response.body {
                Some(Body::Text(text)) => serde_json::from_str::<Value>(&text).unwrap(),
                other => panic!("not a JSON text body: {other:?}"),
            };
            (
                "response",
                json!({"statusCode": response.status_code, "body": body}),
            )
        }
    }
}

#[test]
fn apigw_websocket_events_golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".event.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "fixtures missing: {names:?}");
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let event: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (what, actual) = outcome(&event);
        let stem = path.to_string_lossy().replace(".event.json", "");
        let expected_path = PathBuf::from(format!("{stem}.{what}.json"));
        if update {
            let pretty = serde_json::to_string_pretty(&actual).unwrap() + "\n";
            std::fs::write(&expected_path, pretty).unwrap();
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .unwrap();
        assert_eq!(actual, expected, "{}", path.display());
    }
}

#[test]
fn authorizer_wins_over_the_query_string() {
    let text = std::fs::read_to_string(fixtures().join("connect_authorizer.event.json")).unwrap();
    let event: ApiGatewayWebsocketProxyRequest = serde_json::from_str(&text).unwrap();
    for identity in [Identity::AllowAnonymous, Identity::Authenticated] {
        let record = to_record(&event, identity).unwrap();
        assert_eq!(record.client_id.as_deref(), Some("bob"));
    }
}
