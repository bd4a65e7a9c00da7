//! ECS security-group calls: read the live ingress rules, revoke by rule id, authorize (restore).
//!
//! Revoke and Authorize are sent in chunks of at most 100 (the API's limit), each with a
//! `ClientToken` derived from the invocation's request id and the chunk's content: every retry
//! of a chunk within one invocation is idempotent on the server (never revokes or adds twice),
//! while a separate invocation (a second restore of the same backup) is a new request. ECS
//! requires a token to be unique among different requests and answers a repeated one from its
//! cache without doing anything (ClientToken, `ecs-20140526/client/
//! authorize_security_group_request_model.go`, "How to ensure idempotence").

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{call, Api};
use crate::rule_lists::typed;
use crate::rules::{Authorize, Direction, Entry, Permission, PortRange, RuleId, FIELDS};
use acs_openapi::json::{text, Object};
use acs_openapi::response::{Envelope, Reply};
use acs_openapi::{ApiError, CallContext, Client, Endpoint, Params};

/// Reads a group's live rules: the truth a revoke is decided on, not Config's snapshot.
pub const DESCRIBE_SECURITY_GROUP_ATTRIBUTE: Api = Api {
    service: "ecs",
    action: "DescribeSecurityGroupAttribute",
    version: "2014-05-26",
};

/// Deletes rules by id: the one call that changes a group.
pub const REVOKE_SECURITY_GROUP: Api = Api {
    service: "ecs",
    action: "RevokeSecurityGroup",
    version: "2014-05-26",
};

/// Adds rules back: used only by a restore.
pub const AUTHORIZE_SECURITY_GROUP: Api = Api {
    service: "ecs",
    action: "AuthorizeSecurityGroup",
    version: "2014-05-26",
};

/// Rule ids or permissions per Revoke/Authorize request (the API's maximum).
pub const CHUNK_SIZE: usize = 100;

/// Page size for DescribeSecurityGroupAttribute (the API's maximum).
pub const PAGE_SIZE: u32 = 1000;

/// More pages than this means the server is looping: no security group has 100 000 rules.
pub const MAX_PAGES: u32 = 100;

/// The complete live ingress rule set of one security group.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroupRules {
    /// Every ingress rule of the group, all pages together.
    pub permissions: Vec<Permission>,
    /// One per page, in order.
    pub request_ids: Vec<String>,
    /// How many pages were read; a group of over 1000 rules takes several.
    pub pages: u32,
    /// A classic-network group (the live answer has no `VpcId`): both NIC types were read.
    pub classic: bool,
}

/// The second read of a classic-network group: the first call (no `NicType`) answers the
/// `internet` rules of a classic group, so the `intranet` ones need a call of their own.
pub const CLASSIC_SECOND_NIC_TYPE: &str = "intranet";

/// Whether a group whose first page says `vpc_id` is a classic-network one, whose rules come
/// one NIC type per call. No `VpcId` at all counts as classic: reading both NIC types of a VPC
/// group costs one harmless call, missing the intranet rules of a classic group leaves a port
/// open.
pub fn is_classic(vpc_id: Option<&str>) -> bool {
    vpc_id.is_none_or(|v| v.trim().is_empty())
}

/// Reads every ingress rule of `sg_id`, following `NextToken` to the last page.
///
/// `NicType` (`ecs-20140526/client/describe_security_group_attribute_request_model.go`): a
/// VPC group answers its (intranet) rules whatever is asked; a classic-network group answers
/// the rules of *one* NIC type per call, `internet` when `NicType` is absent ("to query both NIC
/// types, call the operation twice"). So the first read sends no `NicType`, and when the live
/// answer shows no `VpcId` a second read asks for `intranet`.
///
/// An error on any page fails the whole call: a partial rule set is an unknown state, never a
/// compliant one.
pub async fn describe_security_group_attribute(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    region: &str,
    sg_id: &str,
) -> Result<SecurityGroupRules, ApiError> {
    describe_security_group_attribute_traced(client, cx, endpoint, region, sg_id, &mut Vec::new())
        .await
}

/// [`describe_security_group_attribute`], pushing the errors of retried attempts to `retried`
/// (oldest first), whether the read succeeds or not.
pub async fn describe_security_group_attribute_traced(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    region: &str,
    sg_id: &str,
    retried: &mut Vec<ApiError>,
) -> Result<SecurityGroupRules, ApiError> {
    let mut rules = SecurityGroupRules {
        permissions: Vec::new(),
        request_ids: Vec::new(),
        pages: 0,
        classic: false,
    };
    let mut read = Read {
        client,
        cx,
        endpoint,
        region,
        sg_id,
        rules: &mut rules,
        retried,
    };
    let vpc_id = read.nic_type(None).await?;
    if is_classic(vpc_id.as_deref()) {
        read.rules.classic = true;
        read.nic_type(Some(CLASSIC_SECOND_NIC_TYPE)).await?;
    }
    Ok(rules)
}

/// One DescribeSecurityGroupAttribute read in progress.
struct Read<'a, 'c> {
    client: &'a Client,
    cx: &'a CallContext<'c>,
    endpoint: &'a Endpoint,
    region: &'a str,
    sg_id: &'a str,
    rules: &'a mut SecurityGroupRules,
    retried: &'a mut Vec<ApiError>,
}

impl Read<'_, '_> {
    /// Reads all pages of one `NicType` (or none) into `rules`; returns the first page's `VpcId`.
    async fn nic_type(&mut self, nic_type: Option<&str>) -> Result<Option<String>, ApiError> {
        let (client, cx, endpoint, region, sg_id) =
            (self.client, self.cx, self.endpoint, self.region, self.sg_id);
        let mut seen_tokens = HashSet::new();
        let mut next_token: Option<String> = None;
        let mut vpc_id: Option<Option<String>> = None;
        loop {
            let mut params = Params::new();
            params.insert("RegionId".into(), region.into());
            params.insert("SecurityGroupId".into(), sg_id.into());
            params.insert("Direction".into(), "ingress".into());
            params.insert("MaxResults".into(), PAGE_SIZE.to_string());
            if let Some(nic) = nic_type {
                params.insert("NicType".into(), nic.into());
            }
            if let Some(token) = &next_token {
                params.insert("NextToken".into(), token.clone());
            }
            let traced = call::<PageAnswer>(
                client,
                cx,
                endpoint,
                DESCRIBE_SECURITY_GROUP_ATTRIBUTE,
                params,
            )
            .await;
            self.retried.extend(traced.earlier);
            let answer = traced.result?;
            let rules = &mut *self.rules;
            rules.pages += 1;
            if let Some(id) = &answer.request_id {
                rules.request_ids.push(id.clone());
            }
            let page = page_of(answer.value, sg_id)?;
            rules.permissions.extend(page.permissions);
            let vpc_id = vpc_id.get_or_insert(page.vpc_id).clone();
            match page.next_token {
                None => return Ok(vpc_id),
                Some(token) => {
                    if !seen_tokens.insert(token.clone()) {
                        return Err(pagination_error(format!(
                            "NextToken {token:?} repeated after page {}",
                            rules.pages
                        )));
                    }
                    if rules.pages >= MAX_PAGES {
                        return Err(pagination_error(format!(
                            "more than {MAX_PAGES} pages; refusing to continue"
                        )));
                    }
                    next_token = Some(token);
                }
            }
        }
    }
}

fn pagination_error(detail: String) -> ApiError {
    ApiError::Decode {
        status: 200,
        detail: format!("DescribeSecurityGroupAttribute pagination: {detail}"),
    }
}

/// One page: its rules, the token of the next page (`None` on the last one) and the group's
/// `VpcId` (`None` when the answer has none or an empty one).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The rules on this page, each parsed.
    pub permissions: Vec<Permission>,
    /// Where to continue; `None` on the last page.
    pub next_token: Option<String>,
    /// Empty for a classic-network group, which is then read once per NIC type.
    pub vpc_id: Option<String>,
}

/// A DescribeSecurityGroupAttribute answer as the SDK model writes it
/// (`describe_security_group_attribute_response_body_model.go`): its envelope and the members a
/// page is made of, every rule a [`Record`]; the rest is skipped.
#[derive(Debug, Deserialize)]
struct PageAnswer {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(rename = "SecurityGroupId", default, deserialize_with = "text")]
    security_group_id: Option<String>,
    #[serde(rename = "Permissions", default)]
    permissions: Option<Object<Permissions>>,
    #[serde(rename = "NextToken", default, deserialize_with = "text")]
    next_token: Option<String>,
    #[serde(rename = "VpcId", default, deserialize_with = "text")]
    vpc_id: Option<String>,
}

impl Reply for PageAnswer {
    fn envelope(&mut self) -> Envelope {
        std::mem::take(&mut self.envelope)
    }
}

/// `Permissions`: `{"Permission": [...]}` (`{}` or a `null` list is how an empty list is
/// sometimes serialised).
#[derive(Debug, Deserialize)]
struct Permissions {
    #[serde(rename = "Permission", default)]
    permission: Option<Vec<Entry>>,
}

/// Reads one DescribeSecurityGroupAttribute answer from its bytes into typed rules (as a
/// successful answer: an error body is its error). Every rule must parse; a rule that does not
/// fails the page, naming the rule.
pub fn parse_page(body: &[u8], sg_id: &str) -> Result<Page, ApiError> {
    let (answer, _) =
        acs_openapi::response::read_response::<PageAnswer>(200, body, None, &Default::default())?;
    page_of(answer, sg_id)
}

/// The page of an answer, or why it cannot be used.
fn page_of(answer: PageAnswer, sg_id: &str) -> Result<Page, ApiError> {
    let decode = |detail: String| ApiError::Decode {
        status: 200,
        detail,
    };
    if let Some(answered) = &answer.security_group_id {
        if answered != sg_id {
            return Err(decode(format!(
                "ECS answered for {answered:?}, not the requested {sg_id:?}"
            )));
        }
    }
    let Some(Object(listed)) = answer.permissions else {
        return Err(decode("response has no Permissions".into()));
    };
    let permissions = typed(listed.permission.unwrap_or_default()).map_err(|(i, bad)| {
        let id = bad
            .id
            .unwrap_or_else(|| format!("#{} (no SecurityGroupRuleId)", i + 1));
        decode(format!("rule {id} could not be read: {}", bad.reason))
    })?;
    Ok(Page {
        permissions,
        next_token: answer.next_token.filter(|t| !t.trim().is_empty()),
        vpc_id: answer.vpc_id,
    })
}

/// The outcome of one RevokeSecurityGroup request.
#[derive(Debug, Clone, PartialEq)]
pub struct RevokeChunk {
    /// The rules the request tried to revoke.
    pub ids: Vec<RuleId>,
    /// The request id on success.
    pub result: Result<String, ApiError>,
    /// Errors of the attempts that were retried, oldest first: one that got no answer (or a
    /// `LastTokenProcessing`) means the chunk may have applied even if `result` is an error.
    pub retried: Vec<ApiError>,
}

/// The outcome of one AuthorizeSecurityGroup request (or of rules refused before sending).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizeChunk {
    /// The rules the request tried to authorize.
    pub rules: Vec<Permission>,
    /// The request id on success.
    pub result: Result<String, ApiError>,
    /// Errors of the attempts that were retried, oldest first.
    pub retried: Vec<ApiError>,
}

/// `prefix` + the first 32 hex characters of SHA-256(`material`): ≤ 64 ASCII characters as
/// ClientToken requires, and the same for the same content on every retry.
fn client_token(prefix: &str, material: &str) -> String {
    let digest = Sha256::digest(material.as_bytes());
    let mut token = String::with_capacity(prefix.len() + 32);
    token.push_str(prefix);
    for b in digest.iter().take(16) {
        // Writing to a String cannot fail.
        let _ = write!(token, "{b:02x}");
    }
    token
}

/// The ClientToken of a revoke chunk: `rm-` + hash of
/// `<invocation request id>\n<sg-id>,<sorted ids joined by ,>`. The request id makes it unique
/// per invocation; the content keeps it stable across the retries of one invocation.
pub fn revoke_client_token(invocation: &str, sg_id: &str, ids: &[RuleId]) -> String {
    let mut sorted: Vec<&str> = ids.iter().map(RuleId::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut material = format!("{invocation}\n{sg_id}");
    for id in sorted {
        material.push(',');
        material.push_str(id);
    }
    client_token("rm-", &material)
}

/// Sorted, de-duplicated ids split into requests of at most [`CHUNK_SIZE`].
pub fn revoke_chunks(ids: &[RuleId]) -> Vec<Vec<RuleId>> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted.chunks(CHUNK_SIZE).map(<[RuleId]>::to_vec).collect()
}

/// The parameters of one revoke request (besides the common ones).
pub fn revoke_params(invocation: &str, region: &str, sg_id: &str, ids: &[RuleId]) -> Params {
    let mut params = Params::new();
    params.insert("RegionId".into(), region.into());
    params.insert("SecurityGroupId".into(), sg_id.into());
    params.insert(
        "ClientToken".into(),
        revoke_client_token(invocation, sg_id, ids),
    );
    for (i, id) in ids.iter().enumerate() {
        params.insert(
            format!("SecurityGroupRuleId.{}", i + 1).into(),
            id.0.to_string(),
        );
    }
    params
}

/// Revokes ingress rules by id, in chunks of at most 100 sent one after another, with
/// ClientTokens unique to the invocation `invocation` (its request id).
///
/// Each chunk reports its own outcome; the caller re-describes the group to learn what
/// actually happened after any failure (a "rule not found" fails the whole request and the
/// fate of the other ids is undocumented).
pub async fn revoke_security_group(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    region: &str,
    sg_id: &str,
    invocation: &str,
    ids: &[RuleId],
) -> Vec<RevokeChunk> {
    let mut out = Vec::new();
    for chunk in revoke_chunks(ids) {
        let params = revoke_params(invocation, region, sg_id, &chunk);
        let traced = call::<Envelope>(client, cx, endpoint, REVOKE_SECURITY_GROUP, params).await;
        out.push(RevokeChunk {
            ids: chunk,
            result: traced.result.map(|r| r.request_id.unwrap_or_default()),
            retried: traced.earlier,
        });
    }
    out
}

/// `Permissions.N.*` for one rule (N 1-based), as AuthorizeSecurityGroup expects: `Policy` in
/// lower case, `Priority` as a string, exactly one source. Attributes ECS assigns (rule id,
/// creation time, direction) are not sent.
pub fn permission_params(n: usize, rule: &Permission) -> Result<Params, String> {
    if rule.direction != Direction::Ingress {
        return Err(format!(
            "only ingress rules can be authorized, this one is {:?}",
            rule.direction.as_str()
        ));
    }
    let sources = [
        rule.source_cidr.is_some(),
        rule.ipv6_source_cidr.is_some(),
        rule.source_group_id.is_some(),
        rule.source_prefix_list_id.is_some(),
    ];
    let count = sources.iter().filter(|s| **s).count();
    if count != 1 {
        return Err(format!(
            "a rule needs exactly one source (SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId or SourcePrefixListId), this one has {count}"
        ));
    }
    if rule.port_range_list_id.is_none()
        && matches!(&rule.port_range, PortRange::Unparsed(s) if s.trim().is_empty())
    {
        return Err("a rule needs a PortRange or a PortRangeListId".into());
    }
    let mut params = Params::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            params.insert(format!("Permissions.{n}.{name}").into(), value);
        }
    };
    for spec in &FIELDS {
        let text = rule.text(spec.field);
        match spec.authorize {
            Authorize::NotSent => {}
            Authorize::As(name) => put(name, text.map(Cow::into_owned)),
            Authorize::Lowercase(name) => put(name, text.map(|t| t.to_ascii_lowercase())),
            Authorize::SourceGroupOwner => {
                let (name, owner) = source_group_owner(text.as_deref());
                put(name, owner);
            }
        }
    }
    Ok(params)
}

/// Where a rule's source-group owner goes in AuthorizeSecurityGroup. DescribeSecurityGroupAttribute
/// reports the owner's numeric account *id* in `SourceGroupOwnerAccount`; Authorize's
/// `Permissions.N.SourceGroupOwnerAccount` expects an account *name* and the id goes in
/// `Permissions.N.SourceGroupOwnerId` (int64) (`ecs-20140526/client/
/// authorize_security_group_request_model.go`). So an all-digit value is sent as the id, anything
/// else as the name.
pub fn source_group_owner(owner: Option<&str>) -> (&'static str, Option<String>) {
    match owner.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) if o.bytes().all(|b| b.is_ascii_digit()) && o.parse::<i64>().is_ok() => {
            ("SourceGroupOwnerId", Some(o.to_string()))
        }
        other => ("SourceGroupOwnerAccount", other.map(str::to_string)),
    }
}

/// The canonical form of a rule for hashing and de-duplication: its `Permissions.1.*` wire
/// parameters, in byte order.
fn canonical_rule(rule: &Permission) -> Result<String, String> {
    let params = permission_params(1, rule)?;
    Ok(acs_openapi::signing::canonical_query(&params))
}

/// The ClientToken of an authorize chunk: `au-` + hash of the invocation's request id, the sg
/// id and the chunk's rules in canonical form, sorted (so the same rules in any order give the
/// same token within one invocation, and a second restore of the same backup a new one).
pub fn authorize_client_token(
    invocation: &str,
    sg_id: &str,
    rules: &[Permission],
) -> Result<String, String> {
    let mut forms = rules
        .iter()
        .map(canonical_rule)
        .collect::<Result<Vec<_>, _>>()?;
    forms.sort();
    forms.dedup();
    let mut material = format!("{invocation}\n{sg_id}");
    for form in forms {
        material.push('\n');
        material.push_str(&form);
    }
    Ok(client_token("au-", &material))
}

/// Adds ingress rules (the restore path), in chunks of at most 100. Rules that cannot form a
/// valid request (not ingress, not exactly one source) are not sent: each gets a chunk of its
/// own with an `InvalidRequest` error, so one bad backup record does not block the others.
pub async fn authorize_security_group(
    client: &Client,
    cx: &CallContext<'_>,
    endpoint: &Endpoint,
    region: &str,
    sg_id: &str,
    invocation: &str,
    rules: &[Permission],
) -> Vec<AuthorizeChunk> {
    let mut out = Vec::new();
    let mut valid: Vec<(String, Permission)> = Vec::new();
    for rule in rules {
        match canonical_rule(rule) {
            Ok(form) => valid.push((form, rule.clone())),
            Err(e) => out.push(AuthorizeChunk {
                rules: vec![rule.clone()],
                result: Err(ApiError::InvalidRequest(e)),
                retried: Vec::new(),
            }),
        }
    }
    valid.sort_by(|a, b| a.0.cmp(&b.0));
    valid.dedup_by(|a, b| a.0 == b.0);
    let valid: Vec<Permission> = valid.into_iter().map(|(_, r)| r).collect();
    for chunk in valid.chunks(CHUNK_SIZE) {
        let (result, retried) = match authorize_params(invocation, region, sg_id, chunk) {
            Ok(params) => {
                let traced =
                    call::<Envelope>(client, cx, endpoint, AUTHORIZE_SECURITY_GROUP, params).await;
                (
                    traced.result.map(|r| r.request_id.unwrap_or_default()),
                    traced.earlier,
                )
            }
            Err(e) => (Err(ApiError::InvalidRequest(e)), Vec::new()),
        };
        out.push(AuthorizeChunk {
            rules: chunk.to_vec(),
            result,
            retried,
        });
    }
    out
}

/// The parameters of one authorize request (besides the common ones).
pub fn authorize_params(
    invocation: &str,
    region: &str,
    sg_id: &str,
    rules: &[Permission],
) -> Result<Params, String> {
    let mut params = Params::new();
    params.insert("RegionId".into(), region.into());
    params.insert("SecurityGroupId".into(), sg_id.into());
    params.insert(
        "ClientToken".into(),
        authorize_client_token(invocation, sg_id, rules)?,
    );
    for (i, rule) in rules.iter().enumerate() {
        params.extend(permission_params(i + 1, rule)?);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    /// [`parse_page`] of the bytes of `body`, as the answer would arrive.
    fn parse_json_page(body: &Value, sg_id: &str) -> Result<Page, ApiError> {
        parse_page(&serde_json::to_vec(body).unwrap(), sg_id)
    }

    use super::*;
    use serde_json::{json, Value};

    fn ids(names: &[&str]) -> Vec<RuleId> {
        names.iter().map(|n| RuleId((*n).into())).collect()
    }

    fn rule(v: Value) -> Permission {
        Permission::from_json(&v).unwrap()
    }

    const INVOCATION: &str = "1-66f0a2b1-e6b2c7a9d0e1f2a3b4c5d6e7";

    #[test]
    fn the_revoke_token_ignores_id_order() {
        let a = revoke_client_token(INVOCATION, "sg-1", &ids(&["sgr-b", "sgr-a", "sgr-c"]));
        let b = revoke_client_token(INVOCATION, "sg-1", &ids(&["sgr-c", "sgr-b", "sgr-a"]));
        assert_eq!(a, b);
    }

    #[test]
    fn the_revoke_token_differs_for_different_ids_or_groups() {
        let t = |sg, names: &[&str]| revoke_client_token(INVOCATION, sg, &ids(names));
        let a = t("sg-1", &["sgr-a", "sgr-b"]);
        assert_ne!(a, t("sg-1", &["sgr-a", "sgr-c"]));
        assert_ne!(a, t("sg-1", &["sgr-a"]));
        assert_ne!(a, t("sg-2", &["sgr-a", "sgr-b"]));
    }

    #[test]
    fn the_revoke_token_is_unique_per_invocation_and_stable_within_one() {
        let rules = ids(&["sgr-a", "sgr-b"]);
        let first = revoke_client_token("1-first", "sg-1", &rules);
        assert_eq!(first, revoke_client_token("1-first", "sg-1", &rules));
        assert_ne!(first, revoke_client_token("1-second", "sg-1", &rules));
    }

    #[test]
    fn the_revoke_token_is_rm_plus_32_hex_of_the_sha256_of_the_documented_material() {
        let token = revoke_client_token("1-req", "sg-1", &ids(&["sgr-b", "sgr-a"]));
        let digest = Sha256::digest(b"1-req\nsg-1,sgr-a,sgr-b");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(token, format!("rm-{}", &hex[..32]));
        assert!(token.len() <= 64);
    }

    #[test]
    fn revoke_ids_are_sorted_deduplicated_and_chunked_by_100() {
        let many: Vec<RuleId> = (0..250)
            .rev()
            .map(|i| RuleId(format!("sgr-{i:04}").into()))
            .collect();
        let mut with_dupes = many.clone();
        with_dupes.extend(many.iter().take(10).cloned());
        let chunks = revoke_chunks(&with_dupes);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(chunks[0][0].as_str(), "sgr-0000");
        assert_eq!(chunks[2][49].as_str(), "sgr-0249");
    }

    #[test]
    fn no_ids_means_no_requests() {
        assert!(revoke_chunks(&[]).is_empty());
    }

    #[test]
    fn revoke_params_number_ids_from_one() {
        let p = revoke_params(INVOCATION, "cn-hangzhou", "sg-1", &ids(&["sgr-a", "sgr-b"]));
        assert_eq!(p["SecurityGroupRuleId.1"], "sgr-a");
        assert_eq!(p["SecurityGroupRuleId.2"], "sgr-b");
        assert_eq!(p["RegionId"], "cn-hangzhou");
        assert!(p["ClientToken"].starts_with("rm-"));
        assert!(!p.contains_key("SecurityGroupRuleId.0"));
    }

    /// The `Permissions.*` parameters of signing vector V3 (openapi-signing.md §2).
    fn v3_permission_params() -> Params {
        let vectors: Vec<Value> = serde_json::from_str(include_str!(
            "../../crates/acs-openapi/tests/fixtures/signing-vectors.json"
        ))
        .unwrap();
        let v3 = vectors.iter().find(|v| v["name"] == "V3").unwrap();
        v3["params"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("Permissions."))
            .map(|(k, v)| (k.clone().into(), v.as_str().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn permissions_flatten_exactly_like_vector_v3() {
        // The rules as DescribeSecurityGroupAttribute reports them (capitalised policy,
        // numeric priority): the flattening must normalise both.
        let rules = [
            rule(
                json!({"SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "Accept",
                "Priority": 1, "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8",
                "Ipv6SourceCidrIp": "", "NicType": "intranet", "Description": "恢复 rule*~ a+b=c&d/é",
                "CreateTime": "2024-04-30T09:12:44Z"}),
            ),
            rule(
                json!({"SecurityGroupRuleId": "sgr-2", "Direction": "ingress", "Policy": "Drop",
                "Priority": "100", "IpProtocol": "ALL", "PortRange": "-1/-1",
                "Ipv6SourceCidrIp": "2001:db8::/32", "SourceCidrIp": ""}),
            ),
        ];
        let mut params = Params::new();
        for (i, r) in rules.iter().enumerate() {
            params.extend(permission_params(i + 1, r).unwrap());
        }
        assert_eq!(params, v3_permission_params());
    }

    #[test]
    fn a_rule_without_exactly_one_source_is_refused() {
        let none = rule(json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22"}));
        assert!(permission_params(1, &none).is_err());
        let two = rule(
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
            "SourceCidrIp": "0.0.0.0/0", "SourceGroupId": "sg-2"}),
        );
        assert!(permission_params(1, &two).is_err());
    }

    #[test]
    fn an_egress_rule_is_refused() {
        let egress = rule(
            json!({"Direction": "egress", "IpProtocol": "TCP", "PortRange": "22/22",
            "SourceCidrIp": "0.0.0.0/0"}),
        );
        assert!(permission_params(1, &egress).is_err());
    }

    #[test]
    fn the_authorize_token_ignores_rule_order_and_ecs_assigned_attributes() {
        let a = rule(
            json!({"SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "IpProtocol": "TCP",
            "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "CreateTime": "t1"}),
        );
        let a_again = rule(
            json!({"SecurityGroupRuleId": "sgr-9", "Direction": "ingress", "IpProtocol": "tcp",
            "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Policy": "accept", "Priority": 1}),
        );
        let b = rule(
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "3389/3389",
            "SourceCidrIp": "0.0.0.0/0"}),
        );
        let t1 = authorize_client_token(INVOCATION, "sg-1", &[a.clone(), b.clone()]).unwrap();
        let t2 = authorize_client_token(INVOCATION, "sg-1", &[b.clone(), a_again]).unwrap();
        assert_eq!(t1, t2);
        assert!(t1.starts_with("au-") && t1.len() == 35);
        assert_ne!(
            t1,
            authorize_client_token(INVOCATION, "sg-1", std::slice::from_ref(&a)).unwrap()
        );
        assert_ne!(
            t1,
            authorize_client_token(INVOCATION, "sg-2", &[a.clone(), b.clone()]).unwrap()
        );
        // A second restore of the same backup is a different request.
        assert_ne!(
            t1,
            authorize_client_token("1-later", "sg-1", &[a, b]).unwrap()
        );
    }

    #[test]
    fn a_numeric_source_group_owner_is_sent_as_the_owner_id() {
        assert_eq!(
            source_group_owner(Some("1234567890123456")),
            ("SourceGroupOwnerId", Some("1234567890123456".to_string()))
        );
        assert_eq!(
            source_group_owner(Some("ops@example.com")),
            (
                "SourceGroupOwnerAccount",
                Some("ops@example.com".to_string())
            )
        );
        assert_eq!(
            source_group_owner(Some("")),
            ("SourceGroupOwnerAccount", None)
        );
        assert_eq!(source_group_owner(None), ("SourceGroupOwnerAccount", None));
        let rule = rule(
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
            "SourceGroupId": "sg-peer", "SourceGroupOwnerAccount": 1234567890123456u64}),
        );
        let p = permission_params(1, &rule).unwrap();
        assert_eq!(p["Permissions.1.SourceGroupOwnerId"], "1234567890123456");
        assert!(!p.contains_key("Permissions.1.SourceGroupOwnerAccount"));
    }

    #[test]
    fn a_group_without_a_vpc_id_is_classic() {
        assert!(is_classic(None));
        assert!(is_classic(Some("")));
        assert!(is_classic(Some("  ")));
        assert!(!is_classic(Some("vpc-bp1opxu1zkhn00gzv3b7b")));
    }

    #[test]
    fn a_page_reports_its_vpc_id() {
        let vpc = json!({"VpcId": "vpc-1", "Permissions": {"Permission": []}});
        assert_eq!(
            parse_json_page(&vpc, "sg-1").unwrap().vpc_id.as_deref(),
            Some("vpc-1")
        );
        let classic = json!({"VpcId": "", "Permissions": {"Permission": []}});
        assert!(is_classic(
            parse_json_page(&classic, "sg-1").unwrap().vpc_id.as_deref()
        ));
        let none = json!({"Permissions": {"Permission": []}});
        assert!(is_classic(
            parse_json_page(&none, "sg-1").unwrap().vpc_id.as_deref()
        ));
    }

    #[test]
    fn a_page_parses_rules_and_its_next_token() {
        let body = json!({"RequestId": "R", "SecurityGroupId": "sg-1", "NextToken": "t2",
        "Permissions": {"Permission": [
            {"SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "Accept", "Priority": "1",
             "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "DestGroupOwnerAccount": 123},
            {"SecurityGroupRuleId": "sgr-2", "Direction": "ingress", "Policy": "accept", "Priority": 100,
             "IpProtocol": "ALL", "PortRange": "-1/-1", "Ipv6SourceCidrIp": "::/0"}
        ]}});
        let page = parse_json_page(&body, "sg-1").unwrap();
        assert_eq!(page.permissions.len(), 2);
        assert_eq!(page.next_token.as_deref(), Some("t2"));
        assert!(page.permissions.iter().all(Permission::is_world_open));
    }

    #[test]
    fn an_error_answer_is_judged_by_its_envelope_in_the_same_pass_as_the_page() {
        use acs_openapi::response::read_response;
        let read = |body: &str| {
            read_response::<PageAnswer>(200, body.as_bytes(), None, &Default::default())
                .unwrap_err()
        };
        let err = read(
            r#"{"RequestId":"R","Code":"Throttling.User","Message":"m","Permissions":{"Permission":[]}}"#,
        );
        assert_eq!(err.code(), Some("Throttling.User"));
        assert_eq!(err.request_id(), Some("R"));
        let err = read(r#"{"code":"Forbidden.RAM"}"#);
        assert_eq!(err.code(), Some("Forbidden.RAM"), "camelCase envelope");
    }

    #[test]
    fn an_empty_next_token_ends_pagination() {
        let body = json!({"NextToken": "", "Permissions": {"Permission": []}});
        assert_eq!(parse_json_page(&body, "sg-1").unwrap().next_token, None);
    }

    #[test]
    fn a_rule_that_fails_to_parse_fails_the_page_naming_the_rule() {
        let body = json!({"Permissions": {"Permission": [
            {"SecurityGroupRuleId": "sgr-bad", "Priority": "high", "IpProtocol": "TCP"}]}});
        let err = parse_json_page(&body, "sg-1").unwrap_err();
        assert!(err.to_string().contains("sgr-bad"), "{err}");
    }

    #[test]
    fn a_page_without_permissions_is_an_error_not_an_empty_group() {
        assert!(parse_json_page(&json!({"RequestId": "R"}), "sg-1").is_err());
        assert!(parse_json_page(&json!({"Permissions": {"Permission": "x"}}), "sg-1").is_err());
    }

    #[test]
    fn a_page_for_another_group_is_refused() {
        let body = json!({"SecurityGroupId": "sg-2", "Permissions": {"Permission": []}});
        assert!(parse_json_page(&body, "sg-1").is_err());
    }
}
