//! ActionTrail 2020-07-06 `LookupEvents`: the events of the fixture's trail, one page at a time.
//!
//! The request is the official SDK model's (`aliyun/alibabacloud-go-sdk`,
//! `actiontrail-20200706/client/lookup_events_request_model.go`), checked against contract.json
//! before this runs: one `LookupAttribute` (Key among the model's values), `MaxResults`
//! 0 to 50, `StartTime` / `EndTime` as `YYYY-MM-DDThh:mm:ssZ` UTC (defaults: seven days back and
//! now), `Direction` `BACKWARD` (newest first, the default) or `FORWARD`, and `NextToken`, with
//! which "the request parameters must be the same as those of the last request". The answer
//! is the response body model's (`lookup_events_response_body_model.go`): `Events` (untyped),
//! `NextToken`, `StartTime`, `EndTime`, `RequestId`.
//!
//! The events are the fixture's, as ActionTrail writes them; their fields follow the event-log
//! reference, <https://www.alibabacloud.com/help/en/sls/log-fields-25> (`eventId`,
//! `eventName`, `eventTime`, `acsRegion`, `sourceIpAddress`, `resourceName`,
//! `requestParameters`, `userIdentity`). A caller sees only its own account's events.
//!
//! Error codes: no LookupEvents-specific code was found in the stored API reference pages, so
//! a bad value is the generic `InvalidParameter.<Name>` (400) that this emulator answers for
//! any value with no documented code.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::auth::{parse_timestamp, Caller};
use super::ecs_service::opt;
use super::state::State;
use super::wire::ApiError;

type Params = BTreeMap<String, String>;

/// The page size when `MaxResults` is absent or 0 (the model's example value; the model does
/// not say what 0 means).
const DEFAULT_MAX_RESULTS: usize = 20;

/// `StartTime`'s default: "seven days prior to the current time".
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(7 * 24 * 3600);

/// A fingerprint of the request's parameters other than `NextToken` and `MaxResults`, so a
/// token is honoured only for the request it continues.
fn fingerprint(params: &Params) -> u64 {
    // FNV-1a: stable across runs, which a token must be.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in params {
        if matches!(k.as_str(), "NextToken" | "MaxResults") {
            continue;
        }
        for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn time_param(params: &Params, name: &str, default: SystemTime) -> Result<SystemTime, ApiError> {
    match opt(params, name) {
        None => Ok(default),
        Some(v) => parse_timestamp(v)
            .ok_or_else(|| ApiError::invalid(name, "must be YYYY-MM-DDThh:mm:ssZ in UTC")),
    }
}

fn event_time(event: &Value) -> Option<SystemTime> {
    event
        .get("eventTime")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_rfc3339(t).ok())
}

/// Whether `event` meets the query condition `key` = `value`.
fn meets(event: &Value, key: &str, value: &str) -> bool {
    let text = |name: &str| event.get(name).and_then(Value::as_str);
    match key {
        "ServiceName" => text("serviceName") == Some(value),
        "EventName" => text("eventName") == Some(value),
        "EventId" => text("eventId") == Some(value),
        "ResourceType" => text("resourceType") == Some(value),
        "ResourceName" => text("resourceName") == Some(value),
        "EventRW" => text("eventRW") == Some(value),
        "User" => {
            event
                .pointer("/userIdentity/userName")
                .and_then(Value::as_str)
                == Some(value)
        }
        "EventAccessKeyId" => {
            event
                .pointer("/userIdentity/accessKeyId")
                .and_then(Value::as_str)
                == Some(value)
        }
        _ => false,
    }
}

pub(crate) fn lookup_events(
    state: &mut State,
    caller: &Caller,
    params: &Params,
    request_id: &str,
) -> Result<Value, ApiError> {
    let now = state.now();
    let end = time_param(params, "EndTime", now)?;
    let start = time_param(params, "StartTime", now - DEFAULT_LOOKBACK)?;
    if start > end {
        return Err(ApiError::invalid("StartTime", "is after EndTime"));
    }
    let page_size = match opt(params, "MaxResults").map(str::parse::<usize>) {
        None | Some(Ok(0)) => DEFAULT_MAX_RESULTS,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Err(ApiError::invalid("MaxResults", "not a number")),
    };
    let condition = match (
        opt(params, "LookupAttribute.1.Key"),
        opt(params, "LookupAttribute.1.Value"),
    ) {
        (Some(k), Some(v)) => Some((k, v)),
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::missing("LookupAttribute.1.Value")),
        (None, Some(_)) => return Err(ApiError::missing("LookupAttribute.1.Key")),
    };
    let print = fingerprint(params);
    let offset = match opt(params, "NextToken") {
        None => 0,
        Some(token) => token
            .split_once('.')
            .filter(|(_, p)| u64::from_str_radix(p, 16).ok() == Some(print))
            .and_then(|(o, _)| o.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::invalid(
                    "NextToken",
                    "not a token of this query (the other parameters must be those of the previous request)",
                )
            })?,
    };
    let mut events: Vec<(SystemTime, &Value)> = state
        .fixture
        .events
        .iter()
        .filter(|e| e.account_id == caller.account_id)
        .filter_map(|e| event_time(&e.event).map(|t| (t, &e.event)))
        .filter(|(t, _)| *t >= start && *t <= end)
        .filter(|(_, e)| condition.is_none_or(|(k, v)| meets(e, k, v)))
        .collect();
    events.sort_by_key(|(t, _)| *t);
    if opt(params, "Direction") != Some("FORWARD") {
        events.reverse();
    }
    let page: Vec<Value> = events
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|(_, e)| (*e).clone())
        .collect();
    let next = offset + page.len();
    let mut body = json!({
        "RequestId": request_id,
        "Events": page,
        "StartTime": humantime::format_rfc3339_seconds(start).to_string(),
        "EndTime": humantime::format_rfc3339_seconds(end).to_string(),
    });
    if next < events.len() {
        body["NextToken"] = json!(format!("{next}.{print:x}"));
    }
    Ok(body)
}
