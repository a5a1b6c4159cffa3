//! Field validation that reports every bad field at once (422 with `fields`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use switchyard_shared::domain::Channel;
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Default)]
pub struct Fields {
    errors: BTreeMap<String, String>,
}

impl Fields {
    /// Keep the value, or remember why `field` is invalid.
    pub fn check<T, E: ToString>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.errors.insert(field.to_owned(), e.to_string());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// Optional query or body text that must be one of `allowed`.
pub fn one_of(
    fields: &mut Fields,
    name: &str,
    raw: Option<&str>,
    allowed: &[&str],
) -> Option<String> {
    let raw = raw?;
    if allowed.contains(&raw) {
        Some(raw.to_owned())
    } else {
        fields.check::<(), _>(name, Err(format!("must be one of {}", allowed.join(", "))));
        None
    }
}

/// An optional RFC 3339 time.
pub fn time(fields: &mut Fields, name: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|raw| {
        fields.check(
            name,
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| "must be an RFC 3339 time, e.g. 2026-01-01T00:00:00Z"),
        )
    })
}

/// An optional id.
pub fn id(fields: &mut Fields, name: &str, raw: Option<&str>) -> Option<Uuid> {
    raw.and_then(|raw| fields.check(name, raw.parse::<Uuid>().map_err(|_| "must be an id")))
}

/// An optional `channel`.
pub fn channel(fields: &mut Fields, raw: Option<&str>) -> Option<Channel> {
    raw.and_then(|raw| {
        fields.check(
            "channel",
            Channel::parse(raw).map_err(|_| "must be whatsapp, sms, voice or email"),
        )
    })
}

/// A plausible email address, trimmed: one `@`, a dotted domain, no spaces, at most 254.
pub fn email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email.to_owned())
    } else {
        Err("must be an email address")
    }
}

/// 12–128 characters.
pub fn password(raw: &str) -> Result<(), &'static str> {
    if (12..=128).contains(&raw.chars().count()) {
        Ok(())
    } else {
        Err("must be 12-128 characters")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ana@Example.com ").unwrap(), "Ana@Example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "a@b@c.com",
            "ana@.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
