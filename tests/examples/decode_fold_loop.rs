//! The criterion bench's decode frames + fold loop (`benches/decode_fold.rs`, the same stream of
//! 200,000 lifecycle events over 10,000 clients), run a given number of times, for counting its
//! instructions: `scripts/bench/instructions` runs it under cachegrind once and three times and
//! halves the difference, which leaves out building the stream. Unlike time, the count does not
//! drift with the machine, so it can tell a change of a few percent.
//!
//! Run: `cargo run --profile bench -p tests --example decode_fold_loop -- 3` (prints the events
//! folded per run).

// The processor's binaries and the bench use mimalloc too: the fold allocates small keys and
// records, and the allocator's instructions count.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use projections::{Config, World};

const EVENTS: usize = 200_000;
const CLIENTS: usize = 10_000;

fn main() {
    let runs: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("decode_fold_loop: the number of runs must be a count: {e}");
            std::process::exit(2);
        }
    };
    let frames =
        tests::workload::frames_of(&tests::workload::iot_lifecycle_lines(EVENTS, CLIENTS, 42));
    let mut folded = 0;
    for _ in 0..runs {
        let mut world = World::in_memory(Config::default());
        folded = tests::workload::decode_and_fold(&mut world, &frames);
        std::hint::black_box(&world);
    }
    println!("{folded}");
}
