//! Runs the real `bootstrap` binary on a free port and captures its output, so runtime tests
//! exercise exactly what FC runs.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous bound for start-up and exit on a loaded machine; a safety net against hanging, not
/// a performance assertion.
const PATIENCE: Duration = Duration::from_secs(30);

pub const BOOTSTRAP: &str = env!("CARGO_BIN_EXE_bootstrap");

/// A running `bootstrap` with its stdout/stderr captured line by line.
pub struct Bootstrap {
    child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// A command for `bootstrap` with a clean environment: port 0, JSON logs.
pub fn command(extra_env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BOOTSTRAP);
    cmd.env_clear()
        .env("FC_CUSTOM_LISTEN_PORT", "0")
        .env("RUST_BACKTRACE", "0");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn capture(
    stream: impl std::io::Read + Send + 'static,
    sink: Arc<Mutex<Vec<String>>>,
    ready: Option<mpsc::Sender<SocketAddr>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &ready {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
            }
            sink.lock().unwrap().push(line);
        }
    })
}

/// The port from the `listening` log line (`"addr":"0.0.0.0:NNNN"`).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["message"] != "listening" {
        return None;
    }
    let bound: SocketAddr = v["addr"].as_str()?.parse().ok()?;
    Some(SocketAddr::from(([127, 0, 0, 1], bound.port())))
}

impl Bootstrap {
    /// Start and wait until the port accepts connections.
    pub fn start(extra_env: &[(&str, &str)]) -> Bootstrap {
        let mut child = command(extra_env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bootstrap starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            capture(child.stdout.take().unwrap(), stdout.clone(), Some(tx)),
            capture(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        let addr = match rx.recv_timeout(PATIENCE) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "bootstrap never logged `listening`; stderr: {:?}",
                    stderr.lock().unwrap()
                );
            }
        };
        Bootstrap {
            child,
            addr,
            stdout,
            stderr,
            readers,
        }
    }

    /// SIGTERM, wait for exit (asserting status 0) and for every output line to be captured.
    /// Use before asserting on output, so no line is still in flight in the pipe.
    pub fn finish(&mut self) {
        self.signal("TERM");
        let status = self.wait();
        assert_eq!(status.code(), Some(0), "bootstrap exit status");
        for reader in self.readers.drain(..) {
            reader.join().expect("output reader");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed to stdout so far, one line per entry.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// stdout and stderr so far, joined.
    pub fn all_output(&self) -> String {
        let mut all = self.stdout.lock().unwrap().join("\n");
        all.push('\n');
        all.push_str(&self.stderr.lock().unwrap().join("\n"));
        all
    }

    /// Block until a stdout line satisfies `pred`.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if self.stdout.lock().unwrap().iter().any(|l| pred(l)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!(
            "expected line never appeared; stdout: {:?}",
            self.stdout_lines()
        );
    }

    /// Send a signal by name (`TERM`, `INT`) with the system `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Wait for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        wait_with_patience(&mut self.child)
    }
}

/// Wait for `child` to exit; kill it and panic if it does not within [`PATIENCE`].
pub fn wait_with_patience(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not exit");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A request to `/invoke` with the given request id.
pub fn invoke(
    client: &reqwest::Client,
    server: &Bootstrap,
    request_id: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    client
        .post(server.url("/invoke"))
        .header("x-fc-request-id", request_id)
        .header("content-type", "application/octet-stream")
        .body(body)
}
