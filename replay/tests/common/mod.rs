//! Helpers shared by replay's tests: inputs, the expected projections (the fold run directly),
//! and running `replay` as a library or as the built binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::Parser;
use projections::{Config, World};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The README's example stream: every record kind, one corrupt line (19).
pub fn seeds() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/seeds.jsonl"
    ))
    .unwrap();
    text.lines().map(str::to_owned).collect()
}

/// The seeds' good lines followed by a realistic IoT lifecycle workload.
pub fn workload() -> Vec<String> {
    let mut lines: Vec<String> = seeds()
        .into_iter()
        .filter(|l| schemas::decode_json(l.as_bytes()).is_ok())
        .collect();
    lines.extend(tests::workload::iot_lifecycle_lines(3_000, 200, 11));
    lines
}

/// What the fold derives from `lines` (undecodable ones skipped), one JSON line per client.
pub fn expected(lines: &[String], keep: impl Fn(u64) -> bool) -> String {
    let mut world = World::in_memory(Config::default());
    for line in lines {
        if let Ok(record) = schemas::decode_json(line.as_bytes()) {
            if keep(record.event_time()) {
                world.apply(&record);
            }
        }
    }
    world
        .clients()
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect()
}

/// Frames of the decodable `lines`.
pub fn frames(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        if let Ok(record) = schemas::decode_json(line.as_bytes()) {
            schemas::encode_frame(&record, &mut out);
        }
    }
    out
}

/// Gzips `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Runs `replay rebuild` in-process with `args` (after `rebuild`) and a jsonl sink in `dir`,
/// returning what it wrote.
pub fn rebuild(dir: &Path, args: &[&str]) -> String {
    let out = dir.join(format!("out-{}.jsonl", unique()));
    let to = format!("jsonl:{}", out.display());
    let mut argv = vec!["replay", "rebuild", "--quiet", "--to", &to];
    argv.extend_from_slice(args);
    let cli = replay::cli::Cli::try_parse_from(argv).unwrap();
    replay::run(&cli.command).unwrap();
    std::fs::read_to_string(out).unwrap()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Writes `bytes` to `dir/name` (creating parent directories) and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs the built `replay` binary.
pub fn replay_bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the built `replay` binary with dummy AWS credentials and region (for an emulator).
pub fn replay_bin_env(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

/// A binary run's stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A binary run's stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
