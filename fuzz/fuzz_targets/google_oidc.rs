//! The Pub/Sub push `Authorization` token as `POST /webhooks/gmail` checks it, with the
//! committed test-only RSA key standing in for Google's.
//!
//! The input is read twice. Whole, it is the header value: read, then checked against the
//! test key, without a panic. Split into fields, it edits the claims of a token signed here:
//! such a token always reads, never fails its signature check, and with the claims untouched
//! it is accepted exactly within its lifetime plus the leeway.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use switchyard_ingress::verify::google_oidc::{OidcError, PushAuthPolicy, PushToken, parse_jwks};

const TEST_KID: &str = "switchyard-test-only-0001";
const TEST_PEM: &str = include_str!("../../ingress/tests/keys/test_only_google_rsa.pem");
const TEST_JWKS: &[u8] = include_bytes!("../../ingress/tests/keys/test_only_google_jwks.json");
const AUDIENCE: &str = "https://ingress.example.test/webhooks/pubsub/gmail";
const EMAIL: &str = "pubsub-push@fake-project-123.iam.gserviceaccount.com";
const IAT: i64 = 1_767_226_800;
const LIFETIME: i64 = 3600;

struct Keys {
    signing: EncodingKey,
    verifying: DecodingKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let der: String = TEST_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(der).expect("test PEM is base64");
        let verifying = parse_jwks(TEST_JWKS)
            .expect("test JWKS parses")
            .remove(TEST_KID)
            .expect("test JWKS has the test key");
        Keys {
            signing: EncodingKey::from_rsa_der(&der),
            verifying,
        }
    })
}

/// How one claim of the fixture token is changed.
#[derive(Arbitrary, Debug)]
enum Edit {
    Keep,
    Remove,
    Text(String),
    Number(i64),
    Flag(bool),
    List(Vec<String>),
}

#[derive(Arbitrary, Debug)]
struct Claims {
    iss: Edit,
    aud: Edit,
    email: Edit,
    email_verified: Edit,
    exp: Edit,
    iat: Edit,
    /// Seconds from the fixture's `iat` to the verifier's clock.
    now_offset: i32,
    leeway_secs: u16,
}

impl Claims {
    fn untouched(&self) -> bool {
        [
            &self.iss,
            &self.aud,
            &self.email,
            &self.email_verified,
            &self.exp,
            &self.iat,
        ]
        .iter()
        .all(|edit| matches!(edit, Edit::Keep))
    }

    fn json(&self) -> Value {
        let mut claims = json!({
            "aud": AUDIENCE, "azp": "100000000000000000001", "email": EMAIL,
            "email_verified": true, "exp": IAT + LIFETIME, "iat": IAT,
            "iss": "https://accounts.google.com", "sub": "100000000000000000001",
        });
        for (name, edit) in [
            ("iss", &self.iss),
            ("aud", &self.aud),
            ("email", &self.email),
            ("email_verified", &self.email_verified),
            ("exp", &self.exp),
            ("iat", &self.iat),
        ] {
            let value = match edit {
                Edit::Keep => continue,
                Edit::Remove => {
                    claims.as_object_mut().map(|c| c.remove(name));
                    continue;
                }
                Edit::Text(text) => json!(text),
                Edit::Number(n) => json!(n),
                Edit::Flag(b) => json!(b),
                Edit::List(list) => json!(list),
            };
            claims[name] = value;
        }
        claims
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let Ok(claims) = Claims::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let now = DateTime::from_timestamp(IAT + i64::from(claims.now_offset), 0).unwrap_or_default();
    let leeway = i64::from(claims.leeway_secs);
    let policy = PushAuthPolicy::new(AUDIENCE, EMAIL)
        .with_leeway(Duration::from_secs(claims.leeway_secs.into()));

    // The whole input as the header value.
    if let Ok(token) = PushToken::read(Some(data)) {
        let _ = policy.verify_signed(&token, &keys.verifying, now);
    }

    // A token signed here over edited claims.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(TEST_KID.into());
    let signed = jsonwebtoken::encode(&header, &claims.json(), &keys.signing).expect("signs");
    let authorization = format!("Bearer {signed}");
    let token = PushToken::read(Some(authorization.as_bytes())).expect("our own token reads");
    assert_eq!(token.key_id(), TEST_KID);
    let verified = policy.verify_signed(&token, &keys.verifying, now);
    assert_ne!(verified, Err(OidcError::BadSignature));
    if claims.untouched() {
        let offset = i64::from(claims.now_offset);
        let within = offset >= -leeway && offset < LIFETIME + leeway;
        assert_eq!(verified.is_ok(), within, "{verified:?}");
    }
});
