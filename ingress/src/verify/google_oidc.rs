//! Google Cloud Pub/Sub push authentication: the OIDC token in `Authorization`.
//!
//! A push subscription configured with `pushConfig.oidcToken {serviceAccountEmail, audience}`
//! sends every delivery with `Authorization: Bearer <JWT>`, a Google-signed ID token for that
//! service account. The token is three base64url parts, `header.claims.signature`:
//!
//! - header: `{"alg": "RS256", "kid": "<key id>", "typ": "JWT"}`; `kid` names one key of
//!   Google's published set ([`GoogleKeys`], fetched from [`GOOGLE_CERTS_URL`]);
//! - claims: `{"iss": "https://accounts.google.com", "aud": "<the configured audience>",
//!   "email": "<the push service account>", "email_verified": true, "iat", "exp", "sub", "azp"}`
//!   — `exp` is one hour after `iat`.
//!
//! A [`PushAuthPolicy`] names what this endpoint accepts (audience, service account, clock
//! leeway) and [`PushAuthPolicy::verify`] checks, in order: the `Bearer` scheme; `alg` is
//! RS256 and `kid` a key Google publishes (the only algorithm accepted, so `none` and HMAC
//! tokens signed with a public key as secret never get near a verifier); the signature; `iss`
//! is one of [`GOOGLE_ISSUERS`]; `aud`; `email` and `email_verified`; `exp` and `iat` against
//! `now` with the leeway either way. Anything else is an [`OidcError`], whose messages are fit
//! for a 401 body and never repeat the token.
//!
//! The clock is a parameter (`now`), so tests can use fixed tokens; the key cache's own
//! timing (max-age, refresh rate limit) runs on the process clock. The two steps around the
//! key fetch are public on their own ([`PushToken::read`], [`PushAuthPolicy::verify_signed`]),
//! so the fuzz targets check the same code without a network.

mod keys;
#[cfg(test)]
mod tests;

pub use keys::{DEFAULT_MIN_REFRESH_INTERVAL, GoogleKeys, MAX_KEY_SET_AGE, max_age, parse_jwks};

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Google's JWKS of OIDC signing keys (what `GOOGLE_CERTS_URL` is in production).
pub const GOOGLE_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The `iss` values Google ID tokens carry (google-auth's `_GOOGLE_ISSUERS`).
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// Clock skew allowed on `exp` and `iat`, unless configured otherwise.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Why a push request's token was refused. The messages are fit for a 401 body, except
/// [`OidcError::KeysUnavailable`], which is our failure and worth a 503 so Pub/Sub retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("missing Authorization header")]
    MissingHeader,
    #[error("Authorization header is not a Bearer token")]
    NotBearer,
    #[error("malformed bearer token")]
    Malformed,
    #[error("token algorithm is not RS256")]
    UnsupportedAlgorithm,
    #[error("token header names no signing key (kid)")]
    MissingKeyId,
    #[error("token is signed with a key Google does not publish")]
    UnknownKey,
    #[error("Google's signing keys are unavailable")]
    KeysUnavailable,
    #[error("token signature does not match")]
    BadSignature,
    #[error("token issuer is not Google")]
    WrongIssuer,
    #[error("token audience does not match this endpoint")]
    WrongAudience,
    #[error("token is not for the configured push service account")]
    WrongEmail,
    #[error("token email is not verified")]
    EmailNotVerified,
    #[error("token has no {0} claim")]
    MissingClaim(&'static str),
    #[error("token has expired")]
    Expired,
    #[error("token is issued in the future")]
    IssuedInFuture,
}

impl OidcError {
    /// Whether the request may succeed if delivered again (our keys could not be fetched),
    /// rather than being refused for what it carries.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::KeysUnavailable)
    }
}

/// What a push endpoint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAuthPolicy {
    /// The subscription's `oidcToken.audience` (or its push URL when that was left empty).
    pub audience: String,
    /// The subscription's `oidcToken.serviceAccountEmail`.
    pub service_account_email: String,
    /// Clock skew allowed on `exp` and `iat`, either way.
    pub leeway: Duration,
}

/// The facts of an accepted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPush {
    /// The push service account (`email`).
    pub email: String,
    /// Its unique id (`sub`), when present.
    pub subject: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct TokenHeader {
    alg: String,
    kid: Option<String>,
}

/// `aud` is one string in Google's tokens; the JWT spec also allows a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// `email_verified` is a boolean; some older Google tokens carried it as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    email: Option<String>,
    email_verified: Option<Flag>,
    exp: Option<i64>,
    iat: Option<i64>,
    sub: Option<String>,
}

impl PushAuthPolicy {
    /// Accept tokens for `audience` from `service_account_email`, with [`DEFAULT_LEEWAY`].
    pub fn new(audience: impl Into<String>, service_account_email: impl Into<String>) -> Self {
        Self {
            audience: audience.into(),
            service_account_email: service_account_email.into(),
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// The same policy with another clock-skew allowance.
    pub fn with_leeway(self, leeway: Duration) -> Self {
        Self { leeway, ..self }
    }

    /// Check the `Authorization` header value of a push request at `now`, against `keys`.
    pub async fn verify(
        &self,
        keys: &GoogleKeys,
        authorization: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<VerifiedPush, OidcError> {
        let token = PushToken::read(authorization)?;
        let key = keys.key(token.key_id()).await?;
        self.verify_signed(&token, &key, now)
    }

    /// The rest of [`PushAuthPolicy::verify`] once the key `token` names is at hand: the
    /// signature, then the claims against `now`. Public so the fuzz targets can drive it
    /// without fetching keys.
    pub fn verify_signed(
        &self,
        token: &PushToken<'_>,
        key: &DecodingKey,
        now: DateTime<Utc>,
    ) -> Result<VerifiedPush, OidcError> {
        // The library checks the signature only; the claims are checked below, against `now`.
        let mut signature_only = Validation::new(Algorithm::RS256);
        signature_only.required_spec_claims.clear();
        signature_only.validate_exp = false;
        signature_only.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(token.token, key, &signature_only)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => OidcError::BadSignature,
                _ => OidcError::Malformed,
            })?
            .claims;
        self.check(claims, now)
    }

    fn check(&self, claims: Claims, now: DateTime<Utc>) -> Result<VerifiedPush, OidcError> {
        let iss = claims.iss.ok_or(OidcError::MissingClaim("iss"))?;
        if !GOOGLE_ISSUERS.contains(&iss.as_str()) {
            return Err(OidcError::WrongIssuer);
        }
        let audience_matches = match claims.aud.ok_or(OidcError::MissingClaim("aud"))? {
            Audience::One(aud) => aud == self.audience,
            Audience::Many(auds) => auds.contains(&self.audience),
        };
        if !audience_matches {
            return Err(OidcError::WrongAudience);
        }
        let email = claims.email.ok_or(OidcError::MissingClaim("email"))?;
        if email != self.service_account_email {
            return Err(OidcError::WrongEmail);
        }
        match claims.email_verified {
            Some(Flag::Bool(true)) => {}
            Some(Flag::Text(text)) if text == "true" => {}
            _ => return Err(OidcError::EmailNotVerified),
        }
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let now_secs = now.timestamp();
        let exp = claims.exp.ok_or(OidcError::MissingClaim("exp"))?;
        if exp.saturating_add(leeway) <= now_secs {
            return Err(OidcError::Expired);
        }
        let iat = claims.iat.ok_or(OidcError::MissingClaim("iat"))?;
        if iat.saturating_sub(leeway) > now_secs {
            return Err(OidcError::IssuedInFuture);
        }
        let at = |secs| DateTime::from_timestamp(secs, 0).ok_or(OidcError::Malformed);
        Ok(VerifiedPush {
            email,
            subject: claims.sub,
            issued_at: at(iat)?,
            expires_at: at(exp)?,
        })
    }
}

/// A bearer token whose header asks for RS256 and names its key: what
/// [`PushAuthPolicy::verify`] reads before choosing a key. Nothing is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushToken<'a> {
    token: &'a str,
    kid: String,
}

impl<'a> PushToken<'a> {
    /// Read the `Authorization` header value: the `Bearer` scheme, then the token's header
    /// (`alg` must be RS256, `kid` present).
    pub fn read(authorization: Option<&'a [u8]>) -> Result<Self, OidcError> {
        let token = bearer_token(authorization)?;
        let header = token_header(token)?;
        if header.alg != "RS256" {
            return Err(OidcError::UnsupportedAlgorithm);
        }
        let kid = header.kid.ok_or(OidcError::MissingKeyId)?;
        Ok(Self { token, kid })
    }

    /// The `kid` of the key the token says it is signed with.
    pub fn key_id(&self) -> &str {
        &self.kid
    }
}

/// The token of a `Bearer` `Authorization` value (the scheme name is case-insensitive).
fn bearer_token(authorization: Option<&[u8]>) -> Result<&str, OidcError> {
    let value = authorization.ok_or(OidcError::MissingHeader)?;
    let value = std::str::from_utf8(value).map_err(|_| OidcError::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(OidcError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(OidcError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(OidcError::Malformed);
    }
    Ok(token)
}

/// The token's header, read before any key is chosen (so `alg` values the library has no
/// name for, such as `none`, are refused as unsupported rather than malformed).
fn token_header(token: &str) -> Result<TokenHeader, OidcError> {
    let encoded = token.split('.').next().ok_or(OidcError::Malformed)?;
    let json = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| OidcError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| OidcError::Malformed)
}
