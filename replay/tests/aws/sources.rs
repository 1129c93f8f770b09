//! The `s3://` (Firehose archive) and `kinesis://` sources.

use crate::common::{expected, gzip, workload};
use crate::{fixture, moto, put_lines, rebuild_jsonl, rt, sdk, unique, DAY, HOUR};

#[test]
fn s3_source_reads_the_firehose_hours_of_the_window() {
    let rt = rt();
    let bucket = unique("archive");
    let s3 = rt.block_on(async {
        let sdk = sdk().await;
        let s3 = replay::aws::s3_client(&sdk, Some(moto()));
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3
    });
    // Hours 07..=11 of the day; each hour's object holds records of that hour, and the 09 and
    // 11 objects also hold a late arrival from the hour before (within the buffer interval).
    let mut all = Vec::new();
    let mut objects = Vec::new();
    for hour in 7..=11u64 {
        let start = DAY + hour * HOUR;
        let mut lines = Vec::new();
        if hour == 9 || hour == 11 {
            let late = start - 60_000;
            lines.push(tests::aws::ws_connect(
                &format!("late-{hour}"),
                &format!("late-client-{hour}"),
                late,
            ));
        }
        for i in 0..20u64 {
            let t = start + i * 60_000 + 1_000;
            let client = format!("c{}", i % 7);
            lines.push(tests::aws::ws_connect(
                &format!("conn-{hour}-{i}"),
                &client,
                t,
            ));
        }
        all.extend(lines.iter().cloned());
        let key = format!("firehose/2024/11/23/{hour:02}/raw-1-2024-11-23-{hour:02}-00-00-x");
        if hour == 10 {
            // Firehose's default: concatenated JSON, not gzipped.
            objects.push((key, lines.concat().into_bytes()));
        } else {
            objects.push((
                format!("{key}.gz"),
                gzip((lines.join("\n") + "\n").as_bytes()),
            ));
        }
    }
    rt.block_on(async {
        for (key, body) in objects {
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let from = format!("s3://{bucket}/firehose/");

    // Everything.
    let got = rebuild_jsonl(tmp.path(), &from, &[]);
    assert_eq!(got, expected(&all, |_| true));

    // 09:30 to 10:30: objects 08 (the hour before), 09, 10 and 11 (the hour after) are read,
    // then records are filtered by event time.
    let (since, until) = (DAY + 9 * HOUR + HOUR / 2, DAY + 10 * HOUR + HOUR / 2);
    let window = [
        "--since".to_owned(),
        since.to_string(),
        "--until".to_owned(),
        until.to_string(),
    ];
    let window: Vec<&str> = window.iter().map(String::as_str).collect();
    let got = rebuild_jsonl(tmp.path(), &from, &window);
    let want = expected(&all, |t| (since..=until).contains(&t));
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // --until 08:59:59.999: the 09 object (the hour after) is read too, for the record of
    // 08:59 that arrived at 09:00.
    let got = rebuild_jsonl(
        tmp.path(),
        &from,
        &["--until", &(DAY + 9 * HOUR - 1).to_string()],
    );
    assert!(got.contains("late-client-9"), "{got}");
    assert_eq!(got, expected(&all, |t| t < DAY + 9 * HOUR));
}

#[test]
fn kinesis_source_reads_every_shard_to_its_end() {
    let rt = rt();
    let (kinesis, _, plan) = rt.block_on(fixture(3));
    let lines = workload();
    rt.block_on(put_lines(&kinesis, &plan.stream, &lines));
    let tmp = tempfile::tempdir().unwrap();
    let got = rebuild_jsonl(tmp.path(), &format!("kinesis://{}", plan.stream), &[]);
    assert_eq!(got, expected(&lines, |_| true));
    assert!(!got.is_empty());
}
