//! Every local source format rebuilds the same projections as the fold run directly, and so do
//! a shuffled and duplicated archive, a directory of parts, and the time and client filters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use replay::source::kinesis_wrap::{wrap_data, wrap_lambda};

#[test]
fn every_format_rebuilds_the_same_projections() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lines = workload();
    let want = expected(&lines, |_| true);
    assert!(want.lines().count() > 100);

    let jsonl = lines.join("\n") + "\n";
    let concat = lines.concat();
    let frames = frames(&lines);
    let lambda: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| wrap_lambda(l, i as u64))
        .collect();
    let data: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| wrap_data(l, i as u64))
        .collect();
    let event = format!(r#"{{"Records":[{}]}}"#, lambda.join(","));
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("a.jsonl", jsonl.clone().into_bytes()),
        ("b.json", concat.clone().into_bytes()),
        ("c.frames", frames.clone()),
        ("d.jsonl.gz", gzip(jsonl.as_bytes())),
        // No telling extension: gzip is detected by its magic bytes.
        ("e", gzip(concat.as_bytes())),
        ("f.gz", gzip(&frames)),
        ("g.jsonl", (lambda.join("\n") + "\n").into_bytes()),
        ("h.json", data.concat().into_bytes()),
        ("i.json", event.into_bytes()),
        ("j.json", gzip(lambda.concat().as_bytes())),
    ];
    for (name, bytes) in inputs {
        let path = write(dir, name, &bytes);
        let got = rebuild(dir, &["--from", path.to_str().unwrap()]);
        assert_eq!(got, want, "format of {name}");
    }
}

#[test]
fn a_firehose_directory_is_read_in_sorted_path_order() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("archive");
    let lines = workload();
    let want = expected(&lines, |_| true);
    // Parts in hour directories, mixed formats; names created out of order.
    let parts: Vec<&[String]> = lines.chunks(lines.len() / 3 + 1).collect();
    write(
        &archive,
        "2024/11/23/10/part-c.gz",
        &gzip(parts[2].concat().as_bytes()),
    );
    write(
        &archive,
        "2024/11/23/08/part-a",
        parts[0].concat().as_bytes(),
    );
    write(&archive, "2024/11/23/09/part-b", &frames(parts[1]));
    write(&archive, "2024/11/23/09/.hidden", b"not a record");
    let got = rebuild(tmp.path(), &["--from", archive.to_str().unwrap()]);
    assert_eq!(got, want);
}

#[test]
fn a_shuffled_and_duplicated_archive_gives_the_same_projections() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = workload();
    let want = expected(&lines, |_| true);
    let mut rng = tests::workload::Rng::new(3);
    let mut shuffled = lines.clone();
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let dups: Vec<String> = (0..shuffled.len() / 5)
        .map(|_| shuffled[rng.below(shuffled.len() as u64) as usize].clone())
        .collect();
    shuffled.extend(dups);
    let path = write(tmp.path(), "shuffled.jsonl", shuffled.join("\n").as_bytes());
    assert_eq!(
        rebuild(tmp.path(), &["--from", path.to_str().unwrap()]),
        want
    );
}

#[test]
fn until_and_since_cut_by_event_time_and_client_restricts_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = seeds();
    let path = write(
        tmp.path(),
        "seeds.jsonl",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let from = path.to_str().unwrap();

    // 08:20:30Z: after bob's message, before his app drops (seed 000) and sensor-7's takeover.
    let until = 1_732_350_030_000;
    let got = rebuild(
        tmp.path(),
        &["--from", from, "--until", "2024-11-23T08:20:30Z"],
    );
    assert_eq!(got, expected(&lines, |t| t <= until));
    assert_ne!(got, expected(&lines, |_| true));
    let epoch = rebuild(tmp.path(), &["--from", from, "--until", &until.to_string()]);
    assert_eq!(epoch, got);

    let since = 1_732_350_030_000;
    let got = rebuild(
        tmp.path(),
        &["--from", from, "--since", "2024-11-23T08:20:30.000Z"],
    );
    assert_eq!(got, expected(&lines, |t| t >= since));

    let all = expected(&lines, |_| true);
    let got = rebuild(
        tmp.path(),
        &["--from", from, "--client", "sensor-7", "--client", "bob"],
    );
    let want: String = all
        .lines()
        .filter(|l| l.contains(r#""clientId":"bob""#) || l.contains(r#""clientId":"sensor-7""#))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, want);
    assert_eq!(got.lines().count(), 2);
}

/// `--until` cuts by arrival where the archive keeps it (Kinesis-wrapped records): a
/// disconnect stamped before U that only arrived after U is not folded, as the processor had not
/// seen it at U; `--event-time` folds it (the event-time view).
#[test]
fn until_cuts_by_arrival_where_known_and_event_time_on_request() {
    use base64::Engine;
    let t0: u64 = 1_732_350_000_000;
    let wrapped = |record: serde_json::Value, arrived_ms: u64| {
        let data = base64::engine::general_purpose::STANDARD.encode(record.to_string());
        serde_json::json!({"data": data, "partitionKey": "c1",
            "approximateArrivalTimestamp": arrived_ms as f64 / 1000.0})
        .to_string()
    };
    let lines = [
        wrapped(
            serde_json::json!({"eventType":"connected","clientId":"c1","timestamp":t0,
                "sessionIdentifier":"s1","versionNumber":1}),
            t0 + 100,
        ),
        // Stamped a minute later, delayed ten minutes on its way to the stream.
        wrapped(
            serde_json::json!({"eventType":"disconnected","clientId":"c1","timestamp":t0 + 60_000,
                "sessionIdentifier":"s1","versionNumber":1,
                "disconnectReason":"CONNECTION_LOST"}),
            t0 + 600_000,
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "wrapped.jsonl", lines.join("\n").as_bytes());
    let from = path.to_str().unwrap();
    let until = (t0 + 300_000).to_string();
    let connected = |out: &str| -> bool {
        let c: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        c["connected"].as_bool().unwrap()
    };

    let by_arrival = rebuild(tmp.path(), &["--from", from, "--until", &until]);
    assert!(connected(&by_arrival), "{by_arrival}");
    let by_event = rebuild(
        tmp.path(),
        &["--from", from, "--until", &until, "--event-time"],
    );
    assert!(!connected(&by_event), "{by_event}");
    // After both arrived, the two views agree.
    let later = (t0 + 900_000).to_string();
    assert!(!connected(&rebuild(
        tmp.path(),
        &["--from", from, "--until", &later]
    )));
}
