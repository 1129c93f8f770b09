//! Unit tests of `log`.

use super::*;

fn record(i: u64) -> Record {
    schemas::decode_json(
        format!(
            r#"{{"clientId":"c{i}","timestamp":{i},"eventType":"connected","sessionIdentifier":"s{i}","versionNumber":1}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

fn read_all(dir: &Path) -> Vec<Record> {
    LogReader::open(dir, 0)
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect()
}

#[test]
fn appends_and_reads_back_after_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let records: Vec<Record> = (0..10).map(record).collect();
    let end = {
        let mut log = Log::open(&dir, 0, DEFAULT_SEGMENT_BYTES).unwrap().log;
        log.append(&records[..4]).unwrap();
        log.append(&records[4..]).unwrap()
    };
    let opened = Log::open(&dir, end, DEFAULT_SEGMENT_BYTES).unwrap();
    assert_eq!(opened.truncated, 0);
    assert_eq!(opened.log.end(), end);
    assert_eq!(read_all(&dir), records);
}

#[test]
fn rolls_segments_and_reads_across_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let records: Vec<Record> = (0..30).map(record).collect();
    let mut log = Log::open(&dir, 0, 200).unwrap().log;
    let mut ends = Vec::new();
    for chunk in records.chunks(3) {
        ends.push(log.append(chunk).unwrap());
    }
    assert!(segments(&dir).unwrap().len() > 2);
    assert_eq!(read_all(&dir), records);
    // Reading from a batch boundary in the middle yields exactly the rest.
    let rest: Vec<Record> = LogReader::open(&dir, ends[4])
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(rest, records[15..]);
    let reopened = Log::open(&dir, ends[9], 200).unwrap();
    assert_eq!(reopened.log.end(), ends[9]);
}

#[test]
fn truncates_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let records: Vec<Record> = (0..5).map(record).collect();
    let end = Log::open(&dir, 0, DEFAULT_SEGMENT_BYTES)
        .unwrap()
        .log
        .append(&records)
        .unwrap();
    // A crash in the middle of the next write leaves half a frame.
    let mut frame = Vec::new();
    encode_frame(&record(99), &mut frame);
    let path = segment_path(&dir, 0);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&frame[..frame.len() / 2]).unwrap();
    drop(f);

    let opened = Log::open(&dir, end, DEFAULT_SEGMENT_BYTES).unwrap();
    assert_eq!(opened.truncated, (frame.len() / 2) as u64);
    assert_eq!(opened.log.end(), end);
    assert_eq!(fs::metadata(&path).unwrap().len(), end);
    let mut log = opened.log;
    log.append([&record(5)]).unwrap();
    assert_eq!(read_all(&dir).len(), 6);
}

#[test]
fn truncates_a_damaged_uncommitted_frame_but_keeps_the_complete_ones_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut log = Log::open(&dir, 0, DEFAULT_SEGMENT_BYTES).unwrap().log;
    let committed = log.append(&[record(1)]).unwrap();
    let written = log.append(&[record(2)]).unwrap();
    log.append(&[record(3)]).unwrap();
    drop(log);
    // Flip a payload byte of the last frame.
    let path = segment_path(&dir, 0);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&path, bytes).unwrap();

    let opened = Log::open(&dir, committed, DEFAULT_SEGMENT_BYTES).unwrap();
    assert_eq!(opened.log.end(), written);
    let uncommitted: Vec<Record> = LogReader::open(&dir, committed)
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(uncommitted, vec![record(2)]);
}

#[test]
fn refuses_a_store_ahead_of_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let err = Log::open(&dir, 10, DEFAULT_SEGMENT_BYTES).unwrap_err();
    assert!(matches!(err, LogError::StoreAhead { committed: 10, .. }));
}
