//! moto's server for this test binary: started once on a loopback port, shared by its tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
    pub endpoint: String,
    _child: Child,
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

fn program() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("moto_server")
}

/// The shared server, started on first use; panics (fails the test) when it cannot start.
pub fn endpoint() -> &'static str {
    match MOTO.get_or_init(start) {
        Ok(m) => &m.endpoint,
        Err(e) => panic!("{e}"),
    }
}

fn start() -> Result<Moto, String> {
    let program = program();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    // The shell starts moto, then waits for EOF on its stdin: our end of that pipe closes
    // when this process exits, however it exits, and the shell then stops moto.
    let script = format!(
        "command -v '{0}' >/dev/null || exit 127; '{0}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        program.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting sh: {e}"))?;
    let help = format!(
        "cannot start the AWS emulator {}: install it with `python3 -m venv .venv && \
         .venv/bin/pip install 'moto[server]'` at the workspace root, or set MOTO_SERVER",
        program.display()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if ready(port) {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return Err(help);
        }
        if Instant::now() > deadline {
            return Err(format!("{help} (no answer on port {port} within 60 s)"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _child: child,
    })
}

fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/"))
}
