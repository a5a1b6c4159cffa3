//! Refreshing a mailbox's OAuth access token at Google's token endpoint
//! (`GOOGLE_OAUTH_TOKEN_URL`, default [`DEFAULT_TOKEN_URL`]).
//!
//! Gmail access tokens live about an hour; the refresh token stored at consent time buys new
//! ones: `POST` a form `grant_type=refresh_token, refresh_token, client_id, client_secret` and
//! read `{access_token, expires_in, token_type, scope?, refresh_token?}`. Google normally keeps
//! the refresh token, but may hand out a new one, which the caller then stores instead.
//!
//! Refusals are OAuth 2.0 errors, `{"error": "<code>", "error_description": "…"}`:
//!
//! - `invalid_grant` → [`OAuthError::Revoked`]: the user revoked access, changed the password,
//!   or the refresh token expired. Nothing but a new consent helps, so the channel is marked as
//!   needing one and the error is **never retried**.
//! - 429 and 5xx, and a request that got no answer → [`OAuthError::Transient`].
//! - anything else (`invalid_client`, `unauthorized_client`, …) → [`OAuthError::Permanent`]:
//!   the app's own configuration is wrong.
//!
//! [`interpret_token`] reads an answer and is pure, so it is tested on the documented shapes.
//! Secrets travel as [`SecretString`], which never prints its value.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use switchyard_shared::secrets::SecretString;

use crate::senders::Answer;

/// Google's token endpoint, when `GOOGLE_OAUTH_TOKEN_URL` is not set.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// A token this close to its expiry is refreshed before use, so it does not lapse in flight.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// A fresh access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub access_token: SecretString,
    pub expires_at: DateTime<Utc>,
    /// A new refresh token, when Google rotated it; store it in place of the old one.
    pub refresh_token: Option<SecretString>,
}

impl AccessToken {
    /// Whether the token can still be used at `now` (with a minute to spare).
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        now + EXPIRY_MARGIN < self.expires_at
    }
}

/// Why no access token came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The refresh token no longer works: the mailbox needs a new consent.
    #[error("refresh token revoked or expired: {0}")]
    Revoked(String),
    /// Try again later.
    #[error("transient: {0}")]
    Transient(String),
    /// The OAuth client is misconfigured or the answer makes no sense.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// The app's OAuth client, as registered with Google.
#[derive(Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl OAuthClient {
    pub fn new(
        http: reqwest::Client,
        token_url: &str,
        client_id: &str,
        client_secret: SecretString,
    ) -> Self {
        Self {
            http,
            token_url: token_url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
        }
    }

    /// Trade `refresh_token` for a new access token.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<AccessToken, OAuthError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token.expose())
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .finish();
        let response = self
            .http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| OAuthError::Transient(format!("token endpoint: {e}")))?;
        let answer = Answer::read(response).await;
        let body = answer
            .body
            .map_err(|e| OAuthError::Transient(format!("token response body: {e}")))?;
        interpret_token(answer.status, &body, Utc::now())
    }
}

/// Read the token endpoint's answer; `now` is when it arrived, to turn `expires_in` into an
/// instant.
pub fn interpret_token(
    status: StatusCode,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<AccessToken, OAuthError> {
    if status.is_success() {
        let token: TokenResponse = serde_json::from_slice(body)
            .map_err(|e| OAuthError::Permanent(format!("unreadable token response: {e}")))?;
        if token.access_token.is_empty() {
            return Err(OAuthError::Permanent("empty access token".into()));
        }
        // An `expires_in` past the end of the calendar is refused, not added (which panics).
        let expires_at = TimeDelta::from_std(Duration::from_secs(token.expires_in))
            .ok()
            .and_then(|lifetime| now.checked_add_signed(lifetime))
            .ok_or_else(|| OAuthError::Permanent("expires_in out of range".into()))?;
        return Ok(AccessToken {
            access_token: SecretString::new(token.access_token),
            expires_at,
            refresh_token: token
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(SecretString::new),
        });
    }
    let error = serde_json::from_slice::<ErrorResponse>(body).ok();
    let described = match &error {
        Some(ErrorResponse {
            error,
            error_description: Some(description),
        }) => format!("HTTP {status}, {error}: {description}"),
        Some(ErrorResponse { error, .. }) => format!("HTTP {status}, {error}"),
        None => format!("HTTP {status}"),
    };
    Err(match error {
        Some(e) if e.error == "invalid_grant" => OAuthError::Revoked(described),
        _ if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
            OAuthError::Transient(described)
        }
        _ => OAuthError::Permanent(described),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    fn read(status: u16, body: &str) -> Result<AccessToken, OAuthError> {
        interpret_token(
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
            now(),
        )
    }

    #[test]
    fn reads_a_refreshed_token() {
        let token = read(
            200,
            r#"{"access_token": "ya29.a0AfH6SM", "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/gmail.modify",
                "token_type": "Bearer"}"#,
        )
        .unwrap();
        assert_eq!(token.access_token.expose(), "ya29.a0AfH6SM");
        assert_eq!(token.expires_at, now() + TimeDelta::seconds(3599));
        assert_eq!(token.refresh_token, None);
        assert!(token.is_fresh(now()));
        assert!(!token.is_fresh(now() + TimeDelta::seconds(3540)));
        // The secret never shows in debug output.
        assert!(!format!("{token:?}").contains("ya29"));
    }

    #[test]
    fn a_rotated_refresh_token_is_returned() {
        let token = read(
            200,
            r#"{"access_token": "a", "expires_in": 3600, "refresh_token": "1//new"}"#,
        )
        .unwrap();
        assert_eq!(
            token
                .refresh_token
                .map(|t| t.expose().to_owned())
                .as_deref(),
            Some("1//new")
        );
    }

    #[test]
    fn invalid_grant_means_revoked() {
        assert_eq!(
            read(
                400,
                r#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#
            ),
            Err(OAuthError::Revoked(
                "HTTP 400 Bad Request, invalid_grant: Token has been expired or revoked.".into()
            ))
        );
    }

    #[test]
    fn client_misconfiguration_is_permanent() {
        assert_eq!(
            read(
                401,
                r#"{"error": "invalid_client", "error_description": "Unauthorized"}"#
            ),
            Err(OAuthError::Permanent(
                "HTTP 401 Unauthorized, invalid_client: Unauthorized".into()
            ))
        );
        assert_eq!(
            read(400, r#"{"error": "unsupported_grant_type"}"#),
            Err(OAuthError::Permanent(
                "HTTP 400 Bad Request, unsupported_grant_type".into()
            ))
        );
        for nonsense in [
            r#"{"expires_in": 3600}"#,
            r#"{"access_token": "", "expires_in": 1}"#,
            "<html>",
        ] {
            assert!(
                matches!(read(200, nonsense), Err(OAuthError::Permanent(_))),
                "{nonsense}"
            );
        }
    }

    #[test]
    fn an_expiry_past_the_calendar_is_refused() {
        // Found by the google_oauth_token fuzz target: `now + expires_in` used to overflow and
        // panic the worker refreshing the mailbox's token.
        for expires_in in [
            "9000000000000",
            "9223372036854775807",
            "18446744073709551615",
        ] {
            let body = format!(r#"{{"access_token": "ya29.x", "expires_in": {expires_in}}}"#);
            assert_eq!(
                read(200, &body),
                Err(OAuthError::Permanent("expires_in out of range".into())),
                "{expires_in}"
            );
        }
    }

    #[test]
    fn overload_is_transient() {
        for (status, body) in [
            (500, ""),
            (503, "<html>"),
            (429, r#"{"error": "rate_limit_exceeded"}"#),
        ] {
            assert!(
                matches!(read(status, body), Err(OAuthError::Transient(_))),
                "{status}"
            );
        }
    }

    #[tokio::test]
    async fn refresh_posts_the_documented_form() {
        let (base, request) = super::super::fake_server::serve_once(
            200,
            "",
            r#"{"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"}"#,
        )
        .await;
        let client = OAuthClient::new(
            reqwest::Client::new(),
            &format!("{base}/token"),
            "client-1.apps.googleusercontent.com",
            SecretString::new("s3cr&t"),
        );
        let before = Utc::now();
        let token = client
            .refresh(&SecretString::new("1//refresh"))
            .await
            .unwrap();
        assert_eq!(token.access_token.expose(), "ya29.new");
        assert!(token.expires_at >= before + TimeDelta::seconds(3599));
        let request = request.await.unwrap();
        assert_eq!(request.request_line, "POST /token HTTP/1.1");
        assert!(
            request
                .headers
                .contains("content-type: application/x-www-form-urlencoded")
        );
        assert_eq!(
            request.body,
            "grant_type=refresh_token&refresh_token=1%2F%2Frefresh\
             &client_id=client-1.apps.googleusercontent.com&client_secret=s3cr%26t"
        );
    }

    #[tokio::test]
    async fn a_revoked_grant_is_reported_over_the_wire() {
        let (base, _request) = super::super::fake_server::serve_once(
            400,
            "",
            r#"{"error": "invalid_grant", "error_description": "Bad Request"}"#,
        )
        .await;
        let client = OAuthClient::new(reqwest::Client::new(), &base, "id", SecretString::new("s"));
        assert!(matches!(
            client.refresh(&SecretString::new("r")).await,
            Err(OAuthError::Revoked(_))
        ));
    }
}
