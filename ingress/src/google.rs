//! The few Google calls connecting a Gmail mailbox makes: exchange the consent `code` at the
//! OAuth token endpoint, read the mailbox's address (`users.getProfile`), and start the
//! mailbox's push notifications (`users.watch` on the configured Pub/Sub topic). Every refusal
//! comes back as [`GoogleError`] with Google's own status and message.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_shared::config::GoogleConfig;
use switchyard_shared::secrets::SecretString;

#[derive(Clone)]
pub struct GoogleOnboarding {
    http: reqwest::Client,
}

/// A refusal from Google (or no usable answer at all).
#[derive(Debug, Clone, thiserror::Error)]
#[error("Google refused ({status}): {message}")]
pub struct GoogleError {
    /// The HTTP status; 0 when there was no answer.
    pub status: u16,
    pub message: String,
}

impl GoogleError {
    fn transport(e: impl std::fmt::Display) -> Self {
        Self {
            status: 0,
            message: format!("no usable answer: {e}"),
        }
    }
}

/// What a consent yields.
#[derive(Debug, Clone)]
pub struct ConsentTokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in_secs: Option<i64>,
}

impl ConsentTokens {
    /// When the access token lapses, counted from `now`; `None` when Google gave no lifetime,
    /// or one that does not fit the calendar.
    pub fn expires_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expires_in_secs
            .and_then(TimeDelta::try_seconds)
            .and_then(|lifetime| now.checked_add_signed(lifetime))
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// `users.watch`'s answer.
#[derive(Debug, Clone)]
pub struct Watch {
    pub history_id: i64,
    /// Unix milliseconds.
    pub expiration_ms: Option<i64>,
}

/// Gmail sends 64-bit ids as strings (and sometimes as numbers).
fn number(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// Google's refusal text: OAuth's `{error, error_description}` or an API `{error: {message}}`.
fn refusal(status: u16, body: &[u8]) -> GoogleError {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = value["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            value["error"]
                .as_str()
                .map(|code| match value["error_description"].as_str() {
                    Some(description) => format!("{code}: {description}"),
                    None => code.to_owned(),
                })
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    GoogleError { status, message }
}

impl GoogleOnboarding {
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self { http }
    }

    async fn read(response: reqwest::Response) -> Result<Value, GoogleError> {
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(GoogleError::transport)?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&body).map_err(GoogleError::transport)
        } else {
            Err(refusal(status, &body))
        }
    }

    /// Exchange the consent `code` for tokens.
    pub async fn exchange_code(
        &self,
        config: &GoogleConfig,
        client_id: &str,
        client_secret: &SecretString,
        redirect_url: &str,
        code: &str,
    ) -> Result<ConsentTokens, GoogleError> {
        let response = self
            .http
            .post(&config.oauth_token_url)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", client_id),
                ("client_secret", client_secret.expose()),
                ("redirect_uri", redirect_url),
            ])
            .send()
            .await
            .map_err(GoogleError::transport)?;
        let answer: TokenAnswer =
            serde_json::from_value(Self::read(response).await?).map_err(GoogleError::transport)?;
        Ok(ConsentTokens {
            access_token: SecretString::new(answer.access_token),
            refresh_token: answer.refresh_token.map(SecretString::new),
            expires_in_secs: answer.expires_in,
        })
    }

    /// The mailbox's address.
    pub async fn address(
        &self,
        config: &GoogleConfig,
        access_token: &SecretString,
    ) -> Result<String, GoogleError> {
        let response = self
            .http
            .get(format!("{}/users/me/profile", config.gmail_api_base))
            .bearer_auth(access_token.expose())
            .send()
            .await
            .map_err(GoogleError::transport)?;
        Self::read(response).await?["emailAddress"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| GoogleError::transport("the profile names no emailAddress"))
    }

    /// Ask Gmail to publish the mailbox's changes (new mail in the INBOX) to `topic`.
    pub async fn watch(
        &self,
        config: &GoogleConfig,
        access_token: &SecretString,
        topic: &str,
    ) -> Result<Watch, GoogleError> {
        let response = self
            .http
            .post(format!("{}/users/me/watch", config.gmail_api_base))
            .bearer_auth(access_token.expose())
            .json(&json!({ "topicName": topic, "labelIds": ["INBOX"], "labelFilterBehavior": "include" }))
            .send()
            .await
            .map_err(GoogleError::transport)?;
        let answer = Self::read(response).await?;
        Ok(Watch {
            history_id: number(&answer["historyId"])
                .ok_or_else(|| GoogleError::transport("watch names no historyId"))?,
            expiration_ms: number(&answer["expiration"]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_googles_words() {
        let oauth = refusal(
            400,
            br#"{"error": "invalid_grant", "error_description": "Bad Request"}"#,
        );
        assert_eq!(
            (oauth.status, oauth.message.as_str()),
            (400, "invalid_grant: Bad Request")
        );
        let api = refusal(403, br#"{"error": {"code": 403, "message": "Insufficient Permission", "status": "PERMISSION_DENIED"}}"#);
        assert_eq!(api.message, "Insufficient Permission");
        assert_eq!(refusal(502, b"<html>").message, "HTTP 502");
    }

    #[test]
    fn token_lifetimes_past_the_calendar_have_no_expiry() {
        // `now + expires_in` used to panic the consent callback on an absurd lifetime.
        let now = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
        let tokens = |expires_in_secs| ConsentTokens {
            access_token: SecretString::new("ya29.x"),
            refresh_token: None,
            expires_in_secs,
        };
        assert_eq!(
            tokens(Some(3599)).expires_at(now),
            Some(now + TimeDelta::seconds(3599))
        );
        for absurd in [
            Some(i64::MAX),
            Some(i64::MIN),
            Some(9_000_000_000_000),
            None,
        ] {
            assert_eq!(tokens(absurd).expires_at(now), None, "{absurd:?}");
        }
    }

    #[test]
    fn ids_come_as_strings_or_numbers() {
        assert_eq!(number(&json!("1234567")), Some(1_234_567));
        assert_eq!(number(&json!(1_234_567)), Some(1_234_567));
        assert_eq!(number(&json!("x")), None);
    }
}
