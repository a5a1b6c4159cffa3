//! Google's token-signing keys: a JWKS document fetched from `GOOGLE_CERTS_URL` and cached.
//!
//! Google publishes its OIDC signing keys as a JSON Web Key Set,
//! `{"keys": [{"kid", "kty": "RSA", "alg": "RS256", "use": "sig", "n", "e"}]}`, and rotates
//! them every few days; a token names its key by `kid` in its header. The answer carries
//! `Cache-Control: public, max-age=<secs>`, which is how long the set may be used.
//!
//! [`GoogleKeys`] keeps the last set and follows three rules:
//!
//! - the set is fetched on first use and again once its `max-age` has run out;
//! - a `kid` the set does not know triggers a fetch (Google may have rotated keys since);
//! - whatever the reason, fetches are at least [`GoogleKeys::min_refresh_interval`] apart, so
//!   a stream of tokens naming made-up `kid`s cannot turn the ingress into a load generator
//!   against Google. Callers that need a fetch while another is running wait for that one and
//!   use its result: concurrent refreshes share one request.
//!
//! A failed fetch keeps the previous set (keys stay valid long after their rotation), and only
//! when there is no set at all does it surface as [`OidcError::KeysUnavailable`].
//!
//! Only RSA keys for RS256 signatures are kept; any other entry of the set is skipped.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use reqwest::header::CACHE_CONTROL;
use serde::Deserialize;

use super::OidcError;

/// How far apart JWKS fetches are at the least, unless configured otherwise.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// The longest a fetched set is used without asking again, whatever its `max-age` says
/// (Google's is a few hours; its keys rotate every few days). Unbounded, a huge `max-age`
/// would overflow the clock when the set's expiry is computed.
pub const MAX_KEY_SET_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// One fetched key set and when it was fetched.
struct KeySet {
    keys: HashMap<String, DecodingKey>,
    /// When the set may no longer be used without asking again.
    fresh_until: Instant,
}

struct Inner {
    url: String,
    http: reqwest::Client,
    min_refresh_interval: Duration,
    current: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching; the instant of the last attempt, successful or not.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

/// The cached JWKS of one certs URL. Clones share the cache.
#[derive(Clone)]
pub struct GoogleKeys(Arc<Inner>);

impl GoogleKeys {
    /// A cache for the JWKS at `url` (Google's is
    /// [`GOOGLE_CERTS_URL`](super::GOOGLE_CERTS_URL)), fetched with `http`, refreshed at most
    /// once per `min_refresh_interval`. Nothing is fetched until a key is needed.
    pub fn new(
        url: impl Into<String>,
        http: reqwest::Client,
        min_refresh_interval: Duration,
    ) -> Self {
        Self(Arc::new(Inner {
            url: url.into(),
            http,
            min_refresh_interval,
            current: RwLock::new(None),
            last_fetch: tokio::sync::Mutex::new(None),
        }))
    }

    /// The configured refresh rate limit.
    pub fn min_refresh_interval(&self) -> Duration {
        self.0.min_refresh_interval
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        // A poisoned lock only means a writer panicked between two whole-value swaps.
        self.0
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The key named `kid`, fetching the set first if it is stale or does not know `kid`
    /// (subject to the refresh rate limit).
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, OidcError> {
        let seen = self.snapshot();
        if let Some(key) = seen
            .as_ref()
            .filter(|set| set.fresh_until > Instant::now())
            .and_then(|set| set.keys.get(kid))
        {
            return Ok(key.clone());
        }
        let mut last_fetch = self.0.last_fetch.lock().await;
        // Another caller may have fetched while this one waited for the lock.
        let current = self.snapshot();
        let refreshed_meanwhile = match (&seen, &current) {
            (Some(seen), Some(current)) => !Arc::ptr_eq(seen, current),
            (None, current) => current.is_some(),
            (Some(_), None) => false,
        };
        let allowed = last_fetch.is_none_or(|at| at.elapsed() >= self.0.min_refresh_interval);
        let current = if refreshed_meanwhile || !allowed {
            current
        } else {
            *last_fetch = Some(Instant::now());
            match self.fetch().await {
                Ok(set) => {
                    let set = Arc::new(set);
                    *self.0.current.write().unwrap_or_else(|p| p.into_inner()) =
                        Some(Arc::clone(&set));
                    Some(set)
                }
                Err(reason) => {
                    tracing::warn!(url = %self.0.url, %reason, "fetching Google's signing keys failed");
                    current
                }
            }
        };
        let set = current.ok_or(OidcError::KeysUnavailable)?;
        set.keys.get(kid).cloned().ok_or(OidcError::UnknownKey)
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let response = self
            .0
            .http
            .get(&self.0.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?;
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map_or(Duration::ZERO, max_age);
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        let keys = parse_jwks(&body)?;
        Ok(KeySet {
            keys,
            fresh_until: Instant::now() + max_age,
        })
    }
}

/// `max-age` of a `Cache-Control` value, at most [`MAX_KEY_SET_AGE`]; zero when absent,
/// unreadable, or the response may not be reused (`no-cache`, `no-store`).
pub fn max_age(cache_control: &str) -> Duration {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Duration::ZERO;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age.unwrap_or(Duration::ZERO).min(MAX_KEY_SET_AGE)
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The RS256 signing keys of a JWKS document, by `kid`.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, DecodingKey>, String> {
    let jwks: Jwks =
        serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    Ok(jwks
        .keys
        .into_iter()
        .filter(|jwk| jwk.kty == "RSA")
        .filter(|jwk| jwk.alg.as_deref().is_none_or(|alg| alg == "RS256"))
        .filter(|jwk| jwk.usage.as_deref().is_none_or(|usage| usage == "sig"))
        .filter_map(|jwk| {
            let key =
                DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?).ok()?;
            Some((jwk.kid?, key))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=19822, must-revalidate, no-transform"),
            Duration::from_secs(19822)
        );
        assert_eq!(max_age("Max-Age=5"), Duration::from_secs(5));
        assert_eq!(max_age("public"), Duration::ZERO);
        assert_eq!(max_age("max-age=soon"), Duration::ZERO);
        assert_eq!(max_age("max-age=60, no-store"), Duration::ZERO);
    }

    #[test]
    fn a_huge_max_age_is_capped() {
        // Found by the google_jwks fuzz target: `Instant::now() + max_age` used to overflow.
        for huge in [
            "max-age=18446744073709551615",
            "max-age=9223372036854775808",
        ] {
            let age = max_age(huge);
            assert_eq!(age, MAX_KEY_SET_AGE);
            assert!(Instant::now().checked_add(age).is_some());
        }
        assert_eq!(max_age("max-age=86401"), MAX_KEY_SET_AGE);
        assert_eq!(max_age("max-age=86400"), Duration::from_secs(86_400));
    }

    #[test]
    fn only_rsa_signing_keys_are_kept() {
        let test_jwks = include_bytes!("../../../tests/keys/test_only_google_jwks.json");
        let keys = parse_jwks(test_jwks).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains_key(super::super::tests::TEST_KID));
        let mixed = br#"{"keys":[
            {"kid":"ec","kty":"EC","crv":"P-256","x":"AA","y":"AA"},
            {"kid":"enc","kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},
            {"kid":"hs","kty":"RSA","alg":"HS256","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","alg":"RS256","n":"AQAB","e":"AQAB"}
        ]}"#;
        assert!(parse_jwks(mixed).unwrap().is_empty());
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"not json").is_err());
    }
}
