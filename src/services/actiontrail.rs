//! ActionTrail `LookupEvents` (2020-07-06): the events that name a security group, to tell who
//! opened a rule the function revoked.
//!
//! Request, per the official SDK model (`aliyun/alibabacloud-go-sdk`,
//! `actiontrail-20200706/client/lookup_events_request_model.go`): one query condition
//! (`LookupAttribute.1.Key` / `.Value`), `StartTime` / `EndTime` as `YYYY-MM-DDThh:mm:ssZ` UTC
//! (`StartTime` defaults to seven days back, so it is always sent), `MaxResults` 0 to 50 and
//! `NextToken`. The answer's `Events` are untyped in the model (`[]map[string]interface{}`); their
//! fields come from ActionTrail's event-log reference,
//! <https://www.alibabacloud.com/help/en/sls/log-fields-25> (`eventId`, `eventName`,
//! `eventTime`, `sourceIpAddress`, `requestParameters`) and
//! <https://www.alibabacloud.com/help/en/sls/actiontrail> (`userIdentity.type`, `.principalId`,
//! `.accountId`, `.userName`, `.accessKeyId`).

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::Value;

use super::{call, Api};
use acs_openapi::json::text;
use acs_openapi::response::{Envelope, Reply};
use acs_openapi::{ApiError, CallContext, Client, Endpoint, Params};

/// Looks up the events that name a resource.
pub const LOOKUP_EVENTS: Api = Api {
    service: "actiontrail",
    action: "LookupEvents",
    version: "2020-07-06",
};

/// The model's largest `MaxResults`.
pub const MAX_RESULTS: u32 = 50;

/// How far back the lookup reaches (the API's own default is seven days).
pub const LOOKBACK: Duration = Duration::from_secs(90 * 24 * 3600);

/// Who made a call, as the event's `userIdentity` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// `type`: e.g. `ram-user`, `root-account`, `assumed-role`.
    pub kind: Option<String>,
    /// `principalId`.
    pub principal_id: Option<String>,
    /// `userName`.
    pub user_name: Option<String>,
}

/// One ActionTrail event, read from its untyped object.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `eventId`.
    pub event_id: Option<String>,
    /// `eventName`: the API action, e.g. `AuthorizeSecurityGroup`.
    pub event_name: String,
    /// `eventTime`, as ActionTrail wrote it (UTC).
    pub event_time: Option<String>,
    /// `sourceIpAddress`.
    pub source_ip: Option<String>,
    /// `userIdentity`.
    pub principal: Principal,
    /// `requestParameters`: the call's parameters (an object; `Null` when absent).
    pub request_parameters: Value,
}

/// One page of events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    /// The events that could be read (entries without an `eventName` are skipped).
    pub events: Vec<Event>,
    /// `NextToken`: where the next page starts (absent or empty: the last page).
    pub next_token: Option<String>,
    /// `RequestId`.
    pub request_id: Option<String>,
}

/// `YYYY-MM-DDThh:mm:ssZ`, the model's time format.
pub fn iso8601(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The parameters of one page of the events naming `resource` between `start` and `end`.
pub fn lookup_params(
    resource: &str,
    start: SystemTime,
    end: SystemTime,
    max_results: u32,
    next_token: Option<&str>,
) -> Params {
    let mut params = Params::new();
    params.insert("LookupAttribute.1.Key".into(), "ResourceName".into());
    params.insert("LookupAttribute.1.Value".into(), resource.into());
    params.insert("StartTime".into(), iso8601(start));
    params.insert("EndTime".into(), iso8601(end));
    params.insert(
        "MaxResults".into(),
        max_results.clamp(1, MAX_RESULTS).to_string(),
    );
    if let Some(token) = next_token.filter(|t| !t.is_empty()) {
        params.insert("NextToken".into(), token.into());
    }
    params
}

/// Calls LookupEvents once.
pub async fn lookup_events(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    params: Params,
) -> Result<EventPage, ApiError> {
    let answer = call::<LookupEventsAnswer>(client, cx, endpoint, LOOKUP_EVENTS, params)
        .await
        .result?;
    Ok(page_of(answer.value, answer.request_id))
}

/// A LookupEvents answer (`lookup_events_response_body_model.go`). `Events` is untyped in the
/// model (`[]map[string]interface{}`): each entry is kept as a tree and read by
/// [`parse_event`].
#[derive(Debug, Deserialize)]
struct LookupEventsAnswer {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(rename = "Events", default)]
    events: Option<Vec<Value>>,
    #[serde(rename = "NextToken", default, deserialize_with = "text")]
    next_token: Option<String>,
}

impl Reply for LookupEventsAnswer {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(&mut self.envelope)
    }
}

/// The page of an answer; an entry that is not an object with an `eventName` is skipped.
fn page_of(answer: LookupEventsAnswer, request_id: Option<String>) -> EventPage {
    EventPage {
        events: answer
            .events
            .unwrap_or_default()
            .iter()
            .filter_map(parse_event)
            .collect(),
        next_token: answer.next_token,
        request_id,
    }
}

fn parse_event(v: &Value) -> Option<Event> {
    let text = |o: &Value, name: &str| o.get(name).and_then(Value::as_str).map(str::to_string);
    let identity = v.get("userIdentity").cloned().unwrap_or(Value::Null);
    // requestParameters is an object in the reference; some writers store it as JSON text.
    let request_parameters = match v.get("requestParameters") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(o) => o.clone(),
        None => Value::Null,
    };
    Some(Event {
        event_id: text(v, "eventId"),
        event_name: text(v, "eventName")?,
        event_time: text(v, "eventTime"),
        source_ip: text(v, "sourceIpAddress"),
        principal: Principal {
            kind: text(&identity, "type"),
            principal_id: text(&identity, "principalId"),
            user_name: text(&identity, "userName"),
        },
        request_parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads a page from its bytes (as a successful answer: an error body is its error); an entry
    /// that is not an object with an `eventName` is skipped. `request_id` is the call's; the
    /// answer's own `RequestId` is used when it is `None`.
    fn parse_page(body: &[u8], request_id: Option<String>) -> Result<EventPage, ApiError> {
        let (answer, answered_id) = acs_openapi::response::read_response::<LookupEventsAnswer>(
            200,
            body,
            None,
            &Default::default(),
        )?;
        Ok(page_of(answer, request_id.or(answered_id)))
    }

    #[test]
    fn a_page_asks_for_one_resource_over_the_given_window_in_utc() {
        let end = humantime::parse_rfc3339("2026-12-07T10:00:00Z").unwrap();
        let p = lookup_params("sg-1", end - LOOKBACK, end, 80, Some("t"));
        assert_eq!(p["LookupAttribute.1.Key"], "ResourceName");
        assert_eq!(p["LookupAttribute.1.Value"], "sg-1");
        assert_eq!(p["StartTime"], "2026-09-08T10:00:00Z");
        assert_eq!(p["EndTime"], "2026-12-07T10:00:00Z");
        assert_eq!(p["MaxResults"], "50");
        assert_eq!(p["NextToken"], "t");
    }

    #[test]
    fn events_without_a_name_are_skipped_and_an_empty_token_ends_the_paging() {
        let page = parse_page(
            json!({"RequestId": "r", "NextToken": "", "Events": [
                {"eventId": "e1", "eventName": "AuthorizeSecurityGroup",
                 "userIdentity": {"type": "ram-user", "userName": "alice"},
                 "requestParameters": "{\"PortRange\":\"22/22\"}"},
                {"eventId": "e2"}, 7
            ]})
            .to_string()
            .as_bytes(),
            None,
        )
        .unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].principal.user_name.as_deref(), Some("alice"));
        assert_eq!(page.events[0].request_parameters["PortRange"], "22/22");
        assert_eq!(page.next_token, None);
        assert_eq!(page.request_id.as_deref(), Some("r"));
    }
}
