//! Checking that no secret leaves the function, and learning the secrets it was handed.
//!
//! [`assert_no_secret`] looks for any 12-character piece of a secret, raw or in any form a cloud
//! or library echoes it: percent-encoded once or twice (either hex case), form-decoded (`+` as
//! a space) or JSON-escaped (`\u002b`, `\/`). [`StsTap`] stands between the function and the emulator's STS and remembers
//! the role credentials STS mints (the emulator does not reveal them), so those are checked too.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use acs_openapi::signing::percent_encode;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::net::TcpListener;

/// Shortest piece of a secret whose presence counts as a leak.
pub const LEAK_WINDOW: usize = 12;

/// Fails if any 12-character piece of any secret — raw or in an echoed form (see [`forms`]) —
/// occurs in `haystack`. Pieces, not whole values, so a truncated or split secret is caught too.
pub fn assert_no_secret(haystack: &str, secrets: &[String]) {
    if let Some(at) = find_secret(haystack, secrets) {
        let line = haystack[..at].rsplit('\n').next().unwrap_or("").len();
        let start = at - line;
        let end = haystack[at..].find('\n').map_or(haystack.len(), |e| at + e);
        panic!(
            "a secret leaked at byte {at}, in: {}",
            &haystack[start..end]
        );
    }
}

/// Where the first piece of a secret occurs in `haystack` (see [`assert_no_secret`]).
pub fn find_secret(haystack: &str, secrets: &[String]) -> Option<usize> {
    let mut pieces: HashSet<&[u8]> = HashSet::new();
    let forms: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
    for form in &forms {
        let bytes = form.as_bytes();
        assert!(bytes.len() >= LEAK_WINDOW, "secret too short to check");
        pieces.extend(bytes.windows(LEAK_WINDOW));
    }
    haystack
        .as_bytes()
        .windows(LEAK_WINDOW)
        .position(|w| pieces.contains(w))
}

/// The forms a secret may come back in: raw, form-decoded (`+` read as a space),
/// percent-encoded once or twice with upper- or lower-case hex, and JSON-escaped the ways
/// libraries do (`\/` for `/`, `\u002b` / `\u002B` for every other non-alphanumeric).
pub fn forms(secret: &str) -> Vec<String> {
    let once = percent_encode(secret);
    let twice = percent_encode(&once);
    let lower_hex = |s: &str| {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
            out.push_str(&escape.to_ascii_lowercase());
            rest = &rest[at + escape.len()..];
        }
        out.push_str(rest);
        out
    };
    let json = |upper: bool| {
        secret
            .chars()
            .map(|c| match c {
                '/' => "\\/".to_string(),
                c if c.is_ascii_alphanumeric() => c.to_string(),
                c if upper => format!("\\u{:04X}", u32::from(c)),
                c => format!("\\u{:04x}", u32::from(c)),
            })
            .collect::<String>()
    };
    vec![
        secret.to_string(),
        secret.replace('+', " "),
        lower_hex(&once),
        lower_hex(&twice),
        once,
        twice,
        json(true),
        json(false),
    ]
}

/// A pass-through proxy in front of an STS endpoint that remembers the `AccessKeySecret` and
/// `SecurityToken` of every `Credentials` object it forwards.
pub struct StsTap {
    endpoint: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl StsTap {
    /// Listens on loopback and forwards every request to `upstream` (`http://host:port`).
    pub async fn start(upstream: String) -> StsTap {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("tap listens");
        let addr = listener.local_addr().expect("tap address");
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let client = reqwest::Client::new();
        let tapped = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (client, upstream, tapped) = (client.clone(), upstream.clone(), tapped.clone());
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                            forward(req, client.clone(), upstream.clone(), tapped.clone())
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StsTap {
            endpoint: format!("http://{addr}"),
            seen,
        }
    }

    /// The tap's endpoint, for `STS_ENDPOINT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The secrets and tokens STS has handed out through the tap so far.
    pub fn secrets(&self) -> Vec<String> {
        self.seen.lock().expect("tapped secrets").clone()
    }
}

async fn forward(
    req: hyper::Request<Incoming>,
    client: reqwest::Client,
    upstream: String,
    tapped: Arc<Mutex<Vec<String>>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    // Every header goes through as sent, `host` included: under signature V3 the host and the
    // `x-acs-*` headers are signed, and the emulator checks them as received. The body's
    // framing is the forwarding client's own.
    let mut headers = req.headers().clone();
    for framing in ["content-length", "transfer-encoding", "connection"] {
        headers.remove(framing);
    }
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let out = client
        .post(format!("{upstream}{path}"))
        .headers(headers)
        .body(body.unwrap_or_default());
    let (status, bytes) = match out.send().await {
        Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap_or_default()),
        Err(_) => (502, Bytes::new()),
    };
    if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
        let creds = &v["Credentials"];
        let mut seen = tapped.lock().expect("tapped secrets");
        for field in ["AccessKeySecret", "SecurityToken"] {
            if let Some(s) = creds[field].as_str() {
                seen.push(s.to_string());
            }
        }
    }
    let mut response = hyper::Response::new(Full::new(bytes));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "fcRole/Secret+=8kQ2xV7mN4pL9sT1wZ3rHc6J";

    #[test]
    fn a_piece_of_a_secret_is_found() {
        let hay = format!("ok\nkey={}…", &SECRET[3..20]);
        assert_eq!(find_secret(&hay, &[SECRET.to_string()]), Some(7));
    }

    #[test]
    fn a_percent_encoded_secret_is_found() {
        let hay = format!("q={}", percent_encode(SECRET));
        assert!(find_secret(&hay, &[SECRET.to_string()]).is_some());
    }

    #[test]
    fn text_sharing_less_than_the_window_is_clean() {
        let hay = &SECRET[..LEAK_WINDOW - 1];
        assert_eq!(find_secret(hay, &[SECRET.to_string()]), None);
    }

    #[test]
    #[should_panic(expected = "a secret leaked")]
    fn assert_no_secret_panics_on_a_leak() {
        assert_no_secret(SECRET, &[SECRET.to_string()]);
    }
}
