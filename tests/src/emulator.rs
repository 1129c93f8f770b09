//! The AWS emulator for integration tests: moto's server (PyPI `moto[server]`), started by the
//! test binary itself on a free loopback port, shared by every test of the binary, and stopped
//! when the binary exits (it is started under a shell that kills it when our pipe closes).
//!
//! `scripts/test` installs moto into `.venv` at the repository root. It is found as `$MOTO_SERVER`,
//! else there, else on `PATH`; when it cannot be found, [`emulator`] fails the test saying so:
//! tests are never skipped silently.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the server may take to start.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    /// `http://127.0.0.1:{port}`.
    pub endpoint: String,
    _child: Child,
}

static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();
static NAMES: AtomicU64 = AtomicU64::new(0);

/// The shared emulator, started on first use.
///
/// # Errors
/// moto is not installed (run `scripts/test`), or it did not start before the deadline.
pub fn emulator() -> Result<&'static Emulator, String> {
    EMULATOR.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// A name no other test of this run uses: `{prefix}-{pid}-{n}`.
pub fn unique(prefix: &str) -> String {
    let n = NAMES.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

fn moto_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join(".venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    })
}

fn start() -> Result<Emulator, String> {
    let bin = moto_server().ok_or(
        "moto_server not found ($MOTO_SERVER, .venv/bin, PATH): run scripts/test, which installs it",
    )?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    // The shell starts moto, then waits for EOF on its stdin: our end of that pipe closes when
    // this process exits, however it exits, and the shell then stops moto.
    let script = format!(
        "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        bin.display()
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let emulator = Emulator {
        endpoint: format!("http://127.0.0.1:{port}"),
        _child: child,
    };
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    while !ready(port) {
        if started.elapsed() > START_DEADLINE {
            return Err(format!(
                "moto_server did not answer on port {port} within {START_DEADLINE:?}"
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
    Ok(emulator)
}

/// Whether the server answers an HTTP request.
fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/"))
}

/// SDK configuration for the emulator (dummy credentials, `us-east-1`).
///
/// # Errors
/// The emulator is not available.
pub async fn sdk_config() -> Result<aws_config::SdkConfig, String> {
    let e = emulator()?;
    Ok(aws_adapters::clients::emulator_config(&e.endpoint).await)
}
