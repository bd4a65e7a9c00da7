//! Where the command line finds its access key: the way Alibaba Cloud's own tools do.
//!
//! Order (first source that is set wins; a source set but unusable is an error, never skipped):
//! 1. Environment `ALIBABA_CLOUD_ACCESS_KEY_ID` + `ALIBABA_CLOUD_ACCESS_KEY_SECRET`
//!    (+ `ALIBABA_CLOUD_SECURITY_TOKEN`): the names of `aliyun/credentials-go`
//!    (`credentials/env_provider.go`) and of the aliyun CLI (`config/profile.go`,
//!    `OverwriteWithFlags`).
//! 2. Environment `ALICLOUD_ACCESS_KEY` + `ALICLOUD_SECRET_KEY` (+ `ALICLOUD_SECURITY_TOKEN`):
//!    the names the Terraform provider reads (`aliyun/terraform-provider-alicloud`,
//!    `alicloud/provider.go`: `access_key`, `secret_key`, `security_token` defaults).
//! 3. The aliyun CLI's profile file `~/.aliyun/config.json`, read as `aliyun/credentials-go`
//!    reads it (`credentials/providers/cli_profile.go`): `{"current": NAME, "profiles": [{"name",
//!    "mode", "access_key_id", "access_key_secret", "sts_token", "ram_role_arn",
//!    "ram_session_name", "expired_seconds", "sts_region", …}]}` (field names also in
//!    `aliyun/aliyun-cli` `config/profile.go`). The profile is `--profile`, else
//!    `ALIBABA_CLOUD_PROFILE`, else the file's `current`; `ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true`
//!    switches the source off (both as in `cli_profile.go`). Modes, compared case-insensitively as
//!    the CLI's `NormalizeMode` does: `AK`, `StsToken` (the key plus `sts_token`) and
//!    `RamRoleArn` (the key assumes `ram_role_arn` with STS `AssumeRole` first, for
//!    `expired_seconds`, default 3600).
//!
//! An explicit `--profile` names the profile file as the source, so the environment is not read
//! for keys then: asking for a profile and silently getting another identity would be a surprise.
//!
//! What is reported is [`Resolved::source`], a description without any secret.

use std::path::{Path, PathBuf};

use acs_openapi::credentials::Credentials;
use acs_openapi::Endpoint;

/// The profile file, relative to the home directory (`cli_profile.go`).
pub const PROFILE_FILE: &str = ".aliyun/config.json";

/// AssumeRole session length when the profile has no `expired_seconds`.
pub const DEFAULT_ROLE_SECONDS: u32 = 3600;

/// `RoleSessionName` when the profile has no `ram_session_name`.
pub const DEFAULT_SESSION_NAME: &str = "sg-remediator-cli";

/// Why no access key could be found. `Display` is one line naming what was tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChainError(pub String);

/// A role the key must assume before use (profile mode `RamRoleArn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleToAssume {
    /// The role to assume (`acs:ram::<account>:role/<name>`).
    pub role_arn: String,
    /// The `RoleSessionName` ActionTrail records the calls under.
    pub session_name: String,
    /// How long the assumed credentials last.
    pub duration_seconds: u32,
    /// `https://sts.<sts_region>.aliyuncs.com` when the profile names an STS region.
    pub sts_endpoint: Option<Endpoint>,
}

/// The key found, where it was found, and the role it must assume first (if any).
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The key to sign with (or to assume the role with).
    pub credentials: Credentials,
    /// E.g. `environment ALIBABA_CLOUD_ACCESS_KEY_ID` or
    /// `profile "ops" (RamRoleArn) in /home/me/.aliyun/config.json`. Never a secret.
    pub source: String,
    /// Set when the profile is a `RamRoleArn` one: the key alone is not what the calls should run
    /// as.
    pub assume: Option<RoleToAssume>,
    /// Why the source may not be what its owner wrote (a profile file others can write, or a
    /// symbolic link), for the command line to print on stderr. Never a secret.
    pub warnings: Vec<String>,
}

/// Looks for credentials. `lookup` reads the environment; `home` is the home directory
/// (`$HOME`); `profile` is the `--profile` flag.
pub fn resolve(
    lookup: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
    profile: Option<&str>,
) -> Result<Resolved, ChainError> {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    if profile.is_none() {
        for (id_var, secret_var, token_var) in [
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                "ALIBABA_CLOUD_SECURITY_TOKEN",
            ),
            (
                "ALICLOUD_ACCESS_KEY",
                "ALICLOUD_SECRET_KEY",
                "ALICLOUD_SECURITY_TOKEN",
            ),
        ] {
            match (get(id_var), get(secret_var)) {
                (None, None) => continue,
                (Some(_), None) => {
                    return Err(ChainError(format!(
                        "{id_var} is set but {secret_var} is not: set both, or neither"
                    )))
                }
                (None, Some(_)) => {
                    return Err(ChainError(format!(
                        "{secret_var} is set but {id_var} is not: set both, or neither"
                    )))
                }
                (Some(id), Some(secret)) => {
                    let token = get(token_var);
                    let source = if token.is_some() {
                        format!("environment {id_var} (with {token_var})")
                    } else {
                        format!("environment {id_var}")
                    };
                    return Ok(Resolved {
                        credentials: Credentials::new(id, secret, token),
                        source,
                        assume: None,
                        warnings: Vec::new(),
                    });
                }
            }
        }
    }
    let tried_env = "ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET and ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY are not set";
    if profile.is_none() && get("ALIBABA_CLOUD_CLI_PROFILE_DISABLED").as_deref() == Some("true") {
        return Err(ChainError(format!(
            "no credentials: {tried_env}, and ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true switches off ~/{PROFILE_FILE}"
        )));
    }
    let Some(home) = home else {
        return Err(ChainError(format!(
            "no credentials: {tried_env}, and there is no home directory (HOME) to find {PROFILE_FILE} in"
        )));
    };
    let path = home.join(PROFILE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && profile.is_none() => {
            return Err(ChainError(format!(
                "no credentials: {tried_env}, and {} does not exist (run `aliyun configure`, or export the variables)",
                path.display()
            )))
        }
        Err(e) => {
            return Err(ChainError(format!(
                "cannot read the aliyun CLI profile file {}: {e}",
                path.display()
            )))
        }
    };
    let wanted = profile
        .map(str::to_string)
        .or_else(|| get("ALIBABA_CLOUD_PROFILE"));
    let mut resolved = from_profile_file(&text, &path, wanted.as_deref())?;
    resolved.warnings = profile_file_warnings(&path);
    Ok(resolved)
}

/// What is wrong with where the profile file lives: a symbolic link (its content is whatever the
/// link points at), or a file (or link target) others than its owner can write (anyone on the
/// machine could swap the key or the role). The file is still used, as the aliyun CLI would.
pub fn profile_file_warnings(path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    let shown = path.display();
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::read_link(path)
            .map(|t| format!(" to {}", t.display()))
            .unwrap_or_default();
        warnings.push(format!(
            "{shown} is a symbolic link{target}: the credentials come from wherever it points"
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o022 != 0 {
                warnings.push(format!(
                    "{shown} can be written by others than its owner (mode {mode:03o}): anyone \
                     who can write it chooses the credentials used; chmod 600 it"
                ));
            }
        }
    }
    warnings
}

/// One profile of the file, its fields read one by one (absent or `null` means empty).
struct Profile {
    mode: String,
    access_key_id: String,
    access_key_secret: String,
    sts_token: String,
    ram_role_arn: String,
    ram_session_name: String,
    expired_seconds: u32,
    sts_region: String,
    external_id: String,
}

/// Reads the fields of one JSON object, each error naming the field and `whose` it is, never
/// the value: the file holds secrets, and a secret pasted into the wrong field must not be
/// printed (serde's own type errors quote the value).
struct Fields<'a> {
    object: &'a serde_json::Map<String, serde_json::Value>,
    whose: String,
}

impl Fields<'_> {
    fn text(&self, field: &str) -> Result<String, ChainError> {
        match self.object.get(field) {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(ChainError(format!(
                "{}: field {field} is not a string",
                self.whose
            ))),
        }
    }

    fn seconds(&self, field: &str) -> Result<u32, ChainError> {
        match self.object.get(field) {
            None | Some(serde_json::Value::Null) => Ok(0),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    ChainError(format!(
                        "{}: field {field} is not a whole number of seconds",
                        self.whose
                    ))
                }),
        }
    }
}

/// Reads the profile `wanted` (else the file's `current`) from the text of a profile file.
/// Errors name the file, the profile and the field, never a field's value.
pub fn from_profile_file(
    text: &str,
    path: &Path,
    wanted: Option<&str>,
) -> Result<Resolved, ChainError> {
    use serde_json::Value;
    let at = path.display();
    // Only the position of a syntax error: never a piece of the file.
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        ChainError(format!(
            "{at} is not an aliyun CLI profile file: invalid JSON at line {}, column {}",
            e.line(),
            e.column()
        ))
    })?;
    let Some(top) = doc.as_object() else {
        return Err(ChainError(format!(
            "{at} is not an aliyun CLI profile file: not a JSON object"
        )));
    };
    let file = Fields {
        object: top,
        whose: at.to_string(),
    };
    let current = file.text("current")?;
    let profiles: Vec<&serde_json::Map<String, Value>> = match top.get("profiles") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.as_object()
                    .ok_or_else(|| ChainError(format!("{at}: profiles[{i}] is not a JSON object")))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ChainError(format!("{at}: field profiles is not a list"))),
    };
    let names: Vec<String> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Fields {
                object: p,
                whose: format!("{at}: profiles[{i}]"),
            }
            .text("name")
        })
        .collect::<Result<_, _>>()?;
    let name = wanted.unwrap_or(&current);
    if name.is_empty() {
        return Err(ChainError(format!(
            "{at} names no current profile: pass --profile NAME"
        )));
    }
    let object = names
        .iter()
        .position(|n| n == name)
        .map(|i| profiles[i])
        .ok_or_else(|| {
            ChainError(format!(
                "{at} has no profile {name:?} (it has: {})",
                names.join(", ")
            ))
        })?;
    let fields = Fields {
        object,
        whose: format!("profile {name:?} in {at}"),
    };
    let p = Profile {
        mode: fields.text("mode")?,
        access_key_id: fields.text("access_key_id")?,
        access_key_secret: fields.text("access_key_secret")?,
        sts_token: fields.text("sts_token")?,
        ram_role_arn: fields.text("ram_role_arn")?,
        ram_session_name: fields.text("ram_session_name")?,
        expired_seconds: fields.seconds("expired_seconds")?,
        sts_region: fields.text("sts_region")?,
        external_id: fields.text("external_id")?,
    };
    let mode = p.mode.to_ascii_lowercase();
    let key = |what: &str| -> Result<(), ChainError> {
        if p.access_key_id.is_empty() || p.access_key_secret.is_empty() {
            return Err(ChainError(format!(
                "profile {name:?} in {at} is {what} but lacks access_key_id or access_key_secret"
            )));
        }
        Ok(())
    };
    let source = |mode: &str| format!("profile {name:?} ({mode}) in {at}");
    match mode.as_str() {
        "ak" => {
            key("mode AK")?;
            Ok(Resolved {
                credentials: Credentials::new(&p.access_key_id, &p.access_key_secret, None),
                source: source("AK"),
                assume: None,
                warnings: Vec::new(),
            })
        }
        "ststoken" => {
            key("mode StsToken")?;
            if p.sts_token.is_empty() {
                return Err(ChainError(format!(
                    "profile {name:?} in {at} is mode StsToken but has no sts_token"
                )));
            }
            Ok(Resolved {
                credentials: Credentials::new(
                    &p.access_key_id,
                    &p.access_key_secret,
                    Some(p.sts_token.clone()),
                ),
                source: source("StsToken"),
                assume: None,
                warnings: Vec::new(),
            })
        }
        "ramrolearn" => {
            key("mode RamRoleArn")?;
            if p.ram_role_arn.is_empty() {
                return Err(ChainError(format!(
                    "profile {name:?} in {at} is mode RamRoleArn but has no ram_role_arn"
                )));
            }
            if !p.external_id.is_empty() {
                return Err(ChainError(format!(
                    "profile {name:?} in {at} sets external_id, which sg-remediator does not send yet: \
                     use a profile without it, or export STS credentials"
                )));
            }
            let sts_endpoint = (!p.sts_region.is_empty())
                .then(|| Endpoint::parse(&format!("https://sts.{}.aliyuncs.com", p.sts_region)))
                .transpose()
                .map_err(|_| {
                    ChainError(format!(
                        "profile {name:?} in {at}: field sts_region is not a region id"
                    ))
                })?;
            Ok(Resolved {
                credentials: Credentials::new(&p.access_key_id, &p.access_key_secret, None),
                source: format!(
                    "profile {name:?} (RamRoleArn {}, assumed with STS AssumeRole) in {at}",
                    p.ram_role_arn
                ),
                assume: Some(RoleToAssume {
                    role_arn: p.ram_role_arn.clone(),
                    session_name: if p.ram_session_name.is_empty() {
                        DEFAULT_SESSION_NAME.to_string()
                    } else {
                        p.ram_session_name.clone()
                    },
                    duration_seconds: if p.expired_seconds == 0 {
                        DEFAULT_ROLE_SECONDS
                    } else {
                        p.expired_seconds
                    },
                    sts_endpoint,
                }),
                warnings: Vec::new(),
            })
        }
        _ => Err(ChainError(format!(
            "profile {name:?} in {at}: field mode names a mode sg-remediator does not support \
             (it supports AK, StsToken and RamRoleArn)"
        ))),
    }
}

/// `$HOME` (or `%USERPROFILE%` on Windows), as the aliyun CLI finds it (`config/path.go`).
pub fn home_dir(lookup: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    lookup(var).filter(|h| !h.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const FILE: &str = r#"{"current": "dev", "profiles": [
        {"name": "dev", "mode": "AK", "access_key_id": "AKdev", "access_key_secret": "s3cret-dev"},
        {"name": "sts", "mode": "StsToken", "access_key_id": "STS.x", "access_key_secret": "s3cret-sts", "sts_token": "tok"},
        {"name": "ops", "mode": "RamRoleArn", "access_key_id": "AKops", "access_key_secret": "s3cret-ops",
         "ram_role_arn": "acs:ram::1:role/audit", "ram_session_name": "me", "expired_seconds": 900, "sts_region": "cn-shanghai"},
        {"name": "sso", "mode": "CloudSSO"}
    ]}"#;

    fn path() -> PathBuf {
        PathBuf::from("/home/me/.aliyun/config.json")
    }

    #[test]
    fn the_alibaba_cloud_variables_come_first() {
        let r = resolve(
            &env(&[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "AK1"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-1"),
                ("ALICLOUD_ACCESS_KEY", "AK2"),
                ("ALICLOUD_SECRET_KEY", "secret-2"),
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(r.credentials.access_key_id, "AK1");
        assert_eq!(r.source, "environment ALIBABA_CLOUD_ACCESS_KEY_ID");
    }

    #[test]
    fn the_terraform_variables_are_second_and_carry_a_token() {
        let r = resolve(
            &env(&[
                ("ALICLOUD_ACCESS_KEY", "STS.2"),
                ("ALICLOUD_SECRET_KEY", "secret-2"),
                ("ALICLOUD_SECURITY_TOKEN", "token-2"),
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(r.credentials.security_token.unwrap().expose(), "token-2");
        assert_eq!(
            r.source,
            "environment ALICLOUD_ACCESS_KEY (with ALICLOUD_SECURITY_TOKEN)"
        );
    }

    #[test]
    fn half_a_key_in_the_environment_is_an_error_not_a_fallthrough() {
        let e = resolve(&env(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "AK1")]), None, None).unwrap_err();
        assert!(
            e.0.contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET is not"),
            "{e}"
        );
    }

    #[test]
    fn nothing_anywhere_names_every_source_tried_in_one_line() {
        let e = resolve(&env(&[]), Some(Path::new("/nonexistent-home")), None).unwrap_err();
        assert!(e.0.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"));
        assert!(e.0.contains("ALICLOUD_ACCESS_KEY"));
        assert!(e
            .0
            .contains("/nonexistent-home/.aliyun/config.json does not exist"));
        assert!(!e.0.contains('\n'));
    }

    #[test]
    fn the_current_profile_is_the_default() {
        let r = from_profile_file(FILE, &path(), None).unwrap();
        assert_eq!(r.credentials.access_key_id, "AKdev");
        assert_eq!(
            r.source,
            "profile \"dev\" (AK) in /home/me/.aliyun/config.json"
        );
    }

    #[test]
    fn a_sts_token_profile_carries_its_token() {
        let r = from_profile_file(FILE, &path(), Some("sts")).unwrap();
        assert_eq!(r.credentials.security_token.unwrap().expose(), "tok");
        assert!(r.assume.is_none());
    }

    #[test]
    fn a_ram_role_arn_profile_must_assume_its_role_first() {
        let r = from_profile_file(FILE, &path(), Some("ops")).unwrap();
        assert_eq!(
            r.assume,
            Some(RoleToAssume {
                role_arn: "acs:ram::1:role/audit".into(),
                session_name: "me".into(),
                duration_seconds: 900,
                sts_endpoint: Some(
                    Endpoint::parse("https://sts.cn-shanghai.aliyuncs.com").unwrap()
                ),
            })
        );
    }

    #[test]
    fn an_unsupported_mode_or_a_missing_profile_is_named() {
        let e = from_profile_file(FILE, &path(), Some("sso")).unwrap_err();
        assert!(e.0.contains("field mode names a mode"), "{e}");
        assert!(!e.0.contains("CloudSSO"), "{e}");
        let e = from_profile_file(FILE, &path(), Some("nope")).unwrap_err();
        assert!(
            e.0.contains("no profile \"nope\" (it has: dev, sts, ops, sso)"),
            "{e}"
        );
    }

    #[test]
    fn modes_compare_case_insensitively_like_the_aliyun_cli() {
        let text = r#"{"current": "a", "profiles": [{"name": "a", "mode": "ak", "access_key_id": "i", "access_key_secret": "s"}]}"#;
        assert!(from_profile_file(text, &path(), None).is_ok());
    }

    #[test]
    fn errors_never_quote_the_secret() {
        let text = r#"{"current": "a", "profiles": [{"name": "a", "mode": "StsToken", "access_key_id": "i", "access_key_secret": "hush-hush"}]}"#;
        let e = from_profile_file(text, &path(), None).unwrap_err();
        assert!(!e.0.contains("hush-hush"));
        let broken =
            r#"{"current": "a", "profiles": [{"name": "a", "access_key_secret": "hush-hush" "#;
        let e = from_profile_file(broken, &path(), None).unwrap_err();
        assert!(!e.0.contains("hush-hush"), "{e}");
    }

    /// A scratch directory with a profile file written with `mode`.
    #[cfg(unix)]
    fn scratch_profile(tag: &str, mode: u32) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "sg-remediator-profile-{tag}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(dir.join(".aliyun")).unwrap();
        let file = dir.join(PROFILE_FILE);
        std::fs::write(&file, FILE).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, file)
    }

    #[cfg(unix)]
    #[test]
    fn a_profile_file_only_its_owner_can_write_gives_no_warning() {
        let (dir, _) = scratch_profile("private", 0o600);
        let r = resolve(&env(&[]), Some(&dir), None).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_profile_file_others_can_write_is_used_with_a_warning() {
        let (dir, _) = scratch_profile("shared", 0o666);
        let r = resolve(&env(&[]), Some(&dir), None).unwrap();
        assert_eq!(r.credentials.access_key_id, "AKdev");
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].contains("can be written by others"),
            "{:?}",
            r.warnings
        );
        assert!(r.warnings[0].contains("mode 666"), "{:?}", r.warnings);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_profile_file_is_used_with_a_warning() {
        let (dir, file) = scratch_profile("linked", 0o600);
        let real = dir.join("real-config.json");
        std::fs::rename(&file, &real).unwrap();
        std::os::unix::fs::symlink(&real, &file).unwrap();
        let r = resolve(&env(&[]), Some(&dir), None).unwrap();
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].contains("is a symbolic link to"),
            "{:?}",
            r.warnings
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_secret_in_a_field_of_the_wrong_type_is_named_by_field_never_quoted() {
        for (field, value) in [
            ("expired_seconds", r#""hush-hush-secret""#),
            ("access_key_secret", "123456789012345"),
            ("sts_region", r#""hush hush/secret""#),
            ("mode", r#""hush-hush-secret""#),
        ] {
            let text = format!(
                r#"{{"current": "a", "profiles": [{{"name": "a", "mode": "RamRoleArn",
                    "access_key_id": "i", "access_key_secret": "s", "ram_role_arn": "r",
                    "{field}": {value}}}]}}"#
            );
            let e = from_profile_file(&text, &path(), None).unwrap_err();
            assert!(e.0.contains(&format!("field {field}")), "{e}");
            assert!(
                !e.0.contains("hush") && !e.0.contains("123456789012345"),
                "{e}"
            );
        }
        let e = from_profile_file(r#"{"profiles": "hush-hush"}"#, &path(), None).unwrap_err();
        assert!(
            e.0.contains("field profiles") && !e.0.contains("hush"),
            "{e}"
        );
    }
}
