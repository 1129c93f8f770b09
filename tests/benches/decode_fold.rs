//! Decode + fold throughput on a realistic IoT lifecycle stream, from JSON lines and from
//! MessagePack frames (our local log and archive format).

// criterion's macros generate an undocumented `main` and group function.
#![allow(missing_docs)]
//! Run: `cargo bench -p tests --bench decode_fold`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use projections::{Config, World};
use tests::workload::{bench_stream, decode_and_fold, BENCH_EVENTS};

// The processor's binaries use mimalloc too: the fold allocates small keys and records.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn decode_fold(c: &mut Criterion) {
    let lines = bench_stream();
    let mut group = c.benchmark_group("iot_lifecycle");
    group.throughput(Throughput::Elements(BENCH_EVENTS as u64));
    group.sample_size(10);
    group.bench_function("decode_json", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| schemas::decode_json(l.as_bytes()).is_ok())
                .count()
        })
    });
    group.bench_function("decode_json+fold", |b| {
        // The world is dropped outside the timed region: a process keeps it, and drop is not fold.
        b.iter_batched_ref(
            || World::in_memory(Config::default()),
            |world| {
                for line in &lines {
                    if let Ok(record) = schemas::decode_json(line.as_bytes()) {
                        world.apply(&record);
                    }
                }
            },
            BatchSize::LargeInput,
        )
    });
    let frames = tests::workload::frames_of(&lines);
    // The loops below stop at the first frame that does not decode, and the throughput counts
    // every event: so every frame must decode, by both decoders.
    let folded = decode_and_fold(&mut World::in_memory(Config::default()), &frames);
    assert!(
        matches!(folded, Ok(BENCH_EVENTS)),
        "the bench stream's {BENCH_EVENTS} frames decode and fold: {folded:?}"
    );
    let owned = decoded_owned(&frames);
    assert!(
        matches!(owned, Ok(BENCH_EVENTS)),
        "decode_frame reads the bench stream's {BENCH_EVENTS} frames: {owned:?}"
    );
    // A single-threaded decode+fold loop: one `FrameDecoder`, reusing its records.
    group.bench_function("decode_frame+fold", |b| {
        b.iter_batched_ref(
            || World::in_memory(Config::default()),
            |world| decode_and_fold(world, &frames),
            BatchSize::LargeInput,
        )
    });
    // Decoding alone, as `decode_frame+fold` decodes: with `fold`, it tells where the time of
    // the two together goes.
    group.bench_function("decode_frame", |b| {
        b.iter(|| {
            let mut decoder = schemas::FrameDecoder::new();
            let (mut at, mut n) = (0, 0u64);
            while let Ok(Some((record, used))) = decoder.decode(&frames[at..], at as u64) {
                n += record.event_time() & 1;
                at += used;
            }
            n
        })
    });
    // A new record per frame, as `decode_frame` returns them: how replay's reader thread and the
    // local log's recovery read frames, since they hand records on in batches.
    group.bench_function("decode_frame_owned+fold", |b| {
        b.iter_batched_ref(
            || World::in_memory(Config::default()),
            |world| {
                let mut at = 0;
                while let Ok(Some((record, used))) =
                    schemas::frame::decode_frame(&frames[at..], at as u64)
                {
                    world.apply(&record);
                    at += used;
                }
            },
            BatchSize::LargeInput,
        )
    });
    let records: Vec<schemas::Record> = lines
        .iter()
        .filter_map(|l| schemas::decode_json(l.as_bytes()).ok())
        .collect();
    group.bench_function("fold", |b| {
        b.iter_batched_ref(
            || World::in_memory(Config::default()),
            |world| {
                for record in &records {
                    world.apply(record);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// How many frames [`schemas::frame::decode_frame`] reads from `frames`, up to the first error.
fn decoded_owned(frames: &[u8]) -> Result<usize, schemas::DecodeError> {
    let (mut at, mut n) = (0, 0);
    while let Some((_, used)) = schemas::frame::decode_frame(&frames[at..], at as u64)? {
        at += used;
        n += 1;
    }
    Ok(n)
}

criterion_group!(benches, decode_fold);
criterion_main!(benches);
