//! Tenant identity: the UUID every tenant-owned row carries, and the human-readable slug.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ParseError;

/// The id of a tenant. Row-level security keys on it (`app.tenant_id`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = uuid::Uuid)]
pub struct TenantId(Uuid);

impl TenantId {
    /// A fresh, time-ordered id for a tenant being created.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TenantId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|e| ParseError::new("tenant id", e.to_string()))
    }
}

/// A tenant's unique, URL-safe short name: lowercase ASCII letters, digits and `-`,
/// 1–63 characters, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok_len = (1..=63).contains(&s.len());
        let ok_first = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok_len && ok_first && ok_chars {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "slug",
                "use 1-63 lowercase letters, digits or '-', starting with a letter or digit",
            ))
        }
    }

    /// Derive a slug from a display name: lowercase, runs of other characters become `-`.
    pub fn from_name(name: &str) -> Result<Self, ParseError> {
        let mut slug = String::with_capacity(name.len());
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug: String = slug.trim_end_matches('-').chars().take(63).collect();
        Self::parse(slug.trim_end_matches('-'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TenantSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a tenant's events are processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            other => Err(ParseError::new(
                "tenant status",
                format!("unknown '{other}'"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_accepts_and_rejects() {
        assert!(TenantSlug::parse("acme-2").is_ok());
        for bad in ["", "-acme", "Acme", "a b", "á", &"a".repeat(64)] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn slug_from_name() {
        assert_eq!(
            TenantSlug::from_name("  Acme Dental, Inc.!")
                .unwrap()
                .as_str(),
            "acme-dental-inc"
        );
        assert!(TenantSlug::from_name("!!!").is_err());
    }
}
