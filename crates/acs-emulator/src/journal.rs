//! The call journal: what each test or demo can inspect afterwards ("was Revoke called, with
//! which rule ids, by which key, and what did the cloud answer?"), whichever signature the call
//! carried. Secrets never enter it: `Signature` and `SecurityToken` are removed from the recorded
//! parameters, and no header is recorded.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Which listener served a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Cloud Config 2020-09-07: where the function re-reads a non-compliant resource.
    Config,
    /// ECS 2014-05-26: the live rules, and the only place a rule is revoked or restored.
    Ecs,
    /// STS 2015-04-01: `AssumeRole` into member accounts.
    Sts,
    /// ActionTrail 2020-07-06: `LookupEvents`, who opened a rule.
    ActionTrail,
}

impl Service {
    /// The API version this listener serves.
    pub fn version(self) -> &'static str {
        match self {
            Service::Config => "2020-09-07",
            Service::Ecs => "2014-05-26",
            Service::Sts => "2015-04-01",
            Service::ActionTrail => "2020-07-06",
        }
    }

    /// The lower-case name, spelt as in the journal's JSON; used in error messages and `Display`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Config => "config",
            Service::Ecs => "ecs",
            Service::Sts => "sts",
            Service::ActionTrail => "actiontrail",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One API call as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// 1-based, in arrival order of completion.
    pub seq: u64,
    /// The listener that received the call (an action sent to the wrong one is journaled too).
    pub service: Service,
    /// The action: the `Action` parameter (V2) or the `x-acs-action` header (V3); empty if the
    /// request had none.
    pub action: String,
    /// Decoded parameters without `Signature` and `SecurityToken`.
    pub params: BTreeMap<String, String>,
    /// The key that signed: the `AccessKeyId` parameter (V2) or the `Authorization` header's
    /// `Credential` (V3); empty if none.
    pub access_key_id: String,
    /// How the request was signed: `v2` (HMAC-SHA1 parameters) or `v3` (ACS3-HMAC-SHA256
    /// headers).
    pub signature_version: &'static str,
    /// The signature nonce: `SignatureNonce` (V2) or `x-acs-signature-nonce` (V3); empty if none.
    pub nonce: String,
    /// HTTP status sent; 0 when the connection was dropped by a fault.
    pub http_status: u16,
    /// Error code, if the answer was an error.
    pub code: Option<String>,
    /// The `RequestId` answered, as the client would log it (an echoed one for
    /// [`ErrorWithRequestId`](crate::FaultKind::ErrorWithRequestId)).
    pub request_id: String,
    /// True when the call changed security-group rules (live or snapshot).
    pub mutated: bool,
    /// Label of the injected fault that shaped the answer, if any.
    pub fault: Option<String>,
}
