//! Push token verification against tokens signed with the committed test-only RSA key, and the
//! key cache against a local JWKS server that counts its fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

/// The `kid` of the committed test-only key (`ingress/tests/keys/`).
pub(super) const TEST_KID: &str = "switchyard-test-only-0001";
const TEST_PEM: &str = include_str!("../../../tests/keys/test_only_google_rsa.pem");
const TEST_JWKS: &str = include_str!("../../../tests/keys/test_only_google_jwks.json");
const CLAIMS_FIXTURE: &str =
    include_str!("../../../../tests/fixtures/pubsub/oidc_token_claims.json");
const AUDIENCE: &str = "https://ingress.example.test/webhooks/pubsub/gmail";
const EMAIL: &str = "pubsub-push@fake-project-123.iam.gserviceaccount.com";
/// The fixture's `iat`.
const IAT: i64 = 1_767_226_800;

fn fixture_claims() -> Value {
    let fixture: Value = serde_json::from_str(CLAIMS_FIXTURE).unwrap();
    fixture["claims"].clone()
}

fn test_key() -> EncodingKey {
    let body: String = TEST_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    EncodingKey::from_rsa_der(&STANDARD.decode(body).unwrap())
}

fn sign_with(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &test_key()).unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(TEST_KID, claims)
}

fn with(field: &str, value: Value) -> Value {
    let mut claims = fixture_claims();
    claims[field] = value;
    claims
}

fn at(offset: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(IAT + offset, 0).unwrap()
}

fn policy() -> PushAuthPolicy {
    PushAuthPolicy::new(AUDIENCE, EMAIL)
}

/// A local JWKS endpoint serving `jwks` with `cache_control`, counting requests.
#[derive(Clone)]
struct JwksServer {
    jwks: Arc<Mutex<String>>,
    cache_control: &'static str,
    fetches: Arc<AtomicUsize>,
    url: String,
}

impl JwksServer {
    async fn start(jwks: &str, cache_control: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/certs", listener.local_addr().unwrap());
        let server = Self {
            jwks: Arc::new(Mutex::new(jwks.into())),
            cache_control,
            fetches: Arc::default(),
            url,
        };
        let app = Router::new()
            .route("/certs", get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    fn keys(&self, min_refresh_interval: Duration) -> GoogleKeys {
        GoogleKeys::new(&self.url, reqwest::Client::new(), min_refresh_interval)
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, jwks: &str) {
        *self.jwks.lock().unwrap() = jwks.into();
    }
}

async fn serve_jwks(State(server): State<JwksServer>) -> impl IntoResponse {
    server.fetches.fetch_add(1, Ordering::SeqCst);
    let body = server.jwks.lock().unwrap().clone();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, server.cache_control),
        ],
        body,
    )
}

const CACHED: &str = "public, max-age=3600, must-revalidate, no-transform";
const LONG: Duration = Duration::from_secs(3600);

async fn check(token: &str, now: DateTime<Utc>) -> Result<VerifiedPush, OidcError> {
    let server = JwksServer::start(TEST_JWKS, CACHED).await;
    let header = format!("Bearer {token}");
    policy()
        .verify(&server.keys(LONG), Some(header.as_bytes()), now)
        .await
}

#[tokio::test]
async fn the_fixture_claims_verify() {
    let verified = check(&sign(&fixture_claims()), at(10)).await.unwrap();
    assert_eq!(
        verified,
        VerifiedPush {
            email: EMAIL.into(),
            subject: Some("100000000000000000001".into()),
            issued_at: at(0),
            expires_at: at(3600),
        }
    );
    // The bare issuer form is Google's too.
    let bare = with("iss", json!("accounts.google.com"));
    assert!(check(&sign(&bare), at(10)).await.is_ok());
}

#[tokio::test]
async fn claims_must_match_the_policy() {
    let cases = [
        (
            with("aud", json!("https://other.example.test/")),
            OidcError::WrongAudience,
        ),
        (
            with("iss", json!("https://evil.example.test")),
            OidcError::WrongIssuer,
        ),
        (
            with("email", json!("someone@example.com")),
            OidcError::WrongEmail,
        ),
        (
            with("email_verified", json!(false)),
            OidcError::EmailNotVerified,
        ),
        (
            with("email_verified", json!("false")),
            OidcError::EmailNotVerified,
        ),
        (
            with("email_verified", Value::Null),
            OidcError::EmailNotVerified,
        ),
        (with("exp", Value::Null), OidcError::MissingClaim("exp")),
        (with("aud", Value::Null), OidcError::MissingClaim("aud")),
    ];
    for (claims, expected) in cases {
        assert_eq!(
            check(&sign(&claims), at(10)).await,
            Err(expected),
            "{claims}"
        );
    }
}

#[tokio::test]
async fn exp_and_iat_allow_the_leeway_and_no_more() {
    let token = sign(&fixture_claims());
    // `exp` is iat + 3600; 60 s of leeway either way.
    assert!(check(&token, at(3600 + 59)).await.is_ok());
    assert_eq!(check(&token, at(3600 + 60)).await, Err(OidcError::Expired));
    assert!(check(&token, at(-60)).await.is_ok());
    assert_eq!(check(&token, at(-61)).await, Err(OidcError::IssuedInFuture));
}

#[tokio::test]
async fn signatures_are_checked() {
    let token = sign(&fixture_claims());
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let bad_signature = format!("{rest}.{flipped}{}", &signature[1..]);
    assert_eq!(
        check(&bad_signature, at(10)).await,
        Err(OidcError::BadSignature)
    );
    // Claims from another token under this token's signature.
    let other = sign(&with("email", json!("someone@example.com")));
    let (header, _) = token.split_once('.').unwrap();
    let other_claims = other.split('.').nth(1).unwrap();
    let spliced = format!("{header}.{other_claims}.{signature}");
    assert_eq!(check(&spliced, at(10)).await, Err(OidcError::BadSignature));
}

#[tokio::test]
async fn only_rs256_is_accepted() {
    let claims = fixture_claims();
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some(TEST_KID.into());
    // An HMAC token keyed with public material, the classic algorithm-confusion forgery.
    let forged = jsonwebtoken::encode(
        &hs256,
        &claims,
        &EncodingKey::from_secret(TEST_JWKS.as_bytes()),
    );
    assert_eq!(
        check(&forged.unwrap(), at(10)).await,
        Err(OidcError::UnsupportedAlgorithm)
    );
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "kid": TEST_KID})),
        encode(&claims)
    );
    assert_eq!(
        check(&none, at(10)).await,
        Err(OidcError::UnsupportedAlgorithm)
    );
    let no_kid = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &test_key());
    assert_eq!(
        check(&no_kid.unwrap(), at(10)).await,
        Err(OidcError::MissingKeyId)
    );
}

#[tokio::test]
async fn the_header_must_be_a_bearer_token() {
    let server = JwksServer::start(TEST_JWKS, CACHED).await;
    let keys = server.keys(LONG);
    let verify = |header: Option<&'static [u8]>| {
        let keys = keys.clone();
        async move { policy().verify(&keys, header, at(10)).await }
    };
    assert_eq!(verify(None).await, Err(OidcError::MissingHeader));
    for not_bearer in [
        &b"Basic dXNlcjpwYXNz"[..],
        b"Bearer",
        b"token-only",
        b"\xff\xfe",
    ] {
        assert_eq!(verify(Some(not_bearer)).await, Err(OidcError::NotBearer));
    }
    for malformed in [&b"Bearer "[..], b"Bearer not-a-jwt", b"Bearer e30"] {
        assert_eq!(verify(Some(malformed)).await, Err(OidcError::Malformed));
    }
    // Nothing was worth fetching keys for.
    assert_eq!(server.fetches(), 0);
    // The error text never repeats the token.
    assert_eq!(
        OidcError::BadSignature.to_string(),
        "token signature does not match"
    );
}

#[tokio::test]
async fn keys_are_cached_per_max_age() {
    let header = format!("Bearer {}", sign(&fixture_claims()));
    // (Cache-Control, fetches for three verifications)
    for (cache_control, expected) in [(CACHED, 1), ("no-cache", 3)] {
        let server = JwksServer::start(TEST_JWKS, cache_control).await;
        let (keys, policy) = (server.keys(Duration::ZERO), policy());
        for _ in 0..3 {
            let verified = policy.verify(&keys, Some(header.as_bytes()), at(10));
            assert!(verified.await.is_ok());
        }
        assert_eq!(server.fetches(), expected, "{cache_control}");
    }
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_at_most_once_per_interval() {
    let server = JwksServer::start(r#"{"keys":[]}"#, CACHED).await;
    let keys = server.keys(Duration::from_millis(300));
    let header = format!("Bearer {}", sign(&fixture_claims()));
    let policy = policy();
    let verify = || policy.verify(&keys, Some(header.as_bytes()), at(10));
    assert_eq!(verify().await, Err(OidcError::UnknownKey));
    assert_eq!(server.fetches(), 1);
    // Google rotates in the new key; the next fetch is not due yet.
    server.publish(TEST_JWKS);
    assert_eq!(verify().await, Err(OidcError::UnknownKey));
    assert_eq!(verify().await, Err(OidcError::UnknownKey));
    assert_eq!(server.fetches(), 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(verify().await.is_ok());
    assert_eq!(server.fetches(), 2);
    // A made-up kid: one refresh once the interval has passed, and then still unknown.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let made_up = format!("Bearer {}", sign_with("made-up", &fixture_claims()));
    let made_up = || policy.verify(&keys, Some(made_up.as_bytes()), at(10));
    assert_eq!(made_up().await, Err(OidcError::UnknownKey));
    assert_eq!(made_up().await, Err(OidcError::UnknownKey));
    assert_eq!(server.fetches(), 3);
    // The known key still verifies from the cache.
    assert!(verify().await.is_ok());
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let server = JwksServer::start(TEST_JWKS, CACHED).await;
    let keys = server.keys(Duration::ZERO);
    let header = format!("Bearer {}", sign(&fixture_claims()));
    let calls = (0..8).map(|_| {
        let (keys, header) = (keys.clone(), header.clone());
        tokio::spawn(async move {
            policy()
                .verify(&keys, Some(header.as_bytes()), at(10))
                .await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        assert!(call.await.unwrap().is_ok());
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn unreachable_keys_are_transient_and_stale_keys_are_kept() {
    let header = format!("Bearer {}", sign(&fixture_claims()));
    let nowhere = GoogleKeys::new("http://127.0.0.1:9/certs", reqwest::Client::new(), LONG);
    let refused = policy()
        .verify(&nowhere, Some(header.as_bytes()), at(10))
        .await;
    assert_eq!(refused, Err(OidcError::KeysUnavailable));
    assert!(OidcError::KeysUnavailable.is_transient());
    assert!(!OidcError::Expired.is_transient());

    // Keys fetched once stay in use while the endpoint fails.
    let server = JwksServer::start(TEST_JWKS, "max-age=0").await;
    let keys = server.keys(Duration::ZERO);
    assert!(
        policy()
            .verify(&keys, Some(header.as_bytes()), at(10))
            .await
            .is_ok()
    );
    server.publish("not json");
    assert!(
        policy()
            .verify(&keys, Some(header.as_bytes()), at(10))
            .await
            .is_ok()
    );
    assert_eq!(server.fetches(), 2);
}
