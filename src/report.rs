//! The report: the response body of an invocation and the audit record of every resource.
//!
//! Every resource of the event appears exactly once with a status, and every revoked rule
//! appears with all of its attributes (the backup a restore feeds back). If any resource
//! `failed`, the invocation is a function error whose body is this whole report plus
//! `errorType` and `errorMessage`, so Config records the failure and nothing is hidden.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::ConfigSite;
use crate::rules::{Permission, RuleId};
use acs_openapi::endpoint::Endpoint;

/// What happened to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exposed rules were revoked and verified gone.
    Remediated,
    /// Nothing is exposed (possibly because of shadowing Drop rules or prefix-list sources).
    Compliant,
    /// Dry run: these rules would have been revoked.
    WouldRemediate,
    /// Deliberately not acted on (unsupported type, deleted, managed, exempt); the reason says why.
    Skipped,
    /// Could not be brought to a known state; the reason says why.
    Failed,
}

impl Status {
    /// The status as the report and the audit line spell it (snake case): the one table of
    /// these names.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Remediated => "remediated",
            Status::Compliant => "compliant",
            Status::WouldRemediate => "would_remediate",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

impl Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

pub use crate::config::Mode;

/// The report spells the mode as the `REMEDIATION_MODE` value (`enforce` / `dry-run`).
impl Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One resource's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceResult {
    /// `resourceId`: the security group this entry is about; absent only for an event item too
    /// broken to name one.
    pub resource_id: Option<String>,
    /// `regionId`: the region of the group, as the event or Config gave it.
    pub region_id: Option<String>,
    /// `accountId`: the account that owns the group; in an aggregator event it may differ from the
    /// function's own.
    pub account_id: Option<String>,
    /// `resourceType`: the Config type of the resource (`ACS::ECS::SecurityGroup` is the only one
    /// acted on).
    pub resource_type: Option<String>,
    /// `status`: the outcome to alert on; `failed` makes the whole invocation a function error.
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `reason`: why a resource was skipped or failed, or what else an operator should know, in
    /// words.
    pub reason: Option<String>,
    /// `revokedRuleIds`: the rules this invocation removed and then verified gone.
    pub revoked_rule_ids: Vec<RuleId>,
    /// Full attributes of each revoked rule, with its restore `Seal` when `RESTORE_SEAL_KEY` is
    /// set: enough to put it back with a restore event.
    pub revoked_rules: Vec<RevokedRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `wouldRevokeRuleIds`: dry run only, the rules an enforcing run would revoke.
    pub would_revoke_rule_ids: Option<Vec<RuleId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `wouldRevokeRules`: dry run only, the full attributes of those rules, to review before
    /// switching to enforce.
    pub would_revoke_rules: Option<Vec<Permission>>,
    /// `narrowedRules`: with `REMEDIATION_ACTION=narrow`, each world-open rule replaced by rules
    /// from the allowed sources: the original (as in `revokedRules`, sealed when it was revoked)
    /// and the rules added in its place (their ids from the group read again, each sealed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub narrowed_rules: Vec<NarrowedRule>,
    /// `wouldNarrowRules`: dry run with `REMEDIATION_ACTION=narrow`, each rule an enforcing run
    /// would narrow and the rules it would add in its place (nothing sealed: nothing changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_narrow_rules: Option<Vec<WouldNarrow>>,
    /// World-open rules whose risky ports are all denied by higher-precedence Drop rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadowed_rule_ids: Vec<RuleId>,
    /// Rules that cannot be judged from the data (prefix-list sources, port lists, unreadable
    /// values): not revoked, for an operator to check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub review_rule_ids: Vec<RuleId>,
    /// Rules a revoke was sent for whose answer never arrived, when there was no way to check
    /// the group afterwards (e.g. the deadline): they may be gone. Full attributes, as in
    /// `revokedRules`, so they can be restored if they were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unverified_rules: Vec<RevokedRule>,
    /// Rules on which Config's snapshot and live ECS disagree (selected in one view only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift_rule_ids: Vec<RuleId>,
    /// RequestIds of every API call made for this resource, for the cloud's own audit trail.
    pub api_request_ids: Vec<String>,
    /// `openedBy`: with `LOOKUP_OPENER=true`, who opened each revoked rule, by rule id, as
    /// ActionTrail tells it. Kept apart from `revokedRules`, so no seal ever covers it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub opened_by: BTreeMap<RuleId, OpenedBy>,
    /// Config answered that it does not know the resource (not in the report: the reason says
    /// so); read by [`Report::with_config_site_hint`].
    #[serde(skip)]
    pub not_in_config: bool,
}

impl ResourceResult {
    /// A result with the identifying fields and a status; lists empty.
    pub fn new(
        resource_id: Option<String>,
        region_id: Option<String>,
        account_id: Option<String>,
        resource_type: Option<String>,
        status: Status,
    ) -> Self {
        ResourceResult {
            resource_id,
            region_id,
            account_id,
            resource_type,
            status,
            reason: None,
            revoked_rule_ids: Vec::new(),
            revoked_rules: Vec::new(),
            would_revoke_rule_ids: None,
            would_revoke_rules: None,
            narrowed_rules: Vec::new(),
            would_narrow_rules: None,
            shadowed_rule_ids: Vec::new(),
            review_rule_ids: Vec::new(),
            unverified_rules: Vec::new(),
            drift_rule_ids: Vec::new(),
            api_request_ids: Vec::new(),
            opened_by: BTreeMap::new(),
            not_in_config: false,
        }
    }

    /// Adds the human explanation shown as `reason`.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// A rule as `revokedRules` and `unverifiedRules` list it: every attribute of the rule (the
/// PascalCase record of [`Permission::to_json`]) plus, when the deployment has a
/// `RESTORE_SEAL_KEY`, a `Seal` proving this deployment revoked it there (see [`crate::seal`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RevokedRule {
    /// Every attribute of the revoked rule, enough to authorize it again.
    pub rule: Permission,
    /// The `Seal` that lets a restore event put the rule back (absent without `RESTORE_SEAL_KEY`).
    pub seal: Option<String>,
}

impl From<Permission> for RevokedRule {
    fn from(rule: Permission) -> Self {
        RevokedRule { rule, seal: None }
    }
}

impl Serialize for RevokedRule {
    /// The rule's record with its `Seal` among the other members, in the byte order of the
    /// names (as the rule alone is written).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.rule
            .serialize_with(s, self.seal.as_deref().map(|seal| ("Seal", seal)))
    }
}

/// One world-open rule narrowed to the allowed sources: `{"original": …, "added": […],
/// "originalRevoked": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NarrowedRule {
    /// The world-open rule, every attribute; sealed (restorable) only when it was revoked.
    pub original: RevokedRule,
    /// The rules this invocation added in its place, as the group lists them now (their new
    /// ids included), each sealed so that a restore may revoke it again.
    pub added: Vec<RevokedRule>,
    /// Whether the original was revoked and verified gone. `false`: the revoke failed after the
    /// rules were added; they stay (they only admit the allowed sources) and the reason says so.
    pub original_revoked: bool,
}

/// A dry run's narrowing of one rule: `{"original": …, "added": […]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WouldNarrow {
    /// The world-open rule an enforcing run would revoke.
    pub original: Permission,
    /// The rules it would authorize first (sources the group already allows are left out).
    pub added: Vec<Permission>,
}

/// Who opened a revoked rule, as ActionTrail's latest matching event names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opener {
    /// `userIdentity.type` (e.g. `ram-user`).
    pub principal_type: Option<String>,
    /// `userIdentity.userName`, shown as `principalName` when known.
    pub principal_name: Option<String>,
    /// `userIdentity.principalId`, shown when there is no name.
    pub principal_id: Option<String>,
    /// `sourceIpAddress`.
    pub source_ip: Option<String>,
    /// `eventTime`.
    pub event_time: Option<String>,
    /// `eventId`.
    pub event_id: Option<String>,
}

/// One entry of `openedBy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenedBy {
    /// The latest event that authorized or modified a matching rule.
    Found(Opener),
    /// The events of the last 90 days name no matching rule: `{"found": false}`.
    NotFound,
    /// Not (fully) looked up: `{"lookedUp": false, "reason": ...}` with `budget` (the
    /// invocation's calls or the group's pages were used up), `deadline` or `error` (the lookup
    /// failed; the resource's reason says how).
    NotLookedUp(&'static str),
}

impl Serialize for OpenedBy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        match self {
            OpenedBy::Found(o) => {
                let fields = [
                    ("principalType", &o.principal_type),
                    ("principalName", &o.principal_name),
                    (
                        "principalId",
                        if o.principal_name.is_some() {
                            &None
                        } else {
                            &o.principal_id
                        },
                    ),
                    ("sourceIp", &o.source_ip),
                    ("eventTime", &o.event_time),
                    ("eventId", &o.event_id),
                ];
                for (name, value) in fields {
                    if let Some(v) = value {
                        map.serialize_entry(name, v)?;
                    }
                }
            }
            OpenedBy::NotFound => map.serialize_entry("found", &false)?,
            OpenedBy::NotLookedUp(reason) => {
                map.serialize_entry("lookedUp", &false)?;
                map.serialize_entry("reason", reason)?;
            }
        }
        map.end()
    }
}

/// How many resources ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `remediated`: resources whose exposed rules were revoked and verified gone.
    pub remediated: usize,
    /// `compliant`: resources with nothing exposed.
    pub compliant: usize,
    /// `wouldRemediate`: dry run, resources an enforcing run would change.
    pub would_remediate: usize,
    /// `skipped`: resources deliberately left alone (see each `reason`).
    pub skipped: usize,
    /// `failed`: resources left in an unknown or exposed state; any makes the invocation fail.
    pub failed: usize,
}

impl Summary {
    /// Counts `results` by status.
    pub fn of(results: &[ResourceResult]) -> Self {
        let mut s = Summary::default();
        for r in results {
            match r.status {
                Status::Remediated => s.remediated += 1,
                Status::Compliant => s.compliant += 1,
                Status::WouldRemediate => s.would_remediate += 1,
                Status::Skipped => s.skipped += 1,
                Status::Failed => s.failed += 1,
            }
        }
        s
    }
}

/// The most bytes a report takes as JSON, so that the answer (the report, plus `errorType` and
/// an `errorMessage` naming at most `FAILED_IDS_NAMED` (20) ids when it is a function error) stays
/// within 4 MiB whatever the number of resources and failures.
pub const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024 - 16 * 1024;

/// No reason is cut shorter than this: the start of a reason says what went wrong.
pub const MIN_REASON_BYTES: usize = 160;

/// The JSON length of `value`, counted without writing it anywhere.
fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("a report serializes");
    count.0
}

/// `reason` cut to at most `keep` bytes and marked with how many were cut, as a cloud message is.
fn cut_reason(reason: &mut String, keep: usize) {
    acs_openapi::error::cut_to(reason, keep);
}

/// How many failed resource ids `errorMessage` names before "and N more".
const FAILED_IDS_NAMED: usize = 20;

/// The response body of a remediation invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `requestId`: the FC request id of this invocation, to find its log lines.
    pub request_id: String,
    /// `mode`: `enforce` or `dry-run`; in a dry run nothing was changed.
    pub mode: Mode,
    /// `summary`: counts per status, for alerts and dashboards.
    pub summary: Summary,
    /// `results`: one entry per resource of the event, in event order; none is left out.
    pub results: Vec<ResourceResult>,
    /// `notification`: how the webhook message about this invocation went, when one was sent
    /// (`NOTIFY_WEBHOOK_URL`); a failed notification is only this note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<crate::notify::Notification>,
}

impl Report {
    /// The report of one invocation; the summary is counted from `results`. Fitted to
    /// [`MAX_REPORT_BYTES`] (see [`Report::fit`]).
    pub fn new(request_id: String, mode: Mode, results: Vec<ResourceResult>) -> Self {
        let mut report = Report {
            request_id,
            mode,
            summary: Summary::of(&results),
            results,
            notification: None,
        };
        report.fit(MAX_REPORT_BYTES);
        report
    }

    /// Keeps the report's JSON within `budget` bytes by shortening reasons: all reasons longer
    /// than one common length are cut to it (marked `…[cut, N bytes]`), the length halving from
    /// the longest reason's until the report fits or reaches [`MIN_REASON_BYTES`]. Nothing is
    /// dropped: every resource keeps its entry, its status, its rules and the start of its
    /// reason.
    pub fn fit(&mut self, budget: usize) {
        let mut size = json_len(self);
        if size <= budget {
            return;
        }
        let longest = self
            .results
            .iter()
            .filter_map(|r| r.reason.as_ref().map(String::len))
            .max()
            .unwrap_or(0);
        let mut keep = longest;
        while size > budget && keep > MIN_REASON_BYTES {
            keep = (keep / 2).max(MIN_REASON_BYTES);
            for reason in self.results.iter_mut().filter_map(|r| r.reason.as_mut()) {
                cut_reason(reason, keep);
            }
            size = json_len(self);
        }
        if size > budget {
            tracing::warn!(
                size,
                budget,
                "the report is over its budget with every reason cut short"
            );
        }
    }

    /// When Config knew none of the event's resources, the likeliest cause is a Config endpoint
    /// of the other site (the site belongs to the account): each reason then says so, naming the
    /// endpoint that was read and how to read the other site.
    pub fn with_config_site_hint(mut self, config_endpoint: &Endpoint) -> Self {
        if self.results.is_empty() || !self.results.iter().all(|r| r.not_in_config) {
            return self;
        }
        let hint = config_site_hint(config_endpoint);
        for r in &mut self.results {
            r.reason = Some(match r.reason.take() {
                Some(reason) => format!("{reason}; {hint}"),
                None => hint.clone(),
            });
        }
        // The hint lengthens every reason: the report is fitted to its budget again.
        self.fit(MAX_REPORT_BYTES);
        self
    }

    /// `Some(message)` when the invocation must be a function error.
    pub fn failure_message(&self) -> Option<String> {
        (self.summary.failed > 0).then(|| {
            // At most FAILED_IDS_NAMED ids: the whole list is in `results`, and an event of
            // thousands of bad items must not make the message as large as the report.
            let mut ids: Vec<&str> = self
                .results
                .iter()
                .filter(|r| r.status == Status::Failed)
                .map(|r| r.resource_id.as_deref().unwrap_or("(unnamed)"))
                .take(FAILED_IDS_NAMED + 1)
                .collect();
            let more = if ids.len() > FAILED_IDS_NAMED {
                ids.truncate(FAILED_IDS_NAMED);
                format!(" and {} more", self.summary.failed - FAILED_IDS_NAMED)
            } else {
                String::new()
            };
            format!(
                "{} of {} resources failed: {}{more}",
                self.summary.failed,
                self.results.len(),
                ids.join(", ")
            )
        })
    }
}

/// The response body of a restore invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    /// `requestId`: the FC request id of this invocation, to find its log lines.
    pub request_id: String,
    /// `action`: always `restore`, so a reader can tell this report from a remediation one.
    pub action: &'static str,
    /// `resourceId`: the security group the rules were restored to.
    pub resource_id: String,
    /// `regionId`: the region of that group.
    pub region_id: String,
    /// `accountId`: the account of that group, when the restore event named one.
    pub account_id: Option<String>,
    /// `restored`, `would_restore` (dry run), `skipped` (exempt, deleted, managed) or `failed`.
    pub status: RestoreStatus,
    /// The mode the restore ran in: a dry run (deployment or event) changes nothing.
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `reason`: why the restore was skipped or failed, in words.
    pub reason: Option<String>,
    /// `restoredRules`: the rules authorized again by this invocation.
    pub restored_rules: Vec<Permission>,
    /// Dry run: the rules that would have been re-authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_restore_rules: Option<Vec<Permission>>,
    /// Rules not re-added because an identical rule is already present.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub already_present_rules: Vec<Permission>,
    /// Entries refused because their seal is missing, invalid or expired (then nothing is
    /// restored at all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_rules: Vec<RefusedRule>,
    /// Ids the restored rules got (a restored rule gets a new id), learned by describing again.
    pub new_rule_ids: Vec<RuleId>,
    /// `removedRules`: rules an earlier narrowing added (the event's `removeRules`) that this
    /// restore revoked, verified gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed_rules: Vec<Permission>,
    /// `wouldRemoveRules`: dry run, the rules of `removeRules` a real restore would revoke.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_remove_rules: Option<Vec<Permission>>,
    /// `apiRequestIds`: RequestIds of every API call made, for the cloud's own audit trail.
    pub api_request_ids: Vec<String>,
}

/// How a restore ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreStatus {
    /// Every sealed rule is back (or was already present).
    Restored,
    /// A dry run: nothing was changed; `wouldRestoreRules` says what would be.
    WouldRestore,
    /// Left alone: exempt, deleted or managed, as a remediation would leave it.
    Skipped,
    /// Refused (a seal did not verify) or stopped by an error; the reason says which.
    Failed,
}

impl RestoreStatus {
    /// Whether the invocation answers this restore as a success.
    pub fn is_success(self) -> bool {
        self != RestoreStatus::Failed
    }
}

impl From<Status> for RestoreStatus {
    /// A step that stopped a restore stopped it as it would a remediation: skipped or failed.
    fn from(status: Status) -> Self {
        match status {
            Status::Skipped => RestoreStatus::Skipped,
            _ => RestoreStatus::Failed,
        }
    }
}

/// A restore entry that was refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedRule {
    /// Position in the event's `rules` (or in `removeRules`, see `list`), from 0.
    pub index: usize,
    /// `removeRules` when the entry is one of the event's `removeRules`; absent for `rules`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<&'static str>,
    /// The entry as the event gave it.
    pub rule: Permission,
    /// Why it was refused (missing, malformed, mismatched or expired seal).
    pub reason: String,
}

/// Why every resource of an event may look "not in Config": the endpoint read, and the site to
/// try instead.
fn config_site_hint(endpoint: &Endpoint) -> String {
    let read = endpoint.as_str();
    match ConfigSite::of_endpoint(endpoint) {
        Some(site) => {
            let other = match site {
                ConfigSite::China => ConfigSite::International,
                ConfigSite::International => ConfigSite::China,
            };
            format!(
                "Config knew none of this event's resources at {read} (the {} site): if the \
                 account is on the {} site, set CONFIG_ENDPOINT={} (Terraform: config_site = \
                 \"{}\"; CLI: --config-site {})",
                site.name(),
                other.name(),
                other.endpoint(),
                other.name(),
                other.name()
            )
        }
        None => format!(
            "Config knew none of this event's resources at {read}: check that CONFIG_ENDPOINT is \
             the Config endpoint of the account's site ({}: {}, {}: {})",
            ConfigSite::China.name(),
            ConfigSite::China.endpoint(),
            ConfigSite::International.name(),
            ConfigSite::International.endpoint()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A rule record with any subset of the fields, values from odd to ordinary (quotes,
    /// backslashes, non-ASCII, world and private sources, ranges, blanks), and maybe a seal.
    fn any_revoked_rule() -> impl proptest::strategy::Strategy<Value = RevokedRule> {
        use proptest::prelude::*;
        let text = prop_oneof![
            Just(String::new()),
            Just("0.0.0.0/0".to_string()),
            Just("::/0".to_string()),
            Just("22/22".to_string()),
            Just("-1/-1".to_string()),
            Just("TCP".to_string()),
            Just("accept".to_string()),
            Just("ingress".to_string()),
            "[ -~]{0,12}",
            "[a-z\\\"é ]{0,8}",
        ];
        let fields =
            proptest::collection::vec(proptest::option::of(text), crate::rules::FIELDS.len());
        let priority = proptest::option::of(1u8..=100);
        let seal = proptest::option::of("[A-Za-z0-9+/=.:_-]{0,40}");
        (fields, priority, seal).prop_map(|(fields, priority, seal)| {
            let mut object = serde_json::Map::new();
            for (spec, value) in crate::rules::FIELDS.iter().zip(fields) {
                if let Some(v) = value {
                    object.insert(spec.name.to_string(), serde_json::Value::String(v));
                }
            }
            match priority {
                Some(p) => object.insert("Priority".into(), p.into()),
                None => object.remove("Priority"),
            };
            let rule = Permission::from_json(&serde_json::Value::Object(object))
                .expect("every generated rule reads");
            RevokedRule { rule, seal }
        })
    }

    proptest::proptest! {
        /// The documented record: every field the rule has, `Seal` included, each once, in the
        /// byte order of the names, and read back as the same rule.
        #[test]
        fn a_revoked_rules_record_lists_its_members_in_byte_order(revoked in any_revoked_rule()) {
            let text = serde_json::to_string(&revoked).unwrap();
            let record: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&text).unwrap();
            let names: Vec<&String> = record.keys().collect();
            let mut sorted = names.clone();
            sorted.sort();
            sorted.dedup();
            proptest::prop_assert_eq!(&names, &sorted, "{}", text);
            proptest::prop_assert_eq!(
                record.get("Seal").and_then(|s| s.as_str()),
                revoked.seal.as_deref()
            );
            let mut rule = record.clone();
            rule.remove("Seal");
            let back = Permission::from_json(&serde_json::Value::Object(rule)).unwrap();
            proptest::prop_assert_eq!(back, revoked.rule);
        }
    }

    fn not_in_config(sg: &str) -> ResourceResult {
        let mut r = ResourceResult::new(Some(sg.into()), None, None, None, Status::Skipped)
            .with_reason("not found in Config (deleted or never recorded): ResourceNotExists");
        r.not_in_config = true;
        r
    }

    fn endpoint(url: &str) -> Endpoint {
        Endpoint::parse(url).unwrap()
    }

    #[test]
    fn when_config_knows_no_resource_the_reason_suggests_the_other_site() {
        let china = Report::new(
            "req".into(),
            Mode::DryRun,
            vec![not_in_config("sg-1"), not_in_config("sg-2")],
        )
        .with_config_site_hint(&endpoint(ConfigSite::China.endpoint()));
        for r in &china.results {
            let reason = r.reason.as_deref().unwrap();
            assert!(
                reason.starts_with("not found in Config (deleted or never recorded)"),
                "{reason}"
            );
            assert!(
                reason.contains(
                    "at https://config.cn-shanghai.aliyuncs.com (the china site): if the account is \
                     on the international site, set CONFIG_ENDPOINT=https://config.ap-southeast-1.aliyuncs.com \
                     (Terraform: config_site = \"international\"; CLI: --config-site international)"
                ),
                "{reason}"
            );
        }
        let international = Report::new("req".into(), Mode::DryRun, vec![not_in_config("sg-1")])
            .with_config_site_hint(&endpoint(ConfigSite::International.endpoint()));
        let reason = international.results[0].reason.as_deref().unwrap();
        assert!(
            reason.contains("(the international site): if the account is on the china site, set CONFIG_ENDPOINT=https://config.cn-shanghai.aliyuncs.com"),
            "{reason}"
        );
    }

    #[test]
    fn with_another_config_endpoint_the_hint_lists_both_sites() {
        let report = Report::new("req".into(), Mode::DryRun, vec![not_in_config("sg-1")])
            .with_config_site_hint(&endpoint("http://127.0.0.1:8080"));
        let reason = report.results[0].reason.as_deref().unwrap();
        assert!(
            reason.contains("at http://127.0.0.1:8080: check that CONFIG_ENDPOINT"),
            "{reason}"
        );
        assert!(reason.contains(ConfigSite::China.endpoint()), "{reason}");
        assert!(
            reason.contains(ConfigSite::International.endpoint()),
            "{reason}"
        );
    }

    #[test]
    fn when_config_knows_some_resource_no_site_is_suspected() {
        let known = ResourceResult::new(Some("sg-2".into()), None, None, None, Status::Compliant);
        let report = Report::new(
            "req".into(),
            Mode::DryRun,
            vec![not_in_config("sg-1"), known],
        )
        .with_config_site_hint(&endpoint(ConfigSite::China.endpoint()));
        assert_eq!(
            report.results[0].reason.as_deref(),
            Some("not found in Config (deleted or never recorded): ResourceNotExists")
        );
        assert_eq!(report.results[1].reason, None);
        let empty = Report::new("req".into(), Mode::DryRun, vec![])
            .with_config_site_hint(&endpoint(ConfigSite::China.endpoint()));
        assert!(empty.results.is_empty());
    }

    #[test]
    fn the_summary_counts_each_status() {
        let r = |s| ResourceResult::new(Some("sg".into()), None, None, None, s);
        let report = Report::new(
            "req".into(),
            Mode::Enforce,
            vec![
                r(Status::Remediated),
                r(Status::Failed),
                r(Status::Skipped),
                r(Status::Skipped),
            ],
        );
        assert_eq!(
            serde_json::to_value(report.summary).unwrap(),
            json!({"remediated": 1, "compliant": 0, "wouldRemediate": 0, "skipped": 2, "failed": 1})
        );
        assert_eq!(
            report.failure_message().unwrap(),
            "1 of 4 resources failed: sg"
        );
    }

    #[test]
    fn results_serialize_with_the_documented_field_names() {
        let mut r = ResourceResult::new(
            Some("sg-1".into()),
            Some("cn-hangzhou".into()),
            Some("1".into()),
            Some("ACS::ECS::SecurityGroup".into()),
            Status::WouldRemediate,
        );
        r.would_revoke_rule_ids = Some(vec![RuleId("sgr-1".into())]);
        let v = serde_json::to_value(Report::new("req".into(), Mode::DryRun, vec![r])).unwrap();
        assert_eq!(v["mode"], "dry-run");
        let first = &v["results"][0];
        assert_eq!(first["status"], "would_remediate");
        assert_eq!(first["wouldRevokeRuleIds"], json!(["sgr-1"]));
        assert_eq!(first["revokedRuleIds"], json!([]));
        assert!(first.get("shadowedRuleIds").is_none());
        assert!(first.get("reason").is_none());
    }

    #[test]
    fn a_report_without_failures_is_not_an_error() {
        let r = ResourceResult::new(None, None, None, None, Status::Compliant);
        assert_eq!(
            Report::new("x".into(), Mode::Enforce, vec![r]).failure_message(),
            None
        );
    }

    fn failed_with(reason: &str, i: usize) -> ResourceResult {
        ResourceResult::new(
            Some(format!("sg-{i:020}")),
            Some("cn-hangzhou".into()),
            None,
            Some(crate::event::SECURITY_GROUP.into()),
            Status::Failed,
        )
        .with_reason(reason)
    }

    #[test]
    fn a_report_over_its_budget_shortens_reasons_and_keeps_every_status() {
        let results: Vec<ResourceResult> = (0..1000)
            .map(|i| failed_with(&format!("Throttling {}", "x".repeat(20_000)), i))
            .collect();
        let report = Report::new("r".into(), Mode::Enforce, results);
        assert!(
            json_len(&report) <= MAX_REPORT_BYTES,
            "{}",
            json_len(&report)
        );
        assert_eq!(report.results.len(), 1000);
        assert_eq!(report.summary.failed, 1000);
        for r in &report.results {
            let reason = r.reason.as_deref().unwrap();
            assert!(reason.starts_with("Throttling x"), "{reason}");
            assert!(reason.contains("…[cut, "), "{reason}");
            assert_eq!(r.status, Status::Failed);
        }
    }

    #[test]
    fn a_report_within_its_budget_is_left_whole() {
        let long = format!("Throttling {}", "x".repeat(20_000));
        let report = Report::new("r".into(), Mode::Enforce, vec![failed_with(&long, 1)]);
        assert_eq!(report.results[0].reason.as_deref(), Some(long.as_str()));
    }

    #[test]
    fn a_reason_is_cut_at_a_character_and_says_how_much_was_cut() {
        let mut reason = "é".repeat(300);
        cut_reason(&mut reason, MIN_REASON_BYTES + 1);
        assert_eq!(
            reason,
            format!(
                "{}…[cut, {} bytes]",
                "é".repeat(MIN_REASON_BYTES / 2),
                600 - MIN_REASON_BYTES
            )
        );
    }
}
