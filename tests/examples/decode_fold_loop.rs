//! The criterion bench's decode frames + fold loop (`benches/decode_fold.rs`, on the same stream,
//! `tests::workload::bench_stream`), run a given number of times, for counting its instructions:
//! `scripts/bench/instructions` runs it under cachegrind once and three times and halves the
//! difference, which leaves out building the stream. Unlike time, the count does not drift with
//! the machine, so it can tell a change of a few percent.
//!
//! Run: `cargo run --profile bench -p tests --example decode_fold_loop -- 3` (prints the events
//! folded per run).

// The processor's binaries and the bench use mimalloc too: the fold allocates small keys and
// records, and the allocator's instructions count.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use projections::{Config, World};

fn main() {
    let runs: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("decode_fold_loop: the number of runs must be a count: {e}");
            std::process::exit(2);
        }
    };
    let frames = tests::workload::frames_of(&tests::workload::bench_stream());
    let mut folded = 0;
    for _ in 0..runs {
        let mut world = World::in_memory(Config::default());
        folded = match tests::workload::decode_and_fold(&mut world, &frames) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("decode_fold_loop: the stream's frames must decode: {e}");
                std::process::exit(1);
            }
        };
        std::hint::black_box(&world);
    }
    println!("{folded}");
}
