//! A stand-in for the cloud that costs next to no CPU: [`Replay`] answers each API call with the
//! bytes the emulator answered for the same call of a recorded invocation.
//!
//! Why it exists: `make bench`'s warm latency runs the function and the emulator on the same
//! two cores, one call after another. The emulator verifies every signature, checks every
//! parameter against the API's contract and renders its answers from its state, and so spends
//! about as much CPU per call as the function. On Function Compute that work is the cloud's,
//! not the instance's. Replaying recorded answers takes the rig's work out of the wall time;
//! what is left is the function's own latency over loopback.
//!
//! It checks nothing itself: the recorded invocation went through the emulator, which checked
//! it, and the caller checks the report of every replayed invocation. Made for one invocation
//! at a time: each listener's calls are replayed in the order they were recorded. (Across
//! listeners there is no fixed order: the function reads Config and ECS at the same time.)

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use acs_emulator::Emulator;

/// Three listeners, one per emulator listener (Config, ECS, STS, in that order), recording
/// through to it or replaying. `Launch::replay` points `bootstrap`'s endpoints at them.
pub struct Replay {
    listeners: Vec<SocketAddr>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    replaying: bool,
    tape: Vec<Call>,
    /// How many calls each listener (Config, ECS, STS) has had answered, while replaying.
    next: [usize; 3],
    /// The first call that did not match the tape, while replaying.
    mismatch: Option<String>,
}

/// One recorded call: which listener, which action, and the answer's bytes as sent.
struct Call {
    service: usize,
    action: String,
    answer: Vec<u8>,
}

impl Replay {
    /// Starts the listeners in recording mode, forwarding to `emulator`.
    pub fn start(emulator: &Emulator) -> Result<Replay, String> {
        let mut upstreams = Vec::new();
        for endpoint in [
            emulator.config_endpoint(),
            emulator.ecs_endpoint(),
            emulator.sts_endpoint(),
        ] {
            let addr = endpoint.trim_start_matches("http://").parse();
            upstreams.push(addr.map_err(|e| format!("emulator endpoint {endpoint}: {e}"))?);
        }
        Replay::forwarding_to(&upstreams)
    }

    /// Starts one listener per upstream, in recording mode.
    fn forwarding_to(upstreams: &[SocketAddr]) -> Result<Replay, String> {
        let state = Arc::new(Mutex::new(State::default()));
        let mut listeners = Vec::new();
        for (service, &upstream) in upstreams.iter().enumerate() {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            listeners.push(listener.local_addr().map_err(|e| e.to_string())?);
            let state = state.clone();
            thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let state = state.clone();
                    thread::spawn(move || {
                        let _ = serve(stream, service, upstream, &state);
                    });
                }
            });
        }
        Ok(Replay { listeners, state })
    }

    /// `http://127.0.0.1:PORT` of the listener standing for the emulator's Config, ECS or STS
    /// listener (0, 1, 2).
    pub(crate) fn endpoint(&self, service: usize) -> String {
        format!("http://{}", self.listeners[service])
    }

    /// Forgets the tape and records from the next call on.
    pub fn record(&self) {
        let mut s = self.lock();
        *s = State::default();
    }

    /// Stops recording: from the next call on, answers come from the tape, each listener's in
    /// the order it recorded them, starting over after its last call. Returns the actions on
    /// the tape, in the order they were recorded.
    pub fn replay(&self) -> Vec<String> {
        let mut s = self.lock();
        s.replaying = true;
        s.next = [0; 3];
        s.tape.iter().map(|c| c.action.clone()).collect()
    }

    /// The first call that did not match the tape (another listener or action than the call
    /// due), if any. Such a call is answered `500`.
    pub fn mismatch(&self) -> Option<String> {
        self.lock().mismatch.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Answers the requests of one keep-alive connection until the caller closes it.
fn serve(
    stream: TcpStream,
    service: usize,
    upstream: SocketAddr,
    state: &Mutex<State>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_message(&mut reader)? {
        let action = action(&request.head).unwrap_or_default();
        let answer = answer(state, service, upstream, action, &request)?;
        writer.write_all(&answer)?;
    }
    Ok(())
}

fn answer(
    state: &Mutex<State>,
    service: usize,
    upstream: SocketAddr,
    action: String,
    request: &Message,
) -> io::Result<Vec<u8>> {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if !s.replaying {
        drop(s);
        let answer = forward(upstream, request)?;
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.tape.push(Call {
            service,
            action,
            answer: answer.clone(),
        });
        return Ok(answer);
    }
    let recorded: Vec<usize> = (0..s.tape.len())
        .filter(|&i| s.tape[i].service == service)
        .collect();
    let due = match recorded.len() {
        0 => None,
        n => Some(recorded[s.next[service] % n]),
    };
    s.next[service] += 1;
    let due = due.map(|i| &s.tape[i]);
    if let Some(call) = due.filter(|c| c.service == service && c.action == action) {
        return Ok(call.answer.clone());
    }
    let expected = due.map_or("nothing (no call on this listener)".to_string(), |c| {
        format!("{} on listener {}", c.action, c.service)
    });
    let message = format!("replay: got {action} on listener {service}, expected {expected}");
    s.mismatch.get_or_insert(message.clone());
    Ok(format!(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{message}",
        message.len()
    )
    .into_bytes())
}

/// Sends one request to the emulator on a connection of its own and returns the whole answer.
fn forward(upstream: SocketAddr, request: &Message) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream)?;
    stream.write_all(&request.head)?;
    stream.write_all(&request.body)?;
    let mut reader = BufReader::new(stream);
    let answer = read_message(&mut reader)?
        .ok_or_else(|| io::Error::other("the emulator closed the connection"))?;
    Ok([answer.head, answer.body].concat())
}

/// An HTTP/1.1 message: its head (start line and headers, with the blank line) and its body.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
}

/// Reads one message with a `Content-Length` body (or none); `None` at a clean end of stream.
/// A chunked body is refused: neither `bootstrap` nor the emulator sends one.
fn read_message(reader: &mut impl BufRead) -> io::Result<Option<Message>> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        if reader.read_until(b'\n', &mut head)? == 0 {
            return match head.is_empty() {
                true => Ok(None),
                false => Err(io::ErrorKind::UnexpectedEof.into()),
            };
        }
        if head[start..] == *b"\r\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut length = 0;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(io::Error::other("replay: chunked bodies are not supported"));
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = value
                .trim()
                .parse()
                .map_err(|_| io::Error::other(format!("replay: bad content-length {value}")))?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Message { head, body }))
}

/// A request's action, whichever way it was signed: the `x-acs-action` header (signature V3)
/// or the `Action` query parameter of the start line (V2: `POST /?...&Action=X&... HTTP/1.1`).
fn action(head: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let start = lines.next()?;
    let header = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("x-acs-action")
            .then(|| value.trim().to_string())
    });
    header.or_else(|| {
        let target = start.split(' ').nth(1)?;
        let query = target.split_once('?')?.1;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> io::Result<Option<Message>> {
        read_message(&mut BufReader::new(text.as_bytes()))
    }

    #[test]
    fn a_message_is_its_head_and_its_content_length_body() {
        let m = message("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}rest")
            .unwrap()
            .unwrap();
        assert_eq!(m.head, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(m.body, b"{}");
    }

    #[test]
    fn a_clean_end_of_stream_is_no_message_and_a_cut_head_is_an_error() {
        assert!(message("").unwrap().is_none());
        assert!(message("POST / HTTP/1.1\r\nHost: x\r\n").is_err());
    }

    #[test]
    fn a_chunked_body_is_refused() {
        let err = message("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").err();
        assert!(err.unwrap().to_string().contains("chunked"));
    }

    /// An upstream that answers each request with its action and how many requests it has
    /// answered so far, so a replayed answer is told apart from a fresh one.
    fn counting_upstream() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for (n, stream) in listener.incoming().flatten().enumerate() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let request = read_message(&mut reader).unwrap().unwrap();
                let body = format!("{} #{}", action(&request.head).unwrap(), n + 1);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                (&stream).write_all(answer.as_bytes()).unwrap();
            }
        });
        addr
    }

    /// One keep-alive connection to a replay listener, as `bootstrap`'s pool keeps it.
    struct Caller(BufReader<TcpStream>);

    impl Caller {
        fn to(addr: &str) -> Caller {
            let addr = addr.trim_start_matches("http://");
            Caller(BufReader::new(TcpStream::connect(addr).unwrap()))
        }

        fn call(&mut self, action: &str) -> (String, String) {
            let request = format!(
                "POST /?Action={action}&Version=1 HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\n"
            );
            self.0.get_mut().write_all(request.as_bytes()).unwrap();
            let answer = read_message(&mut self.0).unwrap().unwrap();
            let head = String::from_utf8(answer.head).unwrap();
            let status = head.split(' ').nth(1).unwrap().to_string();
            (status, String::from_utf8(answer.body).unwrap())
        }
    }

    /// A replay in front of a counting upstream, with a caller on its Config and its ECS
    /// listener.
    fn replay_with_callers() -> (Replay, Caller, Caller) {
        let upstream = counting_upstream();
        let replay = Replay::forwarding_to(&[upstream, upstream, upstream]).unwrap();
        let (config, ecs) = (
            Caller::to(&replay.endpoint(0)),
            Caller::to(&replay.endpoint(1)),
        );
        (replay, config, ecs)
    }

    #[test]
    fn recorded_answers_are_replayed_in_order_and_over_again_without_the_upstream() {
        let (replay, mut config, mut ecs) = replay_with_callers();

        // A call before `record` is forgotten.
        assert_eq!(ecs.call("Warmup").1, "Warmup #1");
        replay.record();
        assert_eq!(
            config.call("GetDiscoveredResource").1,
            "GetDiscoveredResource #2"
        );
        assert_eq!(ecs.call("Describe").1, "Describe #3");
        assert_eq!(ecs.call("Revoke").1, "Revoke #4");
        assert_eq!(ecs.call("Describe").1, "Describe #5");
        assert_eq!(
            replay.replay(),
            ["GetDiscoveredResource", "Describe", "Revoke", "Describe"]
        );

        for _ in 0..2 {
            assert_eq!(
                config.call("GetDiscoveredResource"),
                ("200".into(), "GetDiscoveredResource #2".into())
            );
            assert_eq!(ecs.call("Describe").1, "Describe #3");
            assert_eq!(ecs.call("Revoke").1, "Revoke #4");
            assert_eq!(ecs.call("Describe").1, "Describe #5");
        }
        assert_eq!(replay.mismatch(), None);
    }

    #[test]
    fn calls_to_different_listeners_may_come_in_any_order() {
        let (replay, mut config, mut ecs) = replay_with_callers();
        replay.record();
        config.call("GetDiscoveredResource");
        ecs.call("Describe");
        ecs.call("Revoke");
        replay.replay();

        assert_eq!(ecs.call("Describe").1, "Describe #2");
        assert_eq!(
            config.call("GetDiscoveredResource").1,
            "GetDiscoveredResource #1"
        );
        assert_eq!(ecs.call("Revoke").1, "Revoke #3");
        assert_eq!(replay.mismatch(), None);
    }

    #[test]
    fn a_call_that_is_not_the_one_due_is_answered_500_and_remembered() {
        let (replay, mut config, mut ecs) = replay_with_callers();
        replay.record();
        config.call("GetDiscoveredResource");
        ecs.call("Describe");
        replay.replay();

        let (status, body) = ecs.call("GetDiscoveredResource");
        assert_eq!(status, "500");
        assert!(body.contains("expected Describe on listener 1"), "{body}");
        assert_eq!(replay.mismatch(), Some(body));
    }

    #[test]
    fn the_action_is_read_from_the_x_acs_action_header_of_a_v3_request() {
        let head = b"POST /?RegionId=cn-hangzhou HTTP/1.1\r\nhost: x\r\n\
                     X-Acs-Action: DescribeSecurityGroupAttribute\r\nx-acs-version: 1\r\n\r\n";
        assert_eq!(
            action(head).as_deref(),
            Some("DescribeSecurityGroupAttribute")
        );
    }

    #[test]
    fn the_action_is_read_from_the_query() {
        let head = b"POST /?Format=JSON&Action=RevokeSecurityGroup&Version=x HTTP/1.1\r\n\r\n";
        assert_eq!(action(head).as_deref(), Some("RevokeSecurityGroup"));
        assert_eq!(action(b"POST / HTTP/1.1\r\n\r\n"), None);
    }
}
