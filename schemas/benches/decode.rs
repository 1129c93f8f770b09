//! Decode throughput on a realistic IoT lifecycle mix: JSON as it arrives from Kinesis, and
//! frames as replay reads them from our log. `decode_frame_struct_map` measures the alternative
//! frame encoding (field names in every frame, see `frame_repr.rs`) for comparison.
#![allow(missing_docs)] // criterion's macros generate undocumented public functions.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use schemas::{decode_frame, decode_json, encode_frame, encode_json, FrameReader, Record};
use serde::Serialize;

const EVENTS: usize = 10_000;

/// A deterministic pseudo-random UUID (no RNG dependency, same data every run).
fn uuid(state: &mut u64) -> String {
    let mut next = || {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state
    };
    let (a, b) = (next(), next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Sessions of 1,000 clients: connected, subscribed, unsubscribed, disconnected.
fn lifecycle_mix() -> Vec<Vec<u8>> {
    let mut state = 42;
    let mut out = Vec::with_capacity(EVENTS);
    let mut ts = 1_700_000_000_000u64;
    let mut version = 0;
    while out.len() < EVENTS {
        for client in 0..1000 {
            let session = uuid(&mut state);
            let principal = format!("{:064x}", u128::from(client as u32) * 0x9e37_79b9_7f4a_7c15);
            let id = format!("device-{client:05}");
            ts += 7;
            version += 1;
            out.push(format!(r#"{{"clientId":"{id}","timestamp":{ts},"eventType":"connected","sessionIdentifier":"{session}","principalIdentifier":"{principal}","ipAddress":"198.51.100.{}","versionNumber":{version}}}"#, client % 250));
            out.push(format!(r#"{{"clientId":"{id}","timestamp":{},"eventType":"subscribed","sessionIdentifier":"{session}","principalIdentifier":"{principal}","topics":["devices/{id}/cmd"]}}"#, ts + 1));
            out.push(format!(r#"{{"clientId":"{id}","timestamp":{},"eventType":"unsubscribed","sessionIdentifier":"{session}","principalIdentifier":"{principal}","topics":["devices/{id}/cmd"]}}"#, ts + 2));
            out.push(format!(r#"{{"clientId":"{id}","timestamp":{},"eventType":"disconnected","sessionIdentifier":"{session}","principalIdentifier":"{principal}","clientInitiatedDisconnect":false,"disconnectReason":"MQTT_KEEP_ALIVE_TIMEOUT","versionNumber":{version}}}"#, ts + 3));
        }
    }
    out.truncate(EVENTS);
    out.into_iter().map(String::into_bytes).collect()
}

fn bench(c: &mut Criterion) {
    let json = lifecycle_mix();
    let records: Vec<Record> = json.iter().filter_map(|j| decode_json(j).ok()).collect();
    assert_eq!(records.len(), EVENTS, "the mix decodes");
    let avg_json = json.iter().map(Vec::len).sum::<usize>() / EVENTS;
    assert_eq!(
        decode_json(&encode_json(&records[0])).ok().as_ref(),
        Some(&records[0])
    );

    let mut log = Vec::new();
    for r in &records {
        encode_frame(r, &mut log);
    }
    let mut struct_map = Vec::new();
    for r in &records {
        let mut payload = Vec::new();
        let _ = r.serialize(&mut rmp_serde::Serializer::new(&mut payload).with_struct_map());
        struct_map.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        struct_map.extend_from_slice(&payload);
    }
    println!(
        "mix: {EVENTS} events, JSON {avg_json} B/event, frame {} B/event, struct-map frame {} B/event",
        log.len() / EVENTS,
        struct_map.len() / EVENTS
    );

    let mut group = c.benchmark_group("lifecycle_mix");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("decode_json", |b| {
        b.iter(|| {
            for j in &json {
                black_box(decode_json(black_box(j)).ok());
            }
        })
    });
    group.bench_function("decode_frame", |b| {
        b.iter(|| {
            let mut at = 0;
            while let Ok(Some((record, used))) = decode_frame(&log[at..], at as u64) {
                black_box(record);
                at += used;
            }
            assert_eq!(at, log.len());
        })
    });
    group.bench_function("frame_reader", |b| {
        b.iter(|| {
            let n = FrameReader::new(black_box(log.as_slice()))
                .filter(Result::is_ok)
                .count();
            assert_eq!(n, EVENTS);
        })
    });
    group.bench_function("decode_frame_struct_map", |b| {
        b.iter(|| {
            let mut rest = struct_map.as_slice();
            while let Some((len, tail)) = rest.split_first_chunk::<4>() {
                let len = u32::from_le_bytes(*len) as usize;
                // Same work as a real frame: checksum the payload, then decode it.
                black_box(crc32fast::hash(&tail[..len]));
                black_box(rmp_serde::from_slice::<Record>(&tail[..len]).ok());
                rest = &tail[len..];
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
