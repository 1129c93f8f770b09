//! Unit tests of `json_fast`.

use super::*;
use proptest::prelude::*;

fn serde_wire(text: &str) -> Option<Wire<'_>> {
    serde_json::from_str::<Wire<'_>>(text).ok()
}

const LINE: &str = r#"{"clientId":"device-000042","timestamp":1700000000123,"eventType":"subscribed","sessionIdentifier":"953aeb70-673e-29cb-73d3-3b666a1e21da","principalIdentifier":"ab12","topics":["app/device-000042/chat/7","devices/x/cmd"]}"#;

#[test]
fn takes_the_lifecycle_records_aws_writes() {
    let fast = wire(LINE).expect("a flat lifecycle record takes the fast path");
    assert_eq!(Some(&fast), serde_wire(LINE).as_ref());
    assert_eq!(fast.topics.as_ref().map(Vec::len), Some(2));
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    // AWS's documented examples, pretty-printed, and seed 003's pair.
    for name in [
        "aws_connected",
        "aws_disconnected",
        "aws_subscribed",
        "aws_unsubscribed",
        "aws_connect_failed",
        "seed003_connected",
        "seed003_disconnected",
        "disconnected_unknown_reason",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let fast = wire(&text).unwrap_or_else(|| panic!("{name} declined"));
        assert_eq!(Some(fast), serde_wire(&text), "{name}");
    }
}

#[test]
fn declines_what_it_cannot_be_sure_of() {
    for text in [
        // Another kind's field, a nested value, an escape, a null, a float, a duplicate,
        // a leading zero, trailing bytes, a trailing comma, a number too large.
        r#"{"kind":"websocket","eventType":"CONNECT"}"#,
        r#"{"eventType":"connected","extra":{"a":1}}"#,
        r#"{"eventType":"connected","clientId":"a\"b"}"#,
        r#"{"eventType":"connected","clientId":null}"#,
        r#"{"eventType":"connected","timestamp":1.5}"#,
        r#"{"eventType":"connected","timestamp":1e3}"#,
        r#"{"eventType":"connected","clientId":"a","clientId":"b"}"#,
        r#"{"eventType":"connected","timestamp":01}"#,
        r#"{"eventType":"connected"} x"#,
        r#"{"eventType":"connected",}"#,
        r#"{"eventType":"connected","timestamp":18446744073709551616}"#,
        r#"{"eventType":"connected","clientId":"tab	inside"}"#,
    ] {
        assert!(wire(text).is_none(), "{text}");
    }
}

#[test]
fn stop_finds_the_first_quote_backslash_or_control_byte() {
    let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
    let mut cases: Vec<Vec<u8>> = vec![Vec::new(), b"abc".to_vec(), b"0123456789abcdef".to_vec()];
    for len in 0..20 {
        for at in 0..len {
            for special in [
                b'"', b'\\', 0x00, 0x1f, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 0x20,
            ] {
                let mut bytes = vec![b'a'; len];
                bytes[at] = special;
                // Bytes just above the bounds below the special one.
                if at > 0 {
                    bytes[at - 1] = 0x20;
                }
                cases.push(bytes);
            }
        }
    }
    for bytes in &cases {
        assert_eq!(stop(bytes), naive(bytes), "{bytes:?}");
    }
}

/// Keys: every field of `Wire` (the lifecycle ones and the other kinds'), unknown ones, and
/// an escaped spelling of a known one (which serde unescapes).
fn key() -> impl Strategy<Value = String> {
    let mut named = crate::wire::WIRE_FIELDS.to_vec();
    named.extend(["topic", "futureField", "client\\u0049d", ""]);
    prop_oneof![
        3 => prop::sample::select(named).prop_map(str::to_owned),
        1 => "[a-zA-Z]{1,6}",
    ]
}

/// Values of every JSON shape, valid or not, near the edges the fast path must get right.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/+#-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        prop::sample::select(vec![
            "\"connected\"",
            "\"subscribed\"",
            "\"disconnected\"",
            "\"a\\\"b\"",
            "\"a\\u0041\"",
            "\"é😀\"",
            "\"tab\tin\"",
            "0",
            "7",
            "01",
            "-3",
            "-",
            "1.5",
            "2e3",
            "18446744073709551615",
            "18446744073709551616",
            "true",
            "false",
            "null",
            "tru",
            "[]",
            "[\"a\"]",
            "[ \"a\" , \"b\" ]",
            "[\"a\",]",
            "[1]",
            "[\"a\" \"b\"]",
            "{}",
            "{\"a\":1}",
            "\"unterminated",
        ])
        .prop_map(str::to_owned),
        any::<u64>().prop_map(|n| n.to_string()),
    ]
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n  ", "\t", "\r\n"])
}

/// An object from generated fields, with whitespace anywhere JSON allows it, sometimes
/// with a byte cut off or added.
fn object() -> impl Strategy<Value = String> {
    let field = (key(), value(), ws(), ws(), ws(), ws());
    (
        prop::collection::vec(field, 0..8),
        ws(),
        ws(),
        prop_oneof![
            3 => Just(String::new()),
            1 => "[,}\\]x ]".prop_map(|s| s),
        ],
        any::<bool>(),
    )
        .prop_map(|(fields, open, close, tail, cut)| {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v, a, b, c, d)| format!("{a}\"{k}\"{b}:{c}{v}{d}"))
                .collect();
            let mut text = format!("{open}{{{}}}{close}{tail}", body.join(","));
            if cut {
                text.pop();
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Eight at a time finds what one at a time finds, whatever the bytes.
    #[test]
    fn stop_agrees_with_a_byte_loop(bytes in prop::collection::vec(
        prop_oneof![any::<u8>(), Just(b'"'), Just(b'\\'), Just(0x20u8), Just(0x21u8)], 0..40)
    ) {
        let naive = bytes.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        prop_assert_eq!(stop(&bytes), naive);
    }

    /// Whatever the fast path accepts, serde decodes, to the same fields.
    #[test]
    fn fast_path_agrees_with_serde(text in object()) {
        if let Some(fast) = wire(&text) {
            prop_assert_eq!(Some(fast), serde_wire(&text), "{}", text);
        }
    }
}
