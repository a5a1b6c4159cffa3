//! Keys that give events their identity (deduplication) and their order (conversation).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Channel, ParseError, TenantId};

/// The provider's identity of one event. The worker records it under a unique constraint in
/// the same transaction as the event's effects, so a redelivered event changes nothing.
///
/// Built from a provider-specific prefix and the provider's own id, e.g.
/// `wa:msg:wamid.HBg…` or `wa:status:wamid.HBg…:delivered`.
///
/// Read back (from a queued envelope) through [`DedupKey::parse`] too, so a decoded key holds
/// the same rules as one the ingress built.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DedupKey(String);

impl DedupKey {
    const MAX_LEN: usize = 512;

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > Self::MAX_LEN || s.chars().any(char::is_control) {
            return Err(ParseError::new(
                "dedup key",
                "expected 1-512 printable characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// Join parts with `:`; each part comes from a parsed provider id.
    pub fn from_parts(parts: &[&str]) -> Result<Self, ParseError> {
        Self::parse(&parts.join(":"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DedupKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `tenant:channel:contact`: events with the same key belong to one conversation and are
/// processed in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationKey(String);

impl ConversationKey {
    pub fn new(tenant: TenantId, channel: Channel, contact: &str) -> Self {
        Self(format!("{tenant}:{channel}:{contact}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The contact part (a phone number, a WhatsApp id, an address): everything after the
    /// tenant and the channel, neither of which contains `:`.
    pub fn contact(&self) -> &str {
        self.0.splitn(3, ':').nth(2).unwrap_or_default()
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dedup_key_is_read_back_under_the_same_rules() {
        // Found by the envelope fuzz target: an envelope decoded with an empty (or too long,
        // or control-character) dedup key that `DedupKey::parse` refuses.
        let ok: DedupKey = serde_json::from_str(r#""wa:msg:wamid.A""#).unwrap();
        assert_eq!(ok.as_str(), "wa:msg:wamid.A");
        let long = format!("\"{}\"", "k".repeat(513));
        for bad in [r#""""#, r#""wa:\u0000""#, long.as_str()] {
            assert!(serde_json::from_str::<DedupKey>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn conversation_key_names_its_contact() {
        let tenant = TenantId::new();
        let key = ConversationKey::new(tenant, Channel::Voice, "sip:alice@example.test");
        assert_eq!(key.contact(), "sip:alice@example.test");
        assert_eq!(
            ConversationKey::new(tenant, Channel::Sms, "+15550001111").contact(),
            "+15550001111"
        );
    }
}
