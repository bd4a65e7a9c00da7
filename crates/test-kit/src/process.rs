//! The `bootstrap` process: how it is started (a [`Launch`], a small builder over its command
//! line and environment) and, once running, its address and output ([`Bootstrap`]).
//!
//! Started the way FC starts it: a clean environment, the port in `FC_CUSTOM_LISTEN_PORT`, the
//! cloud endpoints in `CONFIG_ENDPOINT` / `ECS_ENDPOINT` / `STS_ENDPOINT` when it meets the
//! emulator. By default the port is 0 and the address is read from the `listening` log line, so
//! tests never race for a port; the bench picks a free port itself and discards the output, so
//! its cold-start figures include nothing but the process.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_emulator::Emulator;

use crate::replay::Replay;

/// Generous bound for start-up and exit on a loaded machine; a safety net against hanging, not
/// a performance assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How to start `bootstrap`: the binary, its environment and where its output goes.
///
/// `sg_test_kit::bootstrap!()` gives the launch of the package's own `bootstrap` (inside an
/// integration test); [`Launch::new`] takes any binary (the demo, the bench).
#[derive(Debug, Clone)]
pub struct Launch {
    binary: PathBuf,
    env: BTreeMap<String, String>,
    discard_output: bool,
}

impl Launch {
    /// `binary` with a clean environment: port 0 (any free port), no backtraces.
    pub fn new(binary: impl Into<PathBuf>) -> Launch {
        let mut env = BTreeMap::new();
        env.insert("FC_CUSTOM_LISTEN_PORT".to_string(), "0".to_string());
        env.insert("RUST_BACKTRACE".to_string(), "0".to_string());
        Launch {
            binary: binary.into(),
            env,
            discard_output: false,
        }
    }

    /// The binary this launch starts.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Sets one environment variable (replacing an earlier value).
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Launch {
        self.env.insert(name.to_string(), value.into());
        self
    }

    /// Sets several environment variables, in order.
    pub fn envs(mut self, pairs: &[(&str, &str)]) -> Launch {
        for (name, value) in pairs {
            self.env.insert((*name).to_string(), (*value).to_string());
        }
        self
    }

    /// Leaves a variable unset (e.g. `ECS_ENDPOINT`, to reach the default endpoints).
    pub fn without(mut self, name: &str) -> Launch {
        self.env.remove(name);
        self
    }

    /// Points the function at the emulator's Config, ECS, STS and ActionTrail endpoints.
    pub fn emulator(self, emulator: &Emulator) -> Launch {
        self.env("CONFIG_ENDPOINT", emulator.config_endpoint())
            .env("ECS_ENDPOINT", emulator.ecs_endpoint())
            .env("STS_ENDPOINT", emulator.sts_endpoint())
            .env("ACTIONTRAIL_ENDPOINT", emulator.actiontrail_endpoint())
    }

    /// Points the API endpoints at `replay`'s listeners instead (the bench's warm cases
    /// without the emulator's CPU).
    pub fn replay(self, replay: &Replay) -> Launch {
        self.env("CONFIG_ENDPOINT", replay.endpoint(0))
            .env("ECS_ENDPOINT", replay.endpoint(1))
            .env("STS_ENDPOINT", replay.endpoint(2))
    }

    /// Listens on `port` instead of a free port chosen by the system.
    pub fn port(self, port: u16) -> Launch {
        self.env("FC_CUSTOM_LISTEN_PORT", port.to_string())
    }

    /// Sends stdout and stderr to `/dev/null` (FC collects them through a pipe; writing to
    /// `/dev/null` keeps the write cost without a reader). Only with [`Launch::spawn`].
    pub fn discard_output(mut self) -> Launch {
        self.discard_output = true;
        self
    }

    /// The command, not yet spawned (stdin closed; stdout and stderr as the caller sets them).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.env_clear().envs(&self.env).stdin(Stdio::null());
        cmd
    }

    /// Spawns the process and returns at once, without waiting for the port (the bench times
    /// that itself).
    pub fn spawn(&self) -> Result<Spawned, String> {
        let mut cmd = self.command();
        if self.discard_output {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.binary.display()))?;
        Ok(Spawned { child })
    }

    /// Starts the process and waits until it logs `listening`; its output is captured line by
    /// line.
    pub fn try_start(&self) -> Result<Bootstrap, String> {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            capture(child.stdout.take(), stdout.clone(), Some(tx)),
            capture(child.stderr.take(), stderr.clone(), None),
        ];
        match rx.recv_timeout(PATIENCE) {
            Ok(addr) => Ok(Bootstrap {
                child,
                addr,
                stdout,
                stderr,
                readers,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = stderr.lock().expect("stderr lines").join("\n");
                Err(format!(
                    "{} never logged `listening`; stderr:\n{stderr}",
                    self.binary.display()
                ))
            }
        }
    }

    /// Like [`Launch::try_start`], panicking on failure (for tests).
    pub fn start(&self) -> Bootstrap {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The launch of the calling package's `bootstrap` binary (an integration test's
/// `CARGO_BIN_EXE_bootstrap`), as a [`Launch`] to add environment to.
#[macro_export]
macro_rules! bootstrap {
    () => {
        $crate::Launch::new(env!("CARGO_BIN_EXE_bootstrap"))
    };
}

fn capture(
    stream: Option<impl std::io::Read + Send + 'static>,
    sink: Arc<Mutex<Vec<String>>>,
    ready: Option<mpsc::Sender<SocketAddr>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(stream) = stream else { return };
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &ready {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
            }
            sink.lock().expect("output lines").push(line);
        }
    })
}

/// The port from the `listening` log line (`"addr":"0.0.0.0:NNNN"`), on loopback.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["message"] != "listening" {
        return None;
    }
    let bound: SocketAddr = v["addr"].as_str()?.parse().ok()?;
    Some(SocketAddr::from(([127, 0, 0, 1], bound.port())))
}

/// A port free on loopback right now (for [`Launch::port`]).
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// A running `bootstrap` with its stdout/stderr captured line by line.
pub struct Bootstrap {
    child: Child,
    /// Where it listens, on loopback.
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Bootstrap {
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

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed to stdout so far, one line per entry.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout lines").clone()
    }

    /// stdout and stderr so far, joined.
    pub fn all_output(&self) -> String {
        let mut all = self.stdout.lock().expect("stdout lines").join("\n");
        all.push('\n');
        all.push_str(&self.stderr.lock().expect("stderr lines").join("\n"));
        all
    }

    /// Block until a stdout line satisfies `pred`.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if self
                .stdout
                .lock()
                .expect("stdout lines")
                .iter()
                .any(|l| pred(l))
            {
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
        assert!(signal(self.pid(), name), "kill -{name} failed");
    }

    /// Wait for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        wait_with_patience(&mut self.child)
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

/// A `bootstrap` spawned by [`Launch::spawn`]: not waited for, output not captured.
pub struct Spawned {
    child: Child,
}

impl Spawned {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait (polling every 2 ms) for the exit; killed after [`PATIENCE`].
    pub fn stop(mut self) {
        signal(self.child.id(), "TERM");
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `kill -<name> <pid>`; whether it succeeded.
fn signal(pid: u32, name: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_a_loopback_address() {
        let line = r#"{"level":"INFO","message":"listening","addr":"0.0.0.0:9123"}"#;
        assert_eq!(
            listening_addr(line),
            Some(SocketAddr::from(([127, 0, 0, 1], 9123)))
        );
    }

    #[test]
    fn other_lines_give_no_address() {
        assert_eq!(
            listening_addr(r#"{"message":"ready","addr":"0.0.0.0:1"}"#),
            None
        );
        assert_eq!(listening_addr("listening on 0.0.0.0:1"), None);
    }

    #[test]
    fn a_launch_starts_from_a_clean_environment_on_port_zero() {
        let cmd = Launch::new("/bin/true")
            .env("A", "1")
            .without("RUST_BACKTRACE")
            .command();
        let env: BTreeMap<String, String> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
            .collect();
        assert_eq!(
            env,
            BTreeMap::from([
                ("A".to_string(), "1".to_string()),
                ("FC_CUSTOM_LISTEN_PORT".to_string(), "0".to_string()),
            ])
        );
    }
}
