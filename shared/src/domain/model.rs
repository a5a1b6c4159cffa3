//! The name of an LLM model as the provider spells it (`gemini-2.5-flash`): what a tenant may
//! choose in its LLM settings and what every usage record names.

use std::fmt;

use serde::Serialize;

use super::ParseError;

/// Lowercase ASCII letters, digits, `.` and `-`, 1–64 characters, starting with a letter or
/// digit (`^[a-z0-9][a-z0-9.-]{0,63}$`, the same check as the database's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = r"^[a-z0-9][a-z0-9.-]{0,63}$", example = "gemini-2.5-flash")]
pub struct ModelName(String);

impl ModelName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut chars = s.chars();
        let ok_first = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ok_rest =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        if ok_first && ok_rest && s.len() <= Self::MAX_LEN {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(
                "model name",
                "use 1-64 lowercase letters, digits, '.' or '-', starting with a letter or digit",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        for good in [
            "gemini-2.5-flash",
            "gemini-3-pro-preview",
            "m",
            &"a".repeat(64),
        ] {
            assert!(ModelName::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "-gemini",
            ".x",
            "Gemini",
            "gemini 2",
            "models/gemini",
            "é",
            &"a".repeat(65),
        ] {
            assert!(ModelName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
