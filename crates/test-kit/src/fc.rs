//! Invoking the function as FC does: `POST /invoke` with FC's headers (request id, the role's
//! credentials, account, region, function name, timeout), and reading the answer.
//!
//! [`Caller`] is who invokes (the headers); [`Function`] is a running `bootstrap` with an HTTP
//! client, for async tests and the demo; [`Conn`] is one blocking keep-alive connection that
//! writes the request by hand, for the bench (no client library between the clock and the
//! function).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use acs_emulator::Emulator;
use serde_json::Value;

use crate::process::{Bootstrap, Launch};
use crate::world::{FUNCTION_ACCOUNT, FUNCTION_NAME, REGION};

/// An access key as FC passes it in the `x-fc-access-key-*` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// `x-fc-access-key-id`.
    pub id: String,
    /// `x-fc-access-key-secret`.
    pub secret: String,
    /// `x-fc-security-token` (absent for a long-term key).
    pub token: Option<String>,
}

impl Key {
    /// A key with a security token, as FC hands out the function role's STS credentials.
    pub fn sts(id: &str, secret: &str, token: &str) -> Key {
        Key {
            id: id.to_string(),
            secret: secret.to_string(),
            token: Some(token.to_string()),
        }
    }
}

/// Who invokes, as FC describes it in the request headers.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The function role's credentials.
    pub key: Key,
    /// `x-fc-account-id`.
    pub account: String,
    /// `x-fc-region`.
    pub region: String,
    /// `x-fc-function-name`.
    pub function_name: String,
    /// `x-fc-function-timeout`, seconds.
    pub timeout_secs: u32,
    /// `content-type`.
    pub content_type: String,
}

impl Caller {
    /// `key` for the function in [`FUNCTION_ACCOUNT`] and [`REGION`], named [`FUNCTION_NAME`],
    /// with a 60-second timeout.
    pub fn new(key: Key) -> Caller {
        Caller {
            key,
            account: FUNCTION_ACCOUNT.to_string(),
            region: REGION.to_string(),
            function_name: FUNCTION_NAME.to_string(),
            timeout_secs: 60,
            content_type: "application/octet-stream".to_string(),
        }
    }

    /// Another `x-fc-function-timeout`.
    pub fn timeout(mut self, secs: u32) -> Caller {
        self.timeout_secs = secs;
        self
    }

    /// Another `content-type`.
    pub fn content_type(mut self, value: &str) -> Caller {
        self.content_type = value.to_string();
        self
    }

    /// Every header FC sends, in a fixed order, for the request `request_id`.
    pub fn headers(&self, request_id: &str) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("x-fc-request-id", request_id.to_string()),
            ("x-fc-access-key-id", self.key.id.clone()),
            ("x-fc-access-key-secret", self.key.secret.clone()),
        ];
        if let Some(token) = &self.key.token {
            headers.push(("x-fc-security-token", token.clone()));
        }
        headers.extend([
            ("x-fc-account-id", self.account.clone()),
            ("x-fc-region", self.region.clone()),
            ("x-fc-function-name", self.function_name.clone()),
            ("x-fc-function-timeout", self.timeout_secs.to_string()),
            ("content-type", self.content_type.clone()),
        ]);
        headers
    }
}

/// A bare `/invoke` request to `server` with only the request id (tests of the runtime contract
/// add the headers they are about).
pub fn invoke(
    client: &reqwest::Client,
    server: &Bootstrap,
    request_id: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    invoke_at(client, &server.url("/invoke"), request_id, body)
}

/// A bare `/invoke` request to the full `url` of any FC custom-runtime server (the runtime's own
/// tests serve in-process, without a [`Bootstrap`]).
pub fn invoke_at(
    client: &reqwest::Client,
    url: &str,
    request_id: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("x-fc-request-id", request_id)
        .header("content-type", "application/octet-stream")
        .body(body)
}

/// Reads a runtime's answer as (HTTP status, `x-fc-status`, JSON body); panics when the body
/// is not JSON (every answer of the FC custom-runtime contract is).
pub async fn read_json(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let fc_status = response
        .headers()
        .get("x-fc-status")
        .map(|v| v.to_str().expect("an ASCII x-fc-status").to_string());
    let bytes = response.bytes().await.expect("the whole body");
    let body = serde_json::from_slice(&bytes).expect("a JSON body");
    (status, fc_status, body)
}

/// The answer to one invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `x-fc-status` header.
    pub fc_status: Option<String>,
    /// The body as text (for leak checks).
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// From sending the request to having the whole response.
    pub elapsed: Duration,
}

impl Answer {
    /// Reads a whole response.
    pub async fn read(response: reqwest::Response, started: Instant) -> reqwest::Result<Answer> {
        let status = response.status().as_u16();
        let fc_status = response
            .headers()
            .get("x-fc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            fc_status,
            text,
            body,
            elapsed: started.elapsed(),
        })
    }

    /// Whether FC would see success: HTTP 200 and `x-fc-status: 200`.
    pub fn is_success(&self) -> bool {
        self.status == 200 && self.fc_status.as_deref() == Some("200")
    }

    /// Whether FC would see a function error: HTTP 404 and `x-fc-status: 404`.
    pub fn is_function_error(&self) -> bool {
        self.status == 404 && self.fc_status.as_deref() == Some("404")
    }

    /// The `errorMessage` of a function error whose `errorType` is `error_type` (panics, with
    /// the whole answer, when the answer is anything else).
    pub fn error(&self, error_type: &str) -> &str {
        assert!(
            self.is_function_error() && self.body["errorType"] == error_type,
            "expected a function error {error_type}, got HTTP {} {:?}: {}",
            self.status,
            self.fc_status,
            self.text
        );
        self.body["errorMessage"]
            .as_str()
            .unwrap_or_else(|| panic!("no errorMessage in {}", self.text))
    }

    /// The report's `results` (panics when there are none).
    pub fn results(&self) -> &Vec<Value> {
        self.body["results"]
            .as_array()
            .unwrap_or_else(|| panic!("no results in {:#}", self.body))
    }

    /// The single result for `resource_id` (panics if it is missing or repeated).
    pub fn result(&self, resource_id: &str) -> &Value {
        let matching: Vec<&Value> = self
            .results()
            .iter()
            .filter(|r| r["resourceId"] == resource_id)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected exactly one result for {resource_id} in {:#}",
            self.body
        );
        matching[0]
    }

    /// The status of `resource_id`'s result.
    pub fn status_of(&self, resource_id: &str) -> &str {
        self.result(resource_id)["status"]
            .as_str()
            .expect("a status string")
    }

    /// The reason of `resource_id`'s result ("" when there is none).
    pub fn reason_of(&self, resource_id: &str) -> &str {
        self.result(resource_id)["reason"].as_str().unwrap_or("")
    }

    /// A list of ids (`revokedRuleIds`, `driftRuleIds`, …) of `resource_id`'s result; an absent
    /// key is an empty list.
    pub fn ids(&self, resource_id: &str, key: &str) -> Vec<String> {
        strings(&self.result(resource_id)[key])
    }
}

/// A JSON array of strings as a vector; anything else is empty.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A running `bootstrap` and the caller that invokes it.
pub struct Function {
    server: Bootstrap,
    client: reqwest::Client,
    caller: Caller,
}

impl Function {
    /// Starts `launch` pointed at `emulator`, with `env` on top; invoked with the fixtures'
    /// function role key ([`crate::world::function_role`]).
    ///
    /// Blocks while waiting for the port; call it from a multi-threaded runtime, so the
    /// emulator's tasks run on the other workers.
    pub fn start(launch: Launch, emulator: &Emulator, env: &[(&str, &str)]) -> Function {
        Function::start_with(launch.emulator(emulator).envs(env))
    }

    /// Like [`Function::start`], without `ECS_ENDPOINT`: ECS calls go to the function's default
    /// (official) endpoints, which a test can observe through `HTTPS_PROXY`.
    pub fn start_with_default_ecs(
        launch: Launch,
        emulator: &Emulator,
        env: &[(&str, &str)],
    ) -> Function {
        Function::start_with(launch.emulator(emulator).without("ECS_ENDPOINT").envs(env))
    }

    /// Starts a launch as it is.
    pub fn start_with(launch: Launch) -> Function {
        let server = tokio::task::block_in_place(|| launch.start());
        Function::from_server(server, Caller::new(crate::world::function_role()))
    }

    /// Wraps a started process.
    pub fn from_server(server: Bootstrap, caller: Caller) -> Function {
        Function {
            server,
            client: reqwest::Client::new(),
            caller,
        }
    }

    /// Invokes as another caller from now on.
    pub fn set_caller(&mut self, caller: Caller) {
        self.caller = caller;
    }

    /// The `bootstrap` process (for its pid, address and output).
    pub fn process(&self) -> &Bootstrap {
        &self.server
    }

    /// The `bootstrap` process, to signal or wait for.
    pub fn server(&mut self) -> &mut Bootstrap {
        &mut self.server
    }

    /// An `/invoke` request with every FC header of the caller and a fresh request id.
    pub fn request(&self, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.request_with(body, &[])
    }

    /// Like [`Function::request`], with some FC headers replaced (an empty value is sent empty).
    pub fn request_with(
        &self,
        body: impl Into<reqwest::Body>,
        overrides: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let request_id = format!("1-{}", uuid::Uuid::new_v4());
        self.request_as(&self.caller, &request_id, body, overrides)
    }

    /// An `/invoke` request from `caller` with the given request id and header overrides.
    pub fn request_as(
        &self,
        caller: &Caller,
        request_id: &str,
        body: impl Into<reqwest::Body>,
        overrides: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut request = self.client.post(self.server.url("/invoke")).body(body);
        for (name, default) in caller.headers(request_id) {
            let value = overrides
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(default.as_str(), |(_, v)| *v);
            request = request.header(name, value);
        }
        request
    }

    /// Sends `body` as is.
    pub async fn invoke_raw(&self, body: impl Into<reqwest::Body>) -> Answer {
        self.send(self.request(body)).await
    }

    /// Sends a JSON event.
    pub async fn invoke(&self, event: &Value) -> Answer {
        self.invoke_raw(event.to_string()).await
    }

    /// Sends a prepared request (e.g. with headers changed).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        self.try_send(request)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Function::send`], with a failure to answer as an error.
    pub async fn try_send(&self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| format!("the function did not answer: {e}"))?;
        Answer::read(response, started)
            .await
            .map_err(|e| format!("unreadable answer: {e}"))
    }

    /// Stops `bootstrap` (asserting a clean exit) and returns every line it printed.
    pub fn finish(mut self) -> Vec<String> {
        tokio::task::block_in_place(|| self.server.finish());
        self.server
            .all_output()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Connects to `port` on loopback as soon as it accepts, polling every 50 µs; gives up after
/// [`crate::process::PATIENCE`] from `started`.
pub fn connect_when_ready(port: u16, started: Instant) -> Result<TcpStream, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(_) if started.elapsed() < crate::process::PATIENCE => {
                std::thread::sleep(Duration::from_micros(50))
            }
            Err(e) => return Err(format!("bootstrap never listened on {port}: {e}")),
        }
    }
}

/// One blocking keep-alive HTTP/1.1 connection to the function, writing FC's request by hand.
pub struct Conn {
    reader: BufReader<TcpStream>,
    /// The headers between the request id and the timeout, written once.
    identity: String,
    content_type: String,
    prefix: String,
    next: u64,
}

impl Conn {
    /// Invokes as `caller`, with request ids `<prefix>-1`, `<prefix>-2`, ….
    pub fn new(stream: TcpStream, caller: Caller, prefix: &str) -> Conn {
        let identity = caller
            .headers("")
            .into_iter()
            .filter(|(name, _)| {
                !matches!(
                    *name,
                    "x-fc-request-id" | "x-fc-function-timeout" | "content-type"
                )
            })
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        Conn {
            reader: BufReader::new(stream),
            identity,
            content_type: caller.content_type,
            prefix: prefix.to_string(),
            next: 0,
        }
    }

    /// `POST /invoke` with FC's headers and `x-fc-function-timeout: timeout_s`; returns the
    /// status and the JSON body.
    pub fn invoke(&mut self, body: &[u8], timeout_s: u32) -> Result<(u16, Value), String> {
        self.next += 1;
        // The same headers, in the same order, as [`Caller::headers`].
        let head = format!(
            "POST /invoke HTTP/1.1\r\nHost: fc\r\nx-fc-request-id: {}-{}\r\n{}\
             x-fc-function-timeout: {timeout_s}\r\ncontent-type: {}\r\n\
             content-length: {}\r\n\r\n",
            self.prefix,
            self.next,
            self.identity,
            self.content_type,
            body.len()
        );
        let stream = self.reader.get_mut();
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|e| format!("send: {e}"))?;
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| format!("status line: {e}"))?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader
                .read_line(&mut line)
                .map_err(|e| format!("headers: {e}"))?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().map_err(|_| "bad content-length")?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader
            .read_exact(&mut body)
            .map_err(|e| format!("body: {e}"))?;
        let body = serde_json::from_slice(&body).map_err(|e| format!("JSON answer: {e}"))?;
        Ok((status, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_sends_every_fc_header_with_the_token_when_there_is_one() {
        let caller = Caller::new(Key::sts("STS.k", "s", "t")).timeout(7);
        let names: Vec<&str> = caller.headers("r-1").iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "x-fc-request-id",
                "x-fc-access-key-id",
                "x-fc-access-key-secret",
                "x-fc-security-token",
                "x-fc-account-id",
                "x-fc-region",
                "x-fc-function-name",
                "x-fc-function-timeout",
                "content-type",
            ]
        );
        assert!(caller
            .headers("r-1")
            .contains(&("x-fc-function-timeout", "7".to_string())));
    }

    #[test]
    fn a_long_term_key_sends_no_security_token() {
        let mut key = Key::sts("LTAI", "s", "t");
        key.token = None;
        let caller = Caller::new(key);
        assert!(caller
            .headers("r")
            .iter()
            .all(|(n, _)| *n != "x-fc-security-token"));
    }

    #[test]
    fn a_conn_writes_the_callers_headers_and_reads_the_json_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let mut body = [0u8; 2];
            reader.read_exact(&mut body).unwrap();
            let answer = r#"{"ok":true}"#;
            write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
            (head, body)
        });
        let stream = connect_when_ready(port, Instant::now()).unwrap();
        let mut conn = Conn::new(stream, Caller::new(Key::sts("STS.k", "s", "t")), "t");
        let (status, body) = conn.invoke(b"[]", 9).unwrap();
        assert_eq!((status, body), (200, serde_json::json!({"ok": true})));
        let (head, sent) = server.join().unwrap();
        assert_eq!(&sent, b"[]");
        let caller = Caller::new(Key::sts("STS.k", "s", "t")).timeout(9);
        let mut expected = vec!["POST /invoke HTTP/1.1".to_string(), "Host: fc".to_string()];
        expected.extend(
            caller
                .headers("t-1")
                .into_iter()
                .map(|(n, v)| format!("{n}: {v}")),
        );
        expected.push("content-length: 2".to_string());
        assert_eq!(head, expected);
    }
}
