//! The client's wire behaviour against a scripted HTTP stub: what exactly goes on the wire, how
//! each kind of failure is retried, and when it stops. (The product's emulator tests cover the
//! real services' semantics; this stub controls raw bytes the emulator cannot.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_openapi::credentials::Credentials;
use acs_openapi::response::{self, Envelope};
use acs_openapi::{
    acs3, Answer, ApiError, CallContext, Client, ClientSettings, Endpoint, Params, RpcRequest,
    SignatureVersion,
};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Clone)]
enum Reply {
    Json {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// Close the connection without answering.
    Drop,
}

fn ok(body: &str) -> Reply {
    Reply::Json {
        status: 200,
        body: body.into(),
        headers: vec![],
    }
}

fn err(status: u16, code: &str) -> Reply {
    Reply::Json {
        status,
        body: format!(r#"{{"RequestId":"R-{code}","Code":"{code}","Message":"scripted"}}"#),
        headers: vec![],
    }
}

/// One request as the stub received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    /// Names in lower case, as sent.
    headers: BTreeMap<String, String>,
    body_len: usize,
}

impl Seen {
    /// The signature nonce, wherever the signature version put it.
    fn nonce(&self) -> String {
        self.headers
            .get("x-acs-signature-nonce")
            .cloned()
            .or_else(|| self.params().get("SignatureNonce").cloned())
            .unwrap_or_default()
    }
    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
    /// The decoded query parameters.
    fn params(&self) -> BTreeMap<String, String> {
        self.query()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

struct Stub {
    base: Endpoint,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Serves `script` in order (the last reply repeats), one request per connection.
async fn stub(script: Vec<Reply>) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Endpoint::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let reply = script[n.min(script.len() - 1)].clone();
            n += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let Ok(read) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut request_line = lines.next().unwrap().split(' ');
                let method = request_line.next().unwrap().to_string();
                let target = request_line.next().unwrap().to_string();
                let headers: BTreeMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let content_length = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse::<usize>().unwrap());
                log.lock().unwrap().push(Seen {
                    method,
                    target,
                    headers,
                    body_len: content_length.max(buf.len() - head_end - 4),
                });
                match reply {
                    Reply::Drop => drop(sock),
                    Reply::Json {
                        status,
                        body,
                        headers,
                    } => {
                        let mut response = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            response.push_str(&format!("{k}: {v}\r\n"));
                        }
                        response.push_str("\r\n");
                        response.push_str(&body);
                        let _ = sock.write_all(response.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    Stub { base, seen }
}

impl Stub {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn client(margin_ms: u64) -> Client {
    client_signing(margin_ms, SignatureVersion::default())
}

fn client_signing(margin_ms: u64, signature_version: SignatureVersion) -> Client {
    Client::new(ClientSettings {
        allow_http: true,
        deadline_margin: Duration::from_millis(margin_ms),
        attempt_timeout: Duration::from_secs(5),
        signature_version,
        ..ClientSettings::default()
    })
    .unwrap()
}

fn sts_creds() -> Credentials {
    Credentials::new("STS.key", "sec+ret/=", Some("TOK+en/with=chars".into()))
}

fn request(endpoint: &Endpoint) -> RpcRequest<'_> {
    let mut params = Params::new();
    params.insert("RegionId".into(), "cn-hangzhou".into());
    params.insert("Description".into(), "a b*c~".into());
    RpcRequest {
        endpoint,
        action: "DescribeSecurityGroupAttribute",
        version: "2014-05-26",
        params,
    }
}

/// One call whose answer is read for its envelope alone.
async fn call(
    client: &Client,
    req: &RpcRequest<'_>,
    cx: &CallContext<'_>,
) -> Result<Answer<Envelope>, ApiError> {
    client.call::<Envelope>(req, cx).await.result
}

/// An answer with one member of its own besides the envelope.
#[derive(Debug, Deserialize)]
struct WithX {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(rename = "X")]
    x: i64,
}

impl response::Reply for WithX {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(&mut self.envelope)
    }
}

fn in_secs(s: u64) -> Instant {
    Instant::now() + Duration::from_secs(s)
}

#[tokio::test]
async fn a_v3_call_is_a_post_with_the_parameters_in_the_query_and_the_common_ones_in_signed_headers(
) {
    let s = stub(vec![ok(r#"{"RequestId":"R-ok","X":1}"#)]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let response = call(&client(100), &request(&s.base), &cx).await.unwrap();
    assert_eq!(response.request_id.as_deref(), Some("R-ok"));

    let seen = &s.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body_len, 0);
    assert_eq!(seen.headers["content-length"], "0");
    // The API's own parameters only, as the canonical query.
    assert_eq!(seen.target, "/?Description=a%20b%2Ac~&RegionId=cn-hangzhou");
    let h = |name: &str| seen.headers[name].as_str();
    assert_eq!(h("host"), s.base.authority().as_str());
    assert_eq!(h("x-acs-action"), "DescribeSecurityGroupAttribute");
    assert_eq!(h("x-acs-version"), "2014-05-26");
    assert_eq!(h("x-acs-security-token"), "TOK+en/with=chars");
    assert_eq!(h("x-acs-content-sha256"), acs3::EMPTY_PAYLOAD_SHA256);
    assert!(h("x-acs-date").ends_with('Z') && !h("x-acs-signature-nonce").is_empty());
    assert!(
        h("authorization").starts_with(
            "ACS3-HMAC-SHA256 Credential=STS.key,SignedHeaders=host;x-acs-action;\
             x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;\
             x-acs-version,Signature="
        ),
        "{}",
        h("authorization")
    );
}

#[tokio::test]
async fn the_v3_signature_on_the_wire_verifies_with_the_secret() {
    let s = stub(vec![ok(r#"{"RequestId":"R"}"#)]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    call(&client(100), &request(&s.base), &cx).await.unwrap();
    let seen = &s.seen()[0];
    let auth = acs3::Authorization::parse(&seen.headers["authorization"])
        .unwrap()
        .unwrap();
    let signed: acs3::SignedHeaders = auth
        .signed_headers
        .iter()
        .map(|n| (n.to_string(), seen.headers[*n].clone()))
        .collect();
    let canonical = acs3::canonical_request(
        "POST",
        seen.query(),
        &signed,
        &seen.headers["x-acs-content-sha256"],
    );
    assert_eq!(
        auth.signature,
        acs3::signature("sec+ret/=", &acs3::string_to_sign(&canonical))
    );
}

#[tokio::test]
async fn a_v2_call_is_a_post_with_every_signed_parameter_in_the_query_and_an_empty_body() {
    let s = stub(vec![ok(r#"{"RequestId":"R-ok","X":1}"#)]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let response = client_signing(100, SignatureVersion::V2)
        .call::<WithX>(&request(&s.base), &cx)
        .await
        .result
        .unwrap();
    assert_eq!(response.request_id.as_deref(), Some("R-ok"));
    assert_eq!(response.attempts, 1);
    assert_eq!(response.value.x, 1);

    let seen = s.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].body_len, 0);
    assert!(seen[0].target.starts_with("/?"));
    let p = seen[0].params();
    assert_eq!(p["Action"], "DescribeSecurityGroupAttribute");
    assert_eq!(p["Version"], "2014-05-26");
    assert_eq!(p["Format"], "JSON");
    assert_eq!(p["AccessKeyId"], "STS.key");
    assert_eq!(p["SecurityToken"], "TOK+en/with=chars");
    assert_eq!(p["SignatureMethod"], "HMAC-SHA1");
    assert_eq!(p["Description"], "a b*c~");
    assert!(p.contains_key("SignatureNonce") && p.contains_key("Timestamp"));
    // The query is the canonical string as sent: space as %20, `*` as %2A, Signature last.
    assert!(seen[0].query().contains("Description=a%20b%2Ac~"));
    assert!(seen[0]
        .query()
        .rsplit('&')
        .next()
        .unwrap()
        .starts_with("Signature="));
}

#[tokio::test]
async fn the_v2_signature_on_the_wire_verifies_with_the_secret() {
    let s = stub(vec![ok(r#"{"RequestId":"R"}"#)]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    call(
        &client_signing(100, SignatureVersion::V2),
        &request(&s.base),
        &cx,
    )
    .await
    .unwrap();
    let mut params: Params = s.seen()[0]
        .params()
        .into_iter()
        .map(|(k, v)| (k.into(), v))
        .collect();
    let sent = params.remove("Signature").unwrap();
    let canonical = acs_openapi::signing::canonical_query(&params);
    let expected = acs_openapi::signing::signature(
        "sec+ret/=",
        &acs_openapi::signing::string_to_sign("POST", &canonical),
    );
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn throttling_is_retried_with_a_fresh_nonce_and_timestamp_each_time() {
    let s = stub(vec![
        err(400, "Throttling.User"),
        err(400, "Throttling"),
        ok(r#"{"RequestId":"R-ok"}"#),
    ])
    .await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let response = call(&client(100), &request(&s.base), &cx).await.unwrap();
    assert_eq!(response.attempts, 3);
    let nonces: std::collections::BTreeSet<String> = s.seen().iter().map(Seen::nonce).collect();
    assert_eq!(nonces.len(), 3, "every attempt has its own nonce");
}

#[tokio::test]
async fn a_200_carrying_an_error_code_is_an_error() {
    let s = stub(vec![err(200, "InvalidParameter")]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let e = call(&client(100), &request(&s.base), &cx)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameter"));
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn a_signature_mismatch_is_not_retried_and_its_message_is_redacted() {
    let token_twice = "TOK%252Ben%252Fwith%253Dchars";
    let s = stub(vec![Reply::Json {
        status: 400,
        body: format!(
            r#"{{"RequestId":"R","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3D{token_twice}"}}"#
        ),
        headers: vec![],
    }])
    .await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let e = call(&client(100), &request(&s.base), &cx)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
    assert_eq!(s.seen().len(), 1);
    let printed = format!("{e} {e:?}");
    assert!(!printed.contains(token_twice), "{printed}");
    assert!(printed.contains("server string to sign is"));
}

#[tokio::test]
async fn a_reused_nonce_is_retried_exactly_once() {
    let s = stub(vec![err(400, "SignatureNonceUsed")]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let e = call(&client(100), &request(&s.base), &cx)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("SignatureNonceUsed"));
    assert_eq!(s.seen().len(), 2);
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let s = stub(vec![err(503, "ServiceUnavailable")]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(60),
    };
    let c = Client::new(ClientSettings {
        allow_http: true,
        max_attempts: 3,
        deadline_margin: Duration::from_millis(100),
        ..ClientSettings::default()
    })
    .unwrap();
    let e = call(&c, &request(&s.base), &cx).await.unwrap_err();
    assert_eq!(e.code(), Some("ServiceUnavailable"));
    assert_eq!(s.seen().len(), 3);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let s = stub(vec![Reply::Drop, ok(r#"{"RequestId":"R-ok"}"#)]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let response = call(&client(100), &request(&s.base), &cx).await.unwrap();
    assert_eq!(response.attempts, 2);
}

#[tokio::test]
async fn a_transport_error_never_carries_the_token() {
    // Under V2 the token is in the URL, which an HTTP library's error text would quote.
    for signature_version in [SignatureVersion::V3, SignatureVersion::V2] {
        let s = stub(vec![Reply::Drop]).await;
        let creds = sts_creds();
        let cx = CallContext {
            credentials: &creds,
            deadline: in_secs(30),
        };
        let c = Client::new(ClientSettings {
            allow_http: true,
            max_attempts: 1,
            signature_version,
            ..ClientSettings::default()
        })
        .unwrap();
        let e = call(&c, &request(&s.base), &cx).await.unwrap_err();
        assert!(matches!(e, ApiError::Transport(_)), "{e:?}");
        let printed = format!("{e} {e:?}");
        assert!(!printed.contains("TOK"), "{printed}");
        assert!(!printed.contains("SecurityToken"), "{printed}");
        assert!(!printed.contains("127.0.0.1"), "no URL: {printed}");
    }
}

#[tokio::test]
async fn a_malformed_5xx_body_is_retried_but_a_malformed_200_is_not() {
    let garbage = |status| Reply::Json {
        status,
        body: "<html>oops</html>".into(),
        headers: vec![],
    };
    let s = stub(vec![garbage(502), ok(r#"{"RequestId":"R"}"#)]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    assert_eq!(
        call(&client(100), &request(&s.base), &cx)
            .await
            .unwrap()
            .attempts,
        2
    );

    let s = stub(vec![garbage(200), ok(r#"{"RequestId":"R"}"#)]).await;
    let e = call(&client(100), &request(&s.base), &cx)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Decode { status: 200, .. }), "{e:?}");
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn endless_throttling_ends_in_deadline_exceeded_before_the_deadline() {
    let s = stub(vec![err(400, "Throttling.User")]).await;
    let creds = sts_creds();
    let deadline = Instant::now() + Duration::from_secs(1);
    let cx = CallContext {
        credentials: &creds,
        deadline,
    };
    let c = Client::new(ClientSettings {
        allow_http: true,
        max_attempts: 1000,
        deadline_margin: Duration::from_millis(200),
        ..ClientSettings::default()
    })
    .unwrap();
    let e = call(&c, &request(&s.base), &cx).await.unwrap_err();
    assert!(Instant::now() < deadline, "returned after the deadline");
    match &e {
        ApiError::DeadlineExceeded { last: Some(last) } => {
            assert_eq!(last.code(), Some("Throttling.User"))
        }
        other => panic!("expected DeadlineExceeded with the last error, got {other:?}"),
    }
    assert!(s.seen().len() >= 2, "it did retry before giving up");
}

#[tokio::test]
async fn a_retry_after_longer_than_the_time_left_stops_at_once() {
    let s = stub(vec![Reply::Json {
        status: 400,
        body: r#"{"RequestId":"R","Code":"Throttling.Api","Message":"m"}"#.into(),
        headers: vec![("x-acs-retry-after".into(), "60000".into())],
    }])
    .await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(20),
    };
    let e = call(&client(100), &request(&s.base), &cx)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::DeadlineExceeded { .. }), "{e:?}");
    assert_eq!(s.seen().len(), 1, "no sleep past the deadline");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let s = stub(vec![Reply::Json {
        status: 302,
        body: "{}".into(),
        headers: vec![("location".into(), "http://127.0.0.1:9/elsewhere".into())],
    }])
    .await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let e = call(&client(100), &request(&s.base), &cx)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(302));
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn plain_http_endpoints_are_refused_by_default() {
    let s = stub(vec![ok("{}")]).await;
    let creds = sts_creds();
    let cx = CallContext {
        credentials: &creds,
        deadline: in_secs(30),
    };
    let c = Client::new(ClientSettings::default()).unwrap();
    let e = call(&c, &request(&s.base), &cx).await.unwrap_err();
    assert!(matches!(e, ApiError::InvalidRequest(_)), "{e:?}");
    assert!(s.seen().is_empty());
}
