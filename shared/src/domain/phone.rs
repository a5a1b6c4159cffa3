//! Phone numbers in E.164: `+`, a country code that does not start with 0, at most 15 digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct E164Number(String);

impl E164Number {
    /// Accepts `+15550001111`; spaces, dashes, dots and parentheses are ignored.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').ok_or_else(|| {
            ParseError::new("phone number", "must start with + and a country code")
        })?;
        let valid = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(compact))
        } else {
            Err(ParseError::new(
                "phone number",
                "must be E.164: + and 7-15 digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for E164Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for E164Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_e164() {
        assert_eq!(
            E164Number::parse("+1 (555) 000-1111").unwrap().as_str(),
            "+15550001111"
        );
        for bad in [
            "15550001111",
            "+0555000111",
            "+1555",
            "+1555000111122233",
            "+1555abc1111",
            "",
        ] {
            assert!(E164Number::parse(bad).is_err(), "{bad}");
        }
    }
}
