//! Prompt bundles: the text the LLM is given before a conversation, kept as ordered,
//! named sections so a tenant can change one part without copying the rest.
//!
//! There is one global bundle, written by platform admins and inherited by every tenant, and
//! one bundle per tenant. A section is a [`SectionKey`] (unique within its bundle) and its
//! content. What the LLM finally gets is [`merge`] of the two: the global order, with each
//! global section the tenant overrides replaced in place, then the tenant's own sections.
//!
//! A [`Bundle`] can only be built by [`Bundle::parse`], which enforces the limits the
//! database also checks: at most [`MAX_SECTIONS`] sections, keys unique and well formed,
//! content at most [`MAX_CONTENT_BYTES`] bytes. Storage is in [`crate::db::prompts`].

mod merge;

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

pub use merge::{EffectiveSection, Source, merge, render};

use crate::domain::ParseError;

/// The most sections a bundle holds.
pub const MAX_SECTIONS: usize = 100;
/// The largest content of one section, in bytes (UTF-8).
pub const MAX_CONTENT_BYTES: usize = 32 * 1024;

/// A section's name within its bundle: lowercase ASCII letters, digits, `_`, `.` and `-`,
/// 1–64 characters, starting with a letter or digit (`^[a-z0-9][a-z0-9_.-]{0,63}$`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = r"^[a-z0-9][a-z0-9_.-]{0,63}$", example = "tone")]
pub struct SectionKey(String);

impl SectionKey {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut chars = s.chars();
        let ok_first = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ok_rest = chars.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' || c == '-'
        });
        if ok_first && ok_rest && s.len() <= 64 {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "section key",
                "use 1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter \
                 or digit",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SectionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One named part of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub key: SectionKey,
    /// At most [`MAX_CONTENT_BYTES`]; may be empty (a tenant's empty section hides the global
    /// one of the same key, see [`merge`]).
    pub content: String,
}

/// The sections of one bundle, in order, every limit checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle(Vec<Section>);

/// Why a bundle was refused: which section (by its index in the input) and which of its
/// fields, or the bundle as a whole (`index` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleError {
    pub index: Option<usize>,
    /// `section_key` or `content` for a section; `sections` for the bundle.
    pub field: &'static str,
    pub reason: String,
}

impl Bundle {
    /// Check `(section_key, content)` pairs, in order. Every problem is reported, not just
    /// the first.
    pub fn parse(items: Vec<(String, String)>) -> Result<Self, Vec<BundleError>> {
        let mut errors = Vec::new();
        if items.len() > MAX_SECTIONS {
            errors.push(BundleError {
                index: None,
                field: "sections",
                reason: format!("at most {MAX_SECTIONS} sections"),
            });
        }
        let mut first_seen: HashMap<String, usize> = HashMap::new();
        let mut sections = Vec::with_capacity(items.len().min(MAX_SECTIONS));
        for (index, (key, content)) in items.into_iter().enumerate() {
            let mut refuse = |field, reason: String| {
                errors.push(BundleError {
                    index: Some(index),
                    field,
                    reason,
                })
            };
            let parsed = match SectionKey::parse(&key) {
                Ok(parsed) => match first_seen.get(&key) {
                    Some(first) => {
                        refuse(
                            "section_key",
                            format!("'{key}' is also the key of section {first}"),
                        );
                        None
                    }
                    None => {
                        first_seen.insert(key, index);
                        Some(parsed)
                    }
                },
                Err(_) if key.is_empty() => {
                    refuse("section_key", "must not be empty".into());
                    None
                }
                Err(e) => {
                    refuse("section_key", e.reason);
                    None
                }
            };
            if content.len() > MAX_CONTENT_BYTES {
                refuse(
                    "content",
                    format!("must be at most {MAX_CONTENT_BYTES} bytes (UTF-8)"),
                );
                continue;
            }
            if let Some(key) = parsed {
                sections.push(Section { key, content });
            }
        }
        if errors.is_empty() {
            Ok(Self(sections))
        } else {
            Err(errors)
        }
    }

    pub fn sections(&self) -> &[Section] {
        &self.0
    }

    pub fn into_sections(self) -> Vec<Section> {
        self.0
    }

    pub fn keys(&self) -> impl Iterator<Item = &SectionKey> {
        self.0.iter().map(|s| &s.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, c)| ((*k).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn section_keys() {
        for good in [
            "tone",
            "a",
            "0",
            "faq.hours",
            "opening_hours-v2",
            &"k".repeat(64),
        ] {
            assert!(SectionKey::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "_x",
            "-x",
            ".x",
            "Tone",
            "a b",
            "ä",
            "a/b",
            &"k".repeat(65),
        ] {
            assert!(SectionKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_valid_bundle_keeps_its_order() {
        let bundle = Bundle::parse(items(&[("b", "2"), ("a", "1"), ("c", "")])).unwrap();
        let keys: Vec<_> = bundle.keys().map(SectionKey::as_str).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(Bundle::parse(Vec::new()).unwrap(), Bundle::default());
    }

    #[test]
    fn every_problem_is_reported_with_its_section() {
        let big = "x".repeat(MAX_CONTENT_BYTES + 1);
        let errors = Bundle::parse(items(&[
            ("a", "1"),
            ("", "2"),
            ("a", "3"),
            ("Bad Key", &big),
        ]))
        .unwrap_err();
        let found: Vec<_> = errors.iter().map(|e| (e.index, e.field)).collect();
        assert_eq!(
            found,
            [
                (Some(1), "section_key"),
                (Some(2), "section_key"),
                (Some(3), "section_key"),
                (Some(3), "content"),
            ]
        );
        assert_eq!(errors[0].reason, "must not be empty");
        assert!(
            errors[1].reason.contains("section 0"),
            "{}",
            errors[1].reason
        );
    }

    #[test]
    fn content_is_limited_in_bytes_and_sections_in_number() {
        // 2-byte characters: under the limit in characters, over it in bytes.
        let wide = "é".repeat(MAX_CONTENT_BYTES / 2 + 1);
        assert!(Bundle::parse(items(&[("a", &wide)])).is_err());
        let exact = "x".repeat(MAX_CONTENT_BYTES);
        assert!(Bundle::parse(items(&[("a", &exact)])).is_ok());

        let many: Vec<_> = (0..=MAX_SECTIONS)
            .map(|i| (format!("s{i}"), String::new()))
            .collect();
        let errors = Bundle::parse(many).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].index, errors[0].field), (None, "sections"));
    }
}
