//! Provider credentials at rest: AES-256-GCM with a key id, and masking for display.
//!
//! Ciphertext is stored as text: `{key_id}:{base64(nonce ‖ ciphertext ‖ tag)}`. The key id lets
//! an operator rotate keys — new secrets are sealed with the first (active) key, old ones still
//! open with any key that is still configured. Each secret is sealed with associated data that
//! names what it is and whose it is (e.g. `whatsapp.access_token:{tenant}`), so a ciphertext
//! copied into another tenant's row does not open.
//!
//! Keys come from `ENCRYPTION_KEYS`: a comma-separated list of `id:base64(32 bytes)`, the
//! active key first.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("ENCRYPTION_KEYS is empty: configure at least one key as id:base64(32 bytes)")]
    NoKeys,
    #[error("encryption key '{0}' is not id:base64 of exactly 32 bytes")]
    BadKey(String),
    #[error("ciphertext names key '{0}', which is not configured")]
    UnknownKey(String),
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext does not open with its key (wrong key, or it belongs elsewhere)")]
    Unauthentic,
}

/// A secret in memory. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself; call only where it leaves the process on purpose (an HTTP header, a
    /// signature check).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `***` and the last four characters, the form every API response uses.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

impl std::str::FromStr for SecretString {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// `***1234`: only the last four characters, and nothing at all of a short secret.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "***".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("***{tail}")
}

struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The configured keys; cheap to share behind an `Arc`.
pub struct SecretBox {
    keys: Vec<SealingKey>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<_> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("SecretBox").field("key_ids", &ids).finish()
    }
}

impl SecretBox {
    /// Parse `id:base64key[,id:base64key…]`.
    pub fn from_config(spec: &str) -> Result<Self, SecretsError> {
        let mut keys = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (id, b64) = item
                .split_once(':')
                .ok_or_else(|| SecretsError::BadKey(item.chars().take(8).collect()))?;
            let valid_id = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            let bytes = B64
                .decode(b64)
                .map_err(|_| SecretsError::BadKey(id.to_owned()))?;
            if !valid_id || bytes.len() != 32 {
                return Err(SecretsError::BadKey(id.to_owned()));
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| SecretsError::BadKey(id.to_owned()))?;
            keys.push(SealingKey {
                id: id.to_owned(),
                cipher,
            });
        }
        if keys.is_empty() {
            return Err(SecretsError::NoKeys);
        }
        Ok(Self { keys })
    }

    /// A fresh random key in the configuration format, for `switchyard keygen`.
    pub fn generate_key_spec(id: &str) -> String {
        let key: [u8; 32] = rand::random();
        format!("{id}:{}", B64.encode(key))
    }

    /// Seal `plaintext` with the active key, bound to `context`.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, SecretsError> {
        let key = self.keys.first().ok_or(SecretsError::NoKeys)?;
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Malformed)?;
        let mut out = Vec::with_capacity(12 + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(format!("{}:{}", key.id, B64.encode(out)))
    }

    /// Open a ciphertext produced by [`SecretBox::seal`] with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, SecretsError> {
        let (id, b64) = sealed.split_once(':').ok_or(SecretsError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SecretsError::UnknownKey(id.to_owned()))?;
        let bytes = B64.decode(b64).map_err(|_| SecretsError::Malformed)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretsError::Malformed);
        }
        let (nonce_bytes, ciphertext) = bytes.split_at(12);
        let nonce_array: [u8; 12] = nonce_bytes
            .try_into()
            .map_err(|_| SecretsError::Malformed)?;
        let plaintext = key
            .cipher
            .decrypt(
                &Nonce::from(nonce_array),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretsError::Unauthentic)?;
        String::from_utf8(plaintext)
            .map(SecretString)
            .map_err(|_| SecretsError::Malformed)
    }
}

/// A map of named secrets, each sealed on its own, stored as one JSON object.
impl SecretBox {
    /// Seal every value; `context` is extended with the secret's name.
    pub fn seal_map(
        &self,
        secrets: &std::collections::BTreeMap<String, SecretString>,
        context: &str,
    ) -> Result<serde_json::Value, SecretsError> {
        let mut sealed = serde_json::Map::new();
        for (name, value) in secrets {
            let ciphertext = self.seal(value.expose(), &format!("{context}:{name}"))?;
            sealed.insert(name.clone(), serde_json::Value::String(ciphertext));
        }
        Ok(serde_json::Value::Object(sealed))
    }

    /// Open a map made by [`SecretBox::seal_map`].
    pub fn open_map(
        &self,
        sealed: &serde_json::Value,
        context: &str,
    ) -> Result<std::collections::BTreeMap<String, SecretString>, SecretsError> {
        let object = sealed.as_object().ok_or(SecretsError::Malformed)?;
        object
            .iter()
            .map(|(name, value)| {
                let ciphertext = value.as_str().ok_or(SecretsError::Malformed)?;
                Ok((
                    name.clone(),
                    self.open(ciphertext, &format!("{context}:{name}"))?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_keys() -> (SecretBox, SecretBox) {
        let old = SecretBox::generate_key_spec("k1");
        let new = SecretBox::generate_key_spec("k2");
        (
            SecretBox::from_config(&old).unwrap(),
            SecretBox::from_config(&format!("{new},{old}")).unwrap(),
        )
    }

    #[test]
    fn seals_and_opens_across_rotation() {
        let (old, rotated) = two_keys();
        let sealed = old.seal("EAAG-token-1234", "ctx").unwrap();
        assert!(sealed.starts_with("k1:"));
        assert!(!sealed.contains("EAAG"));
        assert_eq!(
            rotated.open(&sealed, "ctx").unwrap().expose(),
            "EAAG-token-1234"
        );
        assert!(rotated.seal("x", "ctx").unwrap().starts_with("k2:"));
    }

    #[test]
    fn refuses_wrong_context_unknown_key_and_garbage() {
        let (old, rotated) = two_keys();
        let sealed = rotated.seal("secret", "tenant-a").unwrap();
        assert!(matches!(
            rotated.open(&sealed, "tenant-b"),
            Err(SecretsError::Unauthentic)
        ));
        assert!(matches!(
            old.open(&sealed, "tenant-a"),
            Err(SecretsError::UnknownKey(_))
        ));
        assert!(matches!(
            rotated.open("k2:@@", "x"),
            Err(SecretsError::Malformed)
        ));
        assert!(matches!(
            rotated.open("nocolon", "x"),
            Err(SecretsError::Malformed)
        ));
    }

    #[test]
    fn config_errors() {
        assert!(matches!(
            SecretBox::from_config(""),
            Err(SecretsError::NoKeys)
        ));
        assert!(SecretBox::from_config("k1:c2hvcnQ=").is_err());
        assert!(SecretBox::from_config("nokey").is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask("EAAGm0PX4ZCpsBAKZBZC1234"), "***1234");
        assert_eq!(mask("short"), "***");
        assert_eq!(
            format!("{:?}", SecretString::new("abc")),
            "SecretString(***)"
        );
    }
}
