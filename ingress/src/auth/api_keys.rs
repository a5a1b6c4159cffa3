//! Tenant API keys: `sk_live_<prefix>_<secret>`. The prefix (12 hex characters) finds the row;
//! the SHA-256 of the whole key, compared in constant time, proves it. Keys have 256 bits of
//! randomness, so a fast hash is enough (argon2 is for low-entropy passwords).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;
use switchyard_shared::db::api_keys;
use switchyard_shared::domain::TenantId;
use uuid::Uuid;

use super::Role;
use crate::error::ApiError;

pub const KEY_PREFIX: &str = "sk_live_";

/// A freshly generated key: shown to the caller once, then only its prefix and hash remain.
pub struct NewKey {
    pub key: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

pub fn generate() -> NewKey {
    let prefix = hex::encode(rand::random::<[u8; 6]>());
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let key = format!("{KEY_PREFIX}{prefix}_{secret}");
    let hash = Sha256::digest(key.as_bytes()).to_vec();
    NewKey { key, prefix, hash }
}

pub struct AuthenticatedKey {
    pub id: Uuid,
    pub tenant: TenantId,
    pub role: Role,
}

pub async fn authenticate(pool: &PgPool, key: &str) -> Result<AuthenticatedKey, ApiError> {
    let invalid = || ApiError::Unauthorized("invalid API key".into());
    let prefix = key
        .strip_prefix(KEY_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .map(|(prefix, _)| prefix)
        .filter(|p| p.len() == 12)
        .ok_or_else(invalid)?;
    let record = api_keys::by_prefix(pool, prefix)
        .await?
        .ok_or_else(invalid)?;
    let hash = Sha256::digest(key.as_bytes());
    if !bool::from(hash.as_slice().ct_eq(&record.key_hash)) || record.revoked {
        return Err(invalid());
    }
    let role = Role::parse(&record.role)
        .filter(|r| *r != Role::PlatformAdmin)
        .ok_or_else(invalid)?;
    if let Err(e) = api_keys::touch(pool, record.id).await {
        tracing::warn!(error = %e, "could not record API key use");
    }
    Ok(AuthenticatedKey {
        id: record.id,
        tenant: TenantId::from_uuid(record.tenant_id),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let a = generate();
        let b = generate();
        assert!(a.key.starts_with("sk_live_"));
        assert_eq!(a.prefix.len(), 12);
        assert!(a.key.contains(&format!("_{}_", a.prefix)));
        assert_ne!(a.key, b.key);
        assert_eq!(a.hash, Sha256::digest(a.key.as_bytes()).to_vec());
    }
}
