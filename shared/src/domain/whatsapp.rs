//! WhatsApp Cloud API identifiers: Meta sends every id as a string of digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;

fn parse_numeric_id(what: &'static str, s: &str) -> Result<String, ParseError> {
    if (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(ParseError::new(what, "expected 1-32 digits"))
    }
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                parse_numeric_id($what, s).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

numeric_id!(
    /// `metadata.phone_number_id`: the business phone number a webhook is about, and the
    /// routing key from a WhatsApp event to its tenant.
    PhoneNumberId,
    "phone_number_id"
);
numeric_id!(
    /// `entry[].id`: the WhatsApp Business Account; a cross-check for the routing.
    WabaId,
    "WABA id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_only() {
        assert!(PhoneNumberId::parse("100000000000001").is_ok());
        for bad in ["", "12a", "+1555", &"1".repeat(33)] {
            assert!(PhoneNumberId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
