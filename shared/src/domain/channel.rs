//! The four channels a tenant talks to its customers over.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// A conversation channel. Providers map onto channels: WhatsApp Cloud API → `Whatsapp`,
/// Telnyx messaging and legacy Twilio → `Sms`, Telnyx call control → `Voice`, Gmail → `Email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Whatsapp,
    Sms,
    Voice,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Self::Whatsapp, Self::Sms, Self::Voice, Self::Email];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Sms => "sms",
            Self::Voice => "voice",
            Self::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ParseError::new("channel", format!("unknown '{s}'")))
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
