//! Google's side of a Pub/Sub push, for sample Gmail notifications in tests and local runs.
//!
//! [`GoogleSigner`] mints the OIDC ID token a push subscription sends in `Authorization`:
//! RS256 over the claims the ingress checks (`iss`, `aud`, `email`, `email_verified`, `iat`,
//! `exp`, plus `sub`/`azp`), with `kid` in the header naming the key in
//! [`GoogleSigner::jwks_json`], which the fake Google serves as its certs endpoint.
//! [`push_request`] wraps a [`GmailNotification`] the way Pub/Sub does and signs it.
//!
//! The sandbox key is the committed test-only RSA key in `ingress/tests/keys/`; it is never a
//! key Google knows. Signing is pure: the caller picks `iat`/`exp`, so a test can sign for any
//! clock, or sign a token that must be refused (wrong audience, expired, unverified email).
//!
//! The sandbox's own Pub/Sub set-up — topic, subscription, push audience and service account —
//! is here too, in one place: `serve --sandbox` configures the ingress with it and
//! `simulate gmail` signs for it, so the two agree.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::json;
use switchyard_ingress::verify::google_oidc::GOOGLE_ISSUERS;
use switchyard_shared::payloads::pubsub::GmailNotification;

/// The `kid` of the sandbox key.
pub const SANDBOX_KID: &str = "switchyard-test-only-0001";
const SANDBOX_PEM: &str = include_str!("../../ingress/tests/keys/test_only_google_rsa.pem");
const SANDBOX_JWKS: &str = include_str!("../../ingress/tests/keys/test_only_google_jwks.json");
/// The `sub`/`azp` of the sandbox push service account.
const SANDBOX_SUBJECT: &str = "100000000000000000001";

/// The topic the sandbox's mailboxes are watched on (`GMAIL_PUBSUB_TOPIC`).
pub const SANDBOX_PUBSUB_TOPIC: &str = "projects/switchyard-sandbox/topics/gmail";
/// The push subscription on that topic, named in every push body.
pub const SANDBOX_PUSH_SUBSCRIPTION: &str = "projects/switchyard-sandbox/subscriptions/gmail-push";
/// The audience the sandbox push tokens carry (`PUBSUB_PUSH_AUDIENCE`). Any text will do for
/// Pub/Sub; the reserved `.invalid` domain makes it plain that no ingress is reachable there.
pub const SANDBOX_PUSH_AUDIENCE: &str = "https://ingress.switchyard-sandbox.invalid/webhooks/gmail";
/// The service account the sandbox push tokens are issued to (`PUBSUB_PUSH_SERVICE_ACCOUNT`).
pub const SANDBOX_PUSH_SERVICE_ACCOUNT: &str =
    "gmail-push@switchyard-sandbox.iam.gserviceaccount.com";

/// The claims of one push token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushClaims {
    pub iss: String,
    /// The subscription's configured audience.
    pub aud: String,
    /// The push service account.
    pub email: String,
    pub email_verified: bool,
    /// Unix seconds.
    pub iat: i64,
    /// Unix seconds.
    pub exp: i64,
    pub sub: String,
    pub azp: String,
}

impl PushClaims {
    /// What Google issues for `email` and `audience` at `iat`: valid for one hour.
    pub fn new(audience: &str, email: &str, iat: i64) -> Self {
        Self {
            iss: GOOGLE_ISSUERS[0].into(),
            aud: audience.into(),
            email: email.into(),
            email_verified: true,
            iat,
            exp: iat + 3600,
            sub: SANDBOX_SUBJECT.into(),
            azp: SANDBOX_SUBJECT.into(),
        }
    }
}

/// Signs push tokens as Google would.
pub struct GoogleSigner {
    key: EncodingKey,
    kid: String,
}

/// Why a token could not be minted (the key did not load).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the push token: {0}")]
pub struct SigningError(String);

impl GoogleSigner {
    /// The sandbox key; its public half is [`GoogleSigner::jwks_json`].
    pub fn sandbox() -> Self {
        let der: String = SANDBOX_PEM
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        // An undecodable key surfaces as a signing error on first use.
        let der = STANDARD.decode(der).unwrap_or_default();
        Self {
            key: EncodingKey::from_rsa_der(&der),
            kid: SANDBOX_KID.into(),
        }
    }

    /// The same key announced under another `kid` (one the JWKS does not list).
    pub fn with_kid(self, kid: &str) -> Self {
        Self {
            kid: kid.into(),
            ..self
        }
    }

    /// The JWKS holding the sandbox key, as Google's certs endpoint serves it.
    pub fn jwks_json() -> &'static str {
        SANDBOX_JWKS
    }

    /// The signed ID token for `claims`.
    pub fn id_token(&self, claims: &PushClaims) -> Result<String, SigningError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| SigningError(e.to_string()))
    }
}

/// A push request as Pub/Sub sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPush {
    /// The `Authorization` header value: `Bearer <token>`.
    pub authorization: String,
    /// The JSON body.
    pub body: String,
}

/// The body Pub/Sub pushes for `notification`, published as `message_id` on `subscription`
/// at `publish_time` (RFC 3339).
pub fn push_body(
    notification: &GmailNotification,
    message_id: &str,
    subscription: &str,
    publish_time: &str,
) -> String {
    json!({
        "message": {
            "data": STANDARD.encode(notification.to_json()),
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": publish_time,
            "publish_time": publish_time,
        },
        "subscription": subscription,
    })
    .to_string()
}

/// A complete push: `claims` signed by `signer`, around [`push_body`].
pub fn push_request(
    signer: &GoogleSigner,
    claims: &PushClaims,
    notification: &GmailNotification,
    message_id: &str,
    subscription: &str,
) -> Result<SignedPush, SigningError> {
    let publish_time = chrono::DateTime::from_timestamp(claims.iat, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Ok(SignedPush {
        authorization: format!("Bearer {}", signer.id_token(claims)?),
        body: push_body(notification, message_id, subscription, &publish_time),
    })
}

#[cfg(test)]
mod tests {
    use switchyard_shared::payloads::pubsub::PushMessage;

    use super::*;

    const GMAIL_PUSH: &str = include_str!("../../tests/fixtures/pubsub/gmail_push.json");

    fn fixture_notification() -> GmailNotification {
        GmailNotification {
            email_address: "tenant.inbox@example.com".into(),
            history_id: 4_251_009,
        }
    }

    #[test]
    fn push_body_reproduces_the_fixture() {
        let body = push_body(
            &fixture_notification(),
            "17000000000000001",
            "projects/fake-project-123/subscriptions/gmail-push-ingress",
            "2026-01-01T00:20:00.123Z",
        );
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let fixture: serde_json::Value = serde_json::from_str(GMAIL_PUSH).unwrap();
        assert_eq!(body, fixture);
    }

    #[test]
    fn push_requests_parse_as_the_ingress_reads_them() {
        let claims = PushClaims::new(
            "https://aud.example.test/",
            "push@example.test",
            1_767_226_800,
        );
        let push = push_request(
            &GoogleSigner::sandbox(),
            &claims,
            &fixture_notification(),
            "m-1",
            "projects/p/subscriptions/s",
        )
        .unwrap();
        assert!(push.authorization.starts_with("Bearer ey"));
        let parsed = PushMessage::parse(push.body.as_bytes()).unwrap();
        assert_eq!(parsed.dedup_key().as_str(), "pubsub:m-1");
        assert_eq!(parsed.gmail_notification(), Ok(fixture_notification()));
        assert_eq!(
            parsed.publish_time().map(|t| t.timestamp()),
            Some(claims.iat)
        );
    }
}
