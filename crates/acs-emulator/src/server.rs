//! HTTP plumbing (hyper 1): one accept loop per listener, the request pipeline
//! (decode → authenticate → faults → action → journal → latency → answer) and the unsigned,
//! loopback-only `/__admin/` endpoints.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::auth::{authenticate, Caller, Received};
use super::fault::{Fault, FaultKind};
use super::journal::{JournalEntry, Service};
use super::state::State;
use super::wire::{parse_pairs, redact, request_id, ApiError, Encoding};
use super::{
    actiontrail_service, config_service, contract, ecs_inventory, ecs_service, sts_service,
};

/// Largest request body accepted (form-encoded parameters).
const MAX_BODY: usize = 1 << 20;

pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(state: State) -> Shared {
        Shared {
            state: Mutex::new(state),
        }
    }

    /// The state lock; a panic elsewhere must not make the emulator unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Returned by the service to make hyper close the socket without answering.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

enum Reply {
    Json(u16, Value),
    Raw(u16, &'static str),
    Drop,
}

struct Outcome {
    reply: Reply,
    wait: Duration,
}

/// Accepts connections until `shutdown` flips to true.
pub(crate) async fn serve(
    listener: TcpListener,
    service: Service,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let host = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let shared = shared.clone();
        let host = host.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                let host = host.clone();
                async move { handle(shared, service, peer, host, req).await }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

fn json_response(status: u16, body: &Value, rid: Option<&str>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Some(rid) = rid.and_then(|r| HeaderValue::from_str(r).ok()) {
        resp.headers_mut().insert("x-acs-request-id", rid);
    }
    resp
}

async fn handle(
    shared: Arc<Shared>,
    service: Service,
    peer: SocketAddr,
    host: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    if req.uri().path().starts_with("/__admin/") {
        return Ok(admin(&shared, peer, req).await);
    }
    let arrived = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    // hyper gives the names in lower case; repeated values are joined as the V3 canonical
    // headers join them. A value that is not text is kept lossily (it can only fail to verify).
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value)
            })
            .or_insert(value);
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(ApiError::invalid("Body", "unreadable or larger than 1 MiB")),
    };
    let rid = request_id();
    let outcome = {
        let mut state = shared.lock();
        process(
            &mut state,
            service,
            Arrived {
                method: &method,
                path: &path,
                query: &query,
                form,
                headers: &headers,
                body,
            },
            &rid,
            &host,
        )
    };
    if !outcome.wait.is_zero() {
        answer_at(arrived + outcome.wait).await;
    }
    match outcome.reply {
        Reply::Json(status, body) => {
            let rid = body
                .get("RequestId")
                .and_then(Value::as_str)
                .map(str::to_string);
            Ok(json_response(status, &body, rid.as_deref()))
        }
        Reply::Raw(status, text) => {
            let mut resp = json_response(status, &Value::Null, Some(&rid));
            *resp.body_mut() = Full::new(Bytes::from(text.replace("{RID}", &rid)));
            Ok(resp)
        }
        Reply::Drop => Err(Dropped),
    }
}

/// A request as received, before it is decoded.
struct Arrived<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a str,
    form: bool,
    headers: &'a BTreeMap<String, String>,
    body: Result<Bytes, ApiError>,
}

/// Decodes the query into `query_params` and the query and a form body into `params`.
fn decode(
    method: &Method,
    path: &str,
    query: &str,
    form: bool,
    body: &Result<Bytes, ApiError>,
    query_params: &mut BTreeMap<String, String>,
    params: &mut BTreeMap<String, String>,
) -> Result<(), ApiError> {
    if path != "/" {
        return Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!("RPC-style APIs are served on path /, not {path}."),
        ));
    }
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::new(
            405,
            "UnsupportedHTTPMethod",
            format!("HTTP method {method} is not supported; use POST or GET."),
        ));
    }
    parse_pairs(query, Encoding::Query, query_params)?;
    params.clone_from(query_params);
    let body = body.as_ref().map_err(Clone::clone)?;
    if !body.is_empty() {
        if !form {
            return Err(ApiError::invalid(
                "Body",
                "a request body must be application/x-www-form-urlencoded",
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::invalid("Body", "the form body is not UTF-8"))?;
        parse_pairs(text, Encoding::Form, params)?;
    }
    Ok(())
}

fn dispatch(
    state: &mut State,
    action: &str,
    caller: &Caller,
    params: &BTreeMap<String, String>,
    rid: &str,
) -> Result<(Value, bool), ApiError> {
    match action {
        "GetDiscoveredResource" => {
            config_service::get_discovered_resource(state, caller, params, rid).map(|b| (b, false))
        }
        "GetAggregateDiscoveredResource" => {
            config_service::get_aggregate_discovered_resource(state, caller, params, rid)
                .map(|b| (b, false))
        }
        "DescribeSecurityGroupAttribute" => {
            ecs_service::describe_attribute(state, caller, params, rid).map(|b| (b, false))
        }
        "DescribeRegions" => Ok((ecs_inventory::describe_regions(state, rid), false)),
        "DescribeSecurityGroups" => {
            ecs_inventory::describe_security_groups(state, caller, params, rid).map(|b| (b, false))
        }
        "RevokeSecurityGroup" => {
            ecs_service::revoke(state, caller, params, rid).map(|w| (w.body, w.mutated))
        }
        "AuthorizeSecurityGroup" => {
            ecs_service::authorize(state, caller, params, rid).map(|w| (w.body, w.mutated))
        }
        "AssumeRole" => sts_service::assume_role(state, caller, params, rid).map(|b| (b, false)),
        "LookupEvents" => {
            actiontrail_service::lookup_events(state, caller, params, rid).map(|b| (b, false))
        }
        other => Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api is not found: {other}"),
        )),
    }
}

fn fault_error(kind: &FaultKind) -> Option<ApiError> {
    Some(match kind {
        FaultKind::Throttle { code } => {
            ApiError::new(400, code, "Request was denied due to user flow control.")
        }
        FaultKind::ServerError { status, code } => ApiError::new(
            *status,
            code,
            if *status == 503 {
                "The request has failed due to a temporary failure of the server."
            } else {
                "The request processing has failed due to some unknown error, exception or failure."
            },
        ),
        FaultKind::Error {
            status,
            code,
            message,
        }
        | FaultKind::ErrorWithRequestId {
            status,
            code,
            message,
            ..
        } => ApiError::new(*status, code, message.clone()),
        FaultKind::Delay { .. }
        | FaultKind::MalformedBody
        | FaultKind::DropConnection
        | FaultKind::Answer { .. } => return None,
    })
}

fn process(
    state: &mut State,
    service: Service,
    request: Arrived<'_>,
    rid: &str,
    host: &str,
) -> Outcome {
    let Arrived {
        method,
        path,
        query,
        form,
        headers,
        body,
    } = request;
    let mut query_params = BTreeMap::new();
    let mut params = BTreeMap::new();
    let decoded = decode(
        method,
        path,
        query,
        form,
        &body,
        &mut query_params,
        &mut params,
    );
    let body = body.unwrap_or_default();
    let received = Received {
        method: method.as_str(),
        query: &query_params,
        params: &params,
        headers,
        body: &body,
    };
    // The action, key, token and nonce whichever way the request was signed (V2 parameters or
    // V3 headers): routing, faults, redaction and the journal all use these.
    let signed = received.signed();
    let action = signed.action.clone();
    let key_id = signed.access_key_id.clone();
    let token = signed.security_token.clone();
    let mut delay = Duration::ZERO;
    let mut fault_label = None;
    let mut mutated = false;
    let result: Result<Value, Reply> = (|| {
        decoded.map_err(|e| error_reply(e, rid, host, service, token.as_deref()))?;
        let caller = authenticate(state, service, &received)
            .map_err(|e| error_reply(e, rid, host, service, token.as_deref()))?;
        contract::check(&action, &params)
            .map_err(|e| error_reply(e, rid, host, service, token.as_deref()))?;
        let group = params
            .get("SecurityGroupId")
            .or_else(|| params.get("ResourceId"))
            .or_else(|| params.get("LookupAttribute.1.Value"))
            .map(String::as_str);
        let (wait, fault) = state.take_faults(&action, group, &key_id);
        delay = wait;
        if let Some(fault) = fault {
            fault_label = Some(fault.label());
            if let FaultKind::Answer { body } = &fault.kind {
                return Ok(serde_json::from_str(body).unwrap_or(Value::Null));
            }
            let fault_rid = match &fault.kind {
                FaultKind::ErrorWithRequestId { request_id, .. } => request_id.as_str(),
                _ => rid,
            };
            return Err(match fault_error(&fault.kind) {
                Some(e) => error_reply(e, fault_rid, host, service, token.as_deref()),
                None if fault.kind == FaultKind::MalformedBody => Reply::Raw(
                    200,
                    "{\"RequestId\":\"{RID}\",\"Permissions\":{\"Permission\":[{\"SecurityGroupRuleId\":",
                ),
                None => Reply::Drop,
            });
        }
        state.processing = state.latency + delay;
        let (body, changed) = dispatch(state, &action, &caller, &params, rid)
            .map_err(|e| error_reply(e, rid, host, service, token.as_deref()))?;
        // The oracle answers only what the official response model has (contract.json).
        contract::check_answer(&action, &body).map_err(|why| {
            error_reply(
                ApiError::new(500, contract::ANSWER_OUTSIDE_MODEL, why),
                rid,
                host,
                service,
                token.as_deref(),
            )
        })?;
        mutated = changed;
        Ok(body)
    })();
    let reply = match result {
        Ok(body) => Reply::Json(200, body),
        Err(reply) => reply,
    };
    let (http_status, code, request_id) = match &reply {
        Reply::Json(status, body) => (
            *status,
            body.get("Code").and_then(Value::as_str).map(str::to_string),
            body.get("RequestId")
                .and_then(Value::as_str)
                .unwrap_or(rid)
                .to_string(),
        ),
        Reply::Raw(status, _) => (*status, None, rid.to_string()),
        Reply::Drop => (0, None, rid.to_string()),
    };
    params.remove("Signature");
    params.remove("SecurityToken");
    state.record(JournalEntry {
        seq: 0,
        service,
        action,
        params,
        access_key_id: key_id,
        signature_version: signed.version,
        nonce: signed.nonce,
        http_status,
        code,
        request_id,
        mutated,
        fault: fault_label,
    });
    Outcome {
        reply,
        wait: state.latency + delay,
    }
}

fn error_reply(e: ApiError, rid: &str, host: &str, service: Service, token: Option<&str>) -> Reply {
    let product = match service {
        Service::Config => "Config",
        Service::Ecs => "Ecs",
        Service::Sts => "Sts",
        Service::ActionTrail => "Actiontrail",
    };
    Reply::Json(
        e.status,
        json!({
            "RequestId": rid,
            "HostId": host,
            "Code": e.code,
            "Message": redact(&e.message, token),
            "Recommend": format!("https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={rid}", e.code),
        }),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LatencyBody {
    ms: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExpireBody {
    access_key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockBody {
    advance_secs: u64,
}

/// An admin answer before it becomes a response: status and JSON body.
type AdminReply = (u16, Value);

fn admin_error(status: u16, message: &str) -> AdminReply {
    (status, json!({ "error": message }))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AdminReply> {
    serde_json::from_slice(body).map_err(|e| admin_error(400, &format!("bad JSON body: {e}")))
}

async fn admin(shared: &Shared, peer: SocketAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, body) = admin_reply(shared, peer, req).await;
    json_response(status, &body, None)
}

async fn admin_reply(shared: &Shared, peer: SocketAddr, req: Request<Incoming>) -> AdminReply {
    if !peer.ip().is_loopback() {
        return admin_error(403, "admin endpoints answer loopback clients only");
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return admin_error(400, "unreadable body"),
    };
    let ok = || (200, json!({ "ok": true }));
    let mut state = shared.lock();
    let result: Result<AdminReply, AdminReply> = match (method, path.as_str()) {
        (Method::GET, "/__admin/journal") => Ok((200, json!(state.journal))),
        (Method::DELETE, "/__admin/journal") => {
            state.journal.clear();
            Ok(ok())
        }
        (Method::GET, "/__admin/state") => Ok((200, state.describe())),
        (Method::POST, "/__admin/faults") => parse::<Fault>(&body).map(|f| {
            state.faults.push(f);
            ok()
        }),
        (Method::DELETE, "/__admin/faults") => {
            state.faults.clear();
            Ok(ok())
        }
        (Method::POST, "/__admin/latency") => parse::<LatencyBody>(&body).map(|b| {
            state.latency = Duration::from_millis(b.ms);
            ok()
        }),
        (Method::POST, "/__admin/expire") => {
            parse::<ExpireBody>(&body).and_then(|b| match state.creds.get_mut(&b.access_key_id) {
                Some(c) => {
                    c.expired = true;
                    Ok(ok())
                }
                None => Err(admin_error(404, "unknown accessKeyId")),
            })
        }
        (Method::POST, "/__admin/clock") => parse::<ClockBody>(&body).map(|b| {
            state.clock_offset += Duration::from_secs(b.advance_secs);
            ok()
        }),
        (Method::POST, "/__admin/reset") => {
            let fixture = state.fixture.clone();
            *state = State::new(fixture);
            Ok(ok())
        }
        _ => Err(admin_error(404, "unknown admin endpoint")),
    };
    result.unwrap_or_else(|e| e)
}

/// Waits until `at`, to a fraction of a millisecond: tokio's timer rounds a sleep up to its next
/// millisecond tick, which would add up to a millisecond to every call of a latency the bench
/// sets to model a region's round trip. The last stretch is slept on a blocking thread, whose
/// sleep is precise. The latency is counted from the request's arrival, so the emulator's own
/// work is inside it, as a service's is inside a real round trip.
async fn answer_at(at: std::time::Instant) {
    const PRECISE: Duration = Duration::from_millis(2);
    if let Some(coarse) = at.checked_duration_since(std::time::Instant::now() + PRECISE) {
        tokio::time::sleep(coarse).await;
    }
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(left) = at.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(left);
        }
    })
    .await;
}
