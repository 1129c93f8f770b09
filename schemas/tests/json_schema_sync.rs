//! The published JSON Schema files match the Rust types, and every fixture validates against its
//! kind's schema. `UPDATE_SCHEMAS=1 cargo test -p schemas --test json_schema_sync` rewrites them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_path(kind: &str) -> PathBuf {
    root()
        .join("json-schema")
        .join(format!("{kind}.schema.json"))
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    text
}

#[test]
fn schema_files_match_the_types() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    let schemas = schemas::schema::json_schemas();
    assert_eq!(schemas.len(), 9, "one schema per record kind");
    for (kind, schema) in schemas {
        let path = schema_path(kind);
        let expected = pretty(&schema);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &expected).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "JSON Schema files differ from the Rust types: {stale:?}\n\
         If the type change is intended, regenerate them with\n\
         UPDATE_SCHEMAS=1 cargo test -p schemas --test json_schema_sync\n\
         and commit the result."
    );
}

fn validator(kind: &str) -> jsonschema::JSONSchema {
    let text = std::fs::read_to_string(schema_path(kind)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::JSONSchema::compile(&schema).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

fn errors(validator: &jsonschema::JSONSchema, instance: &serde_json::Value) -> Vec<String> {
    match validator.validate(instance) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect(),
    }
}

#[test]
fn every_fixture_validates_against_its_kind_schema() {
    let dir = root().join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let kind = schemas::decode_json(&bytes).unwrap().kind_name();
        let instance: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let found = errors(&validator(kind), &instance);
        assert!(found.is_empty(), "{}: {found:?}", name(&path));
        checked += 1;
    }
    assert!(checked >= 21);
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The schemas are not vacuous: they reject what the decoder rejects.
#[test]
fn schemas_reject_invalid_records() {
    let connected = validator("connected");
    let bad = [
        serde_json::json!({"eventType":"connected","clientId":"c","timestamp":"abc","sessionIdentifier":"s"}),
        serde_json::json!({"eventType":"connected","clientId":"c","timestamp":1}),
        serde_json::json!({"eventType":"disconnected","clientId":"c","timestamp":1,"sessionIdentifier":"s"}),
        serde_json::json!({"eventType":"connected","clientId":"","timestamp":1,"sessionIdentifier":"s"}),
    ];
    for instance in bad {
        assert!(
            !errors(&connected, &instance).is_empty(),
            "accepted {instance}"
        );
    }
    let websocket = validator("websocket");
    let v3 = serde_json::json!({"kind":"websocket","schemaVersion":3,"eventType":"CONNECT",
        "routeKey":"$connect","connectionId":"x","connectedAt":1,"requestTimeEpoch":1});
    assert!(
        !errors(&websocket, &v3).is_empty(),
        "accepted schemaVersion 3"
    );
    let mut v2 = v3.clone();
    v2["schemaVersion"] = 2.into();
    assert_eq!(errors(&websocket, &v2), Vec::<String>::new());
    v2["eventType"] = "OPEN".into();
    assert!(
        !errors(&websocket, &v2).is_empty(),
        "accepted eventType OPEN"
    );
}
