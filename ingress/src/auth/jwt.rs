//! Short-lived access tokens (HS256). A token names its user, role, tenant and the tenant's
//! token generation at issue time; bumping the generation revokes every token of the tenant.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// Tenant; absent for platform admins.
    pub tid: Option<Uuid>,
    pub role: String,
    /// The tenant's token generation when issued.
    #[serde(rename = "gen")]
    pub generation: i32,
    pub iat: i64,
    pub exp: i64,
}

/// The `state` of a Google consent: which tenant started it, for what, until when. Signed with
/// the same key as login tokens, but it cannot pass for one (no `sub`) nor they for it (no
/// `purpose`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentState {
    pub tid: Uuid,
    pub purpose: String,
    pub nonce: Uuid,
    pub exp: i64,
}

/// What a Gmail connection's consent state is for.
pub const GMAIL_CONNECT: &str = "gmail_connect";

/// How long a consent may take.
const CONSENT_TTL_SECS: i64 = 15 * 60;

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn issue(
        &self,
        user: Uuid,
        tenant: Option<Uuid>,
        role: &str,
        generation: i32,
    ) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(3600);
        let claims = Claims {
            sub: user,
            tid: tenant,
            role: role.to_owned(),
            generation,
            iat: now,
            exp: now + ttl,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
    }

    /// A signed `state` for a consent that `tenant` starts now.
    pub fn issue_consent_state(&self, tenant: Uuid, purpose: &str) -> Result<String, ApiError> {
        let state = ConsentState {
            tid: tenant,
            purpose: purpose.to_owned(),
            nonce: Uuid::new_v4(),
            exp: chrono::Utc::now().timestamp() + CONSENT_TTL_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &state, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing state: {e}")))
    }

    /// The tenant of a consent `state` we issued for `purpose` and that has not expired.
    pub fn verify_consent_state(&self, state: &str, purpose: &str) -> Result<Uuid, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<ConsentState>(state, &self.decoding, &validation)
            .ok()
            .filter(|data| data.claims.purpose == purpose)
            .map(|data| data.claims.tid)
            .ok_or_else(|| ApiError::BadRequest("invalid or expired consent state".into()))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| ApiError::Unauthorized("invalid or expired token".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_states_are_not_login_tokens() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let tenant = Uuid::now_v7();
        let state = keys.issue_consent_state(tenant, GMAIL_CONNECT).unwrap();
        assert_eq!(
            keys.verify_consent_state(&state, GMAIL_CONNECT).unwrap(),
            tenant
        );
        assert!(keys.verify_consent_state(&state, "other").is_err());
        assert!(keys.verify(&state).is_err());
        let login = keys
            .issue(Uuid::now_v7(), Some(tenant), "tenant_admin", 0)
            .unwrap();
        assert!(keys.verify_consent_state(&login, GMAIL_CONNECT).is_err());
        let other = JwtKeys::new(
            b"another-key-another-key-another!!",
            Duration::from_secs(60),
        );
        assert!(other.verify_consent_state(&state, GMAIL_CONNECT).is_err());
    }

    #[test]
    fn issues_and_verifies_and_refuses_tampering() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let user = Uuid::now_v7();
        let token = keys.issue(user, None, "platform_admin", 0).unwrap();
        assert_eq!(keys.verify(&token).unwrap().sub, user);
        let other = JwtKeys::new(b"another-secret-another-secret-00", Duration::from_secs(60));
        assert!(other.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
        let expired = JwtKeys::new(b"0123456789abcdef0123456789abcdef", Duration::ZERO);
        let mut claims = keys.verify(&token).unwrap();
        claims.exp -= 3600;
        let old = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &expired.encoding)
            .unwrap();
        assert!(keys.verify(&old).is_err());
    }
}
