//! Whether a security group's tags exempt it, and until when: the one decision the function's
//! gate and the command line's `scan` both take.
//!
//! With `EXEMPT_TAG=key=value`, exactly that value exempts, for good. With `EXEMPT_TAG=key`, any
//! value of the key exempts, except a value that asks for an end:
//!
//! - `until=YYYY-MM-DD` exempts through the end of that UTC day (the next day's 00:00:00Z is
//!   the first instant it no longer does);
//! - `until=<RFC 3339 time>` (`2026-12-31T18:00:00Z`, `2026-12-31T18:00:00+08:00`, seconds
//!   required, fraction optional, `Z` or a `±HH:MM` offset required) exempts until that instant,
//!   exclusive.
//!
//! After the end the group is remediated like any other. A value that asks for an end but cannot
//! be read (`until=2026-13-40`, `until=soon`, `until=`) exempts **nothing**: a typo must never
//! exempt a group for good. What counts as asking for an end is deliberately broad: the value,
//! with surrounding whitespace ignored, starts with `until` in any case, then (after optional
//! whitespace) an `=`, a `:`, a digit (after an optional `-`), or nothing at all. Words after `until`
//! (`until further notice`, `until-migration`) are an ordinary value and exempt for good, as
//! they did before expiries existed. The date itself is strict: `YYYY-MM-DD` exactly, or RFC 3339
//! with `T` (or `t`) and `Z` (or `z`) as RFC 3339 allows; whitespace around the `=` is forgiven.
//!
//! Plain functions of the tags and `now`: the caller reads the clock (the function reads the
//! system clock once per group), so every boundary is tested with a chosen instant.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::config::ExemptTag;
use crate::services::config::Tags;

/// One UTC day.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// How much of an unreadable value a reason repeats: tag values are at most 128 characters in
/// ECS, but the value comes from a record this process does not control.
const VALUE_SHOWN_MAX: usize = 128;

/// When an expiring exemption ends, as its tag wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `until=YYYY-MM-DD`: through the end of that UTC day.
    Day {
        /// The day, as written (four-digit year, two-digit month and day).
        date: [u8; 10],
        /// The first instant no longer exempt: the next day's 00:00:00Z.
        ends: SystemTime,
    },
    /// `until=<RFC 3339 time>`: until that instant, exclusive.
    Instant(SystemTime),
}

impl Until {
    /// The first instant the exemption no longer holds.
    pub fn ends(&self) -> SystemTime {
        match self {
            Until::Day { ends, .. } => *ends,
            Until::Instant(t) => *t,
        }
    }

    /// Whether the exemption still holds at `now`.
    pub fn holds_at(&self, now: SystemTime) -> bool {
        now < self.ends()
    }
}

/// A day as its date (`2026-12-31`); an instant in UTC (`2026-12-31T10:00:00Z`, with a fraction
/// only when it has one), whatever offset it was written with.
impl fmt::Display for Until {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Until::Day { date, .. } => f.write_str(std::str::from_utf8(date).unwrap_or("?")),
            Until::Instant(t) => write!(f, "{}", humantime::format_rfc3339(*t)),
        }
    }
}

/// Why a value that asks for an end cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// `until` or `until=` with nothing after it.
    NoDate,
    /// `until` followed by a date without the `=` (`until 2026-12-31`, `until:2026-12-31`).
    NoEquals,
    /// Neither `YYYY-MM-DD` nor an RFC 3339 time with seconds and an offset.
    Malformed,
    /// The right shape, but no such date or time (`2026-13-40`, `25:00:00`, before 1970).
    NoSuchDate,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unreadable::NoDate => "no date after until",
            Unreadable::NoEquals => "the = after until is missing",
            Unreadable::Malformed => {
                "neither a date (YYYY-MM-DD) nor an RFC 3339 time with seconds and an offset \
                 (YYYY-MM-DDTHH:MM:SSZ or …+08:00)"
            }
            Unreadable::NoSuchDate => "no such date or time (or before 1970)",
        })
    }
}

/// What a group's tags say about its exemption at a given instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exemption {
    /// The exempt tag is absent (or, with `key=value`, has another value).
    NotExempt,
    /// Exempt for good: the tag without an end (or the configured value).
    Exempt,
    /// Exempt, until the end written on the tag.
    ExemptUntil(Until),
    /// The tag's end has passed: the group is remediated.
    Expired(Until),
    /// The tag asks for an end that cannot be read: the group is remediated.
    Unreadable {
        /// The tag's value, cut to a bounded length.
        value: String,
        /// Why it cannot be read.
        why: Unreadable,
    },
}

/// What the exempt tag on a group with `tags` says at `now`.
///
/// Several values of the key (a shape Config's record allows, ECS tags do not) are each judged,
/// and the one that exempts longest decides, as "any value of the key exempts" always meant.
pub fn decide(tag: &ExemptTag, tags: &Tags, now: SystemTime) -> Exemption {
    if let Some(value) = &tag.value {
        return if tags.contains(&tag.key, Some(value)) {
            Exemption::Exempt
        } else {
            Exemption::NotExempt
        };
    }
    tags.pairs()
        .iter()
        .filter(|(k, _)| *k == tag.key)
        .map(|(_, v)| judge_value(v, now))
        .reduce(longer)
        .unwrap_or(Exemption::NotExempt)
}

/// Of two verdicts on values of the key, the one that exempts longer (the first on a tie, or
/// when neither exempts).
fn longer(a: Exemption, b: Exemption) -> Exemption {
    let rank = |e: &Exemption| match e {
        Exemption::Exempt => (2, None),
        Exemption::ExemptUntil(u) => (1, Some(u.ends())),
        _ => (0, None),
    };
    if rank(&b) > rank(&a) {
        b
    } else {
        a
    }
}

/// One value of the exempt key (configured without a value) at `now`.
fn judge_value(value: &str, now: SystemTime) -> Exemption {
    match read_value(value) {
        None => Exemption::Exempt,
        Some(Ok(until)) if until.holds_at(now) => Exemption::ExemptUntil(until),
        Some(Ok(until)) => Exemption::Expired(until),
        Some(Err(why)) => {
            let mut value = value.to_string();
            acs_openapi::error::cut_to(&mut value, VALUE_SHOWN_MAX);
            Exemption::Unreadable { value, why }
        }
    }
}

/// The end a tag value asks for: `None` when it asks for none (an ordinary value).
pub fn read_value(value: &str) -> Option<Result<Until, Unreadable>> {
    let value = value.trim();
    let head = value.get(..5)?;
    if !head.eq_ignore_ascii_case("until") {
        return None;
    }
    let rest = value[5..].trim_start();
    if let Some(when) = rest.strip_prefix('=') {
        return Some(read_until(when.trim()));
    }
    if rest.is_empty() {
        return Some(Err(Unreadable::NoDate));
    }
    // `until:…`, `until 2026-…`, `until-2026-…`: an end, written wrong.
    let after_dash = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    if rest.starts_with(':') || after_dash.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(Err(Unreadable::NoEquals));
    }
    // `until further notice`, `until-migration`: words, an ordinary value.
    None
}

/// `YYYY-MM-DD` or an RFC 3339 time.
fn read_until(when: &str) -> Result<Until, Unreadable> {
    if when.is_empty() {
        return Err(Unreadable::NoDate);
    }
    // Only ASCII is ever valid, and byte offsets below are then character offsets.
    if !when.is_ascii() {
        return Err(Unreadable::Malformed);
    }
    if when.len() == 10 {
        let start = utc(&format!("{when}T00:00:00Z"))?;
        let mut date = [0; 10];
        date.copy_from_slice(when.as_bytes());
        let ends = start.checked_add(DAY).ok_or(Unreadable::NoSuchDate)?;
        return Ok(Until::Day { date, ends });
    }
    let b = when.as_bytes();
    let (local, offset_seconds) = if matches!(b.last(), Some(b'Z' | b'z')) {
        (&when[..when.len() - 1], 0)
    } else {
        let split = when.len().checked_sub(6).ok_or(Unreadable::Malformed)?;
        let (local, offset) = when.split_at(split);
        (local, offset_seconds(offset)?)
    };
    // `YYYY-MM-DDTHH:MM:SS`, then nothing or a fraction of at least one digit.
    if local.len() < 19 || !matches!(local.as_bytes()[10], b'T' | b't') {
        return Err(Unreadable::Malformed);
    }
    let fraction = &local[19..];
    if let Some(digits) = fraction.strip_prefix('.') {
        if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
            return Err(Unreadable::Malformed);
        }
    } else if !fraction.is_empty() {
        return Err(Unreadable::Malformed);
    }
    let wall = utc(&format!("{}T{}Z", &local[..10], &local[11..]))?;
    let shift = Duration::from_secs(offset_seconds.unsigned_abs());
    // The wall-clock time at offset +08:00 is eight hours ahead of UTC.
    let instant = if offset_seconds >= 0 {
        wall.checked_sub(shift)
    } else {
        wall.checked_add(shift)
    };
    instant.map(Until::Instant).ok_or(Unreadable::NoSuchDate)
}

/// `+HH:MM` or `-HH:MM` as signed seconds east of UTC.
fn offset_seconds(offset: &str) -> Result<i64, Unreadable> {
    let b = offset.as_bytes();
    let sign = match b.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(Unreadable::Malformed),
    };
    let two = |at: usize| -> Result<i64, Unreadable> {
        match (b.get(at), b.get(at + 1)) {
            (Some(h @ b'0'..=b'9'), Some(l @ b'0'..=b'9')) => {
                Ok(i64::from(h - b'0') * 10 + i64::from(l - b'0'))
            }
            _ => Err(Unreadable::Malformed),
        }
    };
    if b.get(3) != Some(&b':') {
        return Err(Unreadable::Malformed);
    }
    let (hours, minutes) = (two(1)?, two(4)?);
    if hours > 23 || minutes > 59 {
        return Err(Unreadable::NoSuchDate);
    }
    Ok(sign * (hours * 3600 + minutes * 60))
}

/// A UTC time `YYYY-MM-DDTHH:MM:SS[.f…]Z`, read by humantime (calendar and range checks).
fn utc(text: &str) -> Result<SystemTime, Unreadable> {
    humantime::parse_rfc3339(text).map_err(|e| match e {
        humantime::TimestampError::OutOfRange => Unreadable::NoSuchDate,
        _ => Unreadable::Malformed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    fn key(k: &str) -> ExemptTag {
        k.parse().unwrap()
    }

    fn tagged(k: &str, v: &str) -> Tags {
        Tags::from_json(&json!({ k: v })).unwrap()
    }

    fn decide_at(value: &str, now: &str) -> Exemption {
        decide(&key("keep"), &tagged("keep", value), at(now))
    }

    fn unreadable(value: &str, why: Unreadable) -> Exemption {
        Exemption::Unreadable {
            value: value.into(),
            why,
        }
    }

    #[test]
    fn a_group_without_the_key_is_not_exempt() {
        let tags = tagged("other", "until=2099-01-01");
        assert_eq!(
            decide(&key("keep"), &tags, at("2026-01-01T00:00:00Z")),
            Exemption::NotExempt
        );
    }

    #[test]
    fn any_ordinary_value_exempts_for_good() {
        for value in [
            "",
            "yes",
            "true",
            "until further notice",
            "until-migration",
            "2026-12-31",
        ] {
            assert_eq!(
                decide_at(value, "2090-01-01T00:00:00Z"),
                Exemption::Exempt,
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_date_exempts_through_the_end_of_that_utc_day() {
        let until = read_value("until=2026-12-31").unwrap().unwrap();
        assert_eq!(until.ends(), at("2027-01-01T00:00:00Z"));
        assert_eq!(
            decide_at("until=2026-12-31", "2026-12-31T23:59:59.999999999Z"),
            Exemption::ExemptUntil(until)
        );
        assert_eq!(
            decide_at("until=2026-12-31", "2027-01-01T00:00:00Z"),
            Exemption::Expired(until)
        );
        assert_eq!(until.to_string(), "2026-12-31");
    }

    #[test]
    fn a_time_exempts_until_that_instant_exclusive() {
        let until = read_value("until=2026-12-31T10:00:00Z").unwrap().unwrap();
        assert_eq!(
            decide_at("until=2026-12-31T10:00:00Z", "2026-12-31T09:59:59Z"),
            Exemption::ExemptUntil(until)
        );
        assert_eq!(
            decide_at("until=2026-12-31T10:00:00Z", "2026-12-31T10:00:00Z"),
            Exemption::Expired(until)
        );
    }

    #[test]
    fn an_offset_is_honoured_and_the_instant_is_shown_in_utc() {
        let east = read_value("until=2026-12-31T10:00:00+08:00")
            .unwrap()
            .unwrap();
        assert_eq!(east, Until::Instant(at("2026-12-31T02:00:00Z")));
        assert_eq!(east.to_string(), "2026-12-31T02:00:00Z");
        let west = read_value("until=2026-12-31T22:30:00-05:30")
            .unwrap()
            .unwrap();
        assert_eq!(west, Until::Instant(at("2027-01-01T04:00:00Z")));
    }

    #[test]
    fn a_fraction_and_lower_case_t_and_z_are_rfc_3339() {
        assert_eq!(
            read_value("until=2026-12-31t10:00:00.250z"),
            Some(Ok(Until::Instant(at("2026-12-31T10:00:00.25Z"))))
        );
        assert_eq!(
            Until::Instant(at("2026-12-31T10:00:00.25Z")).to_string(),
            "2026-12-31T10:00:00.250000000Z"
        );
    }

    #[test]
    fn case_of_until_and_whitespace_around_it_are_forgiven() {
        let day = read_value("until=2026-12-31").unwrap().unwrap();
        for value in [
            "UNTIL=2026-12-31",
            "Until = 2026-12-31",
            "  until=2026-12-31 ",
        ] {
            assert_eq!(read_value(value), Some(Ok(day)), "{value:?}");
        }
    }

    #[test]
    fn an_unreadable_end_exempts_nothing_and_says_why() {
        let now = "2026-01-01T00:00:00Z";
        for (value, why) in [
            ("until=2026-13-40", Unreadable::NoSuchDate),
            ("until=2026-02-29", Unreadable::NoSuchDate),
            ("until=2026-12-31T25:00:00Z", Unreadable::NoSuchDate),
            ("until=2026-12-31T10:00:00+24:00", Unreadable::NoSuchDate),
            ("until=1969-12-31", Unreadable::NoSuchDate),
            ("until=soon", Unreadable::Malformed),
            ("until=31/12/2026", Unreadable::Malformed),
            ("until=2026-1-31", Unreadable::Malformed),
            ("until=2026-12-31T10:00Z", Unreadable::Malformed),
            ("until=2026-12-31T10:00:00", Unreadable::Malformed),
            ("until=2026-12-31 10:00:00Z", Unreadable::Malformed),
            ("until=2026-12-31T10:00:00.Z", Unreadable::Malformed),
            ("until=2026-12-31T10:00:00+0800", Unreadable::Malformed),
            ("until=２０２６-12-31", Unreadable::Malformed),
            ("until=", Unreadable::NoDate),
            ("until", Unreadable::NoDate),
            ("until 2026-12-31", Unreadable::NoEquals),
            ("until:2026-12-31", Unreadable::NoEquals),
            ("until-2026-12-31", Unreadable::NoEquals),
        ] {
            assert_eq!(decide_at(value, now), unreadable(value, why), "{value:?}");
        }
    }

    #[test]
    fn a_long_unreadable_value_is_cut_in_the_verdict() {
        let value = format!("until={}", "9".repeat(400));
        let Exemption::Unreadable { value: shown, .. } = decide_at(&value, "2026-01-01T00:00:00Z")
        else {
            panic!("unreadable")
        };
        assert!(shown.len() < 200, "{shown}");
    }

    #[test]
    fn a_configured_value_must_match_exactly_and_never_expires() {
        let tag = key("keep=until=2020-01-01");
        let now = at("2026-01-01T00:00:00Z");
        assert_eq!(
            decide(&tag, &tagged("keep", "until=2020-01-01"), now),
            Exemption::Exempt
        );
        assert_eq!(
            decide(&tag, &tagged("keep", "until=2030-01-01"), now),
            Exemption::NotExempt
        );
    }

    #[test]
    fn of_several_values_the_longest_exemption_decides() {
        let tags =
            Tags::from_json(&json!({"keep": ["until=2020-01-01", "until=2030-01-01"]})).unwrap();
        let now = at("2026-01-01T00:00:00Z");
        assert_eq!(
            decide(&key("keep"), &tags, now),
            Exemption::ExemptUntil(read_value("until=2030-01-01").unwrap().unwrap())
        );
        let tags = Tags::from_json(&json!({"keep": ["until=soon", "yes"]})).unwrap();
        assert_eq!(decide(&key("keep"), &tags, now), Exemption::Exempt);
    }

    #[test]
    fn a_far_date_does_not_overflow() {
        assert!(matches!(
            read_value("until=9999-12-31"),
            Some(Ok(Until::Day { .. }))
        ));
    }
}
