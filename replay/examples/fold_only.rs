//! How fast the fold alone runs on an archive, to tell whether replay is capped by it: the
//! records are decoded into memory first, then only `World::apply` is timed.
//!
//! ```text
//! cargo run --release -p replay --example fold_only -- /tmp/big.frames
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use projections::{Config, World};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: fold_only FRAMES_FILE");
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let records: Vec<schemas::Record> = schemas::FrameReader::new(file)
        .map(Result::unwrap)
        .collect();
    for run in 1..=3 {
        let mut world = World::in_memory(Config::default());
        let t = Instant::now();
        for r in &records {
            drop(world.apply(r));
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "run {run}: {} events in {secs:.3} s: {:.0} events/s (fold only)",
            records.len(),
            records.len() as f64 / secs
        );
        std::mem::forget(world);
    }
}
