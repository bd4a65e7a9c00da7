//! Injected failures: the ways a real cloud call goes wrong (throttling, 5xx, slow answers,
//! garbage bodies, dropped sockets, arbitrary error codes), so the client's retry and
//! "state unknown" paths can be exercised deterministically.

use serde::{Deserialize, Serialize};

/// One fault rule. Optional matchers narrow it; `count` limits it to the next N matching calls
/// (absent = every matching call until cleared).
///
/// JSON (fixture `faults`, `POST /__admin/faults`):
/// `{"action":"RevokeSecurityGroup","securityGroupId":"sg-1","count":2,"kind":{"type":"throttle"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// Matches the action, e.g. only `RevokeSecurityGroup`, whichever way it came (the `Action`
    /// parameter under V2, the `x-acs-action` header under V3); `None` = any action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Matches the `SecurityGroupId` (ECS), `ResourceId` (Config) or `LookupAttribute.1.Value`
    /// (ActionTrail) parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// Matches the caller's AccessKeyId (the parameter under V2, the `Authorization`
    /// header's `Credential` under V3), to fail one account's or one role session's calls
    /// while the others succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// How many more matching calls this fault applies to; it is removed when that reaches 0.
    /// `None` = every matching call until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// What the matching calls get instead of a normal answer.
    pub kind: FaultKind,
}

/// What happens to a matching call. Faults apply after authentication (the request was valid)
/// and before the action runs, so a faulted call never changes state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultKind {
    /// HTTP 400 with a throttling code (`Throttling.User` by default; `Throttling`,
    /// `Throttling.Api` also allowed) and the flow-control message.
    Throttle {
        /// The code answered. The product treats any code containing `Throttling` as flow
        /// control, as the official Terraform provider's retry rule does.
        #[serde(default = "default_throttle_code")]
        code: String,
    },
    /// `500 InternalError` by default; `503 ServiceUnavailable` is the other common one.
    ServerError {
        /// HTTP status; 503 gets the "temporary failure" message, anything else the 500 one.
        #[serde(default = "default_500")]
        status: u16,
        /// The error code, `InternalError` by default.
        #[serde(default = "default_internal")]
        code: String,
    },
    /// The call is handled normally (a write is applied at once), then its answer waits: a
    /// client that times out does not know whether the write happened.
    Delay {
        /// Milliseconds added before the answer; matching delays add up.
        ms: u64,
    },
    /// HTTP 200 whose body is not valid JSON.
    MalformedBody,
    /// Closes the connection without any response.
    DropConnection,
    /// Any error answer, for codes no other kind covers (`Forbidden.RAM`,
    /// `LastTokenProcessing`, `InvalidAction.NotFound`, …).
    Error {
        /// HTTP status.
        status: u16,
        /// The `Code` of the error body.
        code: String,
        /// The `Message` of the error body (a security token in it is still redacted).
        message: String,
    },
    /// HTTP 200 with this JSON text as the body instead of the action's own answer: a cloud
    /// that answers for something else than was asked (e.g. Config answering for another
    /// region), to prove the function checks what it is told. Not valid JSON → `null`.
    Answer {
        /// The JSON text answered.
        body: String,
    },
    /// Like `Error`, answered with the given `RequestId` instead of a fresh one: a cloud that
    /// echoes request data into its request id (used to prove echoed secrets are masked).
    ErrorWithRequestId {
        /// HTTP status.
        status: u16,
        /// The `Code` of the error body.
        code: String,
        /// The `Message` of the error body.
        message: String,
        /// The `RequestId` answered (body and journal) instead of a fresh one.
        request_id: String,
    },
}

fn default_throttle_code() -> String {
    "Throttling.User".into()
}
fn default_500() -> u16 {
    500
}
fn default_internal() -> String {
    "InternalError".into()
}

impl Fault {
    /// A fault for every call (no matchers, no count).
    pub fn always(kind: FaultKind) -> Fault {
        Fault {
            action: None,
            security_group_id: None,
            access_key_id: None,
            count: None,
            kind,
        }
    }

    /// Narrows the fault to one action.
    pub fn on_action(mut self, action: &str) -> Fault {
        self.action = Some(action.to_string());
        self
    }

    /// Narrows the fault to one security group (`SecurityGroupId` or `ResourceId`).
    pub fn on_group(mut self, security_group_id: &str) -> Fault {
        self.security_group_id = Some(security_group_id.to_string());
        self
    }

    /// Narrows the fault to one access key.
    pub fn on_key(mut self, access_key_id: &str) -> Fault {
        self.access_key_id = Some(access_key_id.to_string());
        self
    }

    /// Limits the fault to the next `n` matching calls.
    pub fn times(mut self, n: u32) -> Fault {
        self.count = Some(n);
        self
    }

    pub(crate) fn matches(&self, action: &str, group: Option<&str>, key: &str) -> bool {
        self.action.as_deref().is_none_or(|a| a == action)
            && self
                .security_group_id
                .as_deref()
                .is_none_or(|g| Some(g) == group)
            && self.access_key_id.as_deref().is_none_or(|k| k == key)
            && self.count != Some(0)
    }

    /// A short label for the journal.
    pub(crate) fn label(&self) -> String {
        match &self.kind {
            FaultKind::Throttle { code } => format!("throttle:{code}"),
            FaultKind::ServerError { status, code } => format!("serverError:{status}:{code}"),
            FaultKind::Delay { ms } => format!("delay:{ms}ms"),
            FaultKind::MalformedBody => "malformedBody".into(),
            FaultKind::Answer { .. } => "answer".into(),
            FaultKind::DropConnection => "dropConnection".into(),
            FaultKind::Error { status, code, .. }
            | FaultKind::ErrorWithRequestId { status, code, .. } => {
                format!("error:{status}:{code}")
            }
        }
    }
}
