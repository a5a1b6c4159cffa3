//! The few Meta Graph API calls onboarding makes: exchange an embedded-signup code, inspect
//! the token's granted WABAs, list a WABA's numbers, subscribe our app to its webhooks.
//! Every Graph error comes back as [`GraphError`] with Meta's own code and message.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

#[derive(Clone)]
pub struct MetaGraph {
    http: reqwest::Client,
    base: String,
}

/// A refusal from Meta (or no usable answer at all).
#[derive(Debug, Clone, thiserror::Error)]
#[error("Meta Graph API error {code}: {message}")]
pub struct GraphError {
    pub code: i64,
    pub message: String,
}

impl GraphError {
    fn transport(e: impl std::fmt::Display) -> Self {
        Self {
            code: 0,
            message: format!("no usable answer: {e}"),
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

/// A number of a WABA.
#[derive(Debug, Clone, Deserialize)]
pub struct PhoneNumber {
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
}

impl MetaGraph {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    async fn read(
        response: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Value, GraphError> {
        let response = response.map_err(GraphError::transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(GraphError::transport)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(GraphError::transport);
        }
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => GraphError {
                code: body.error.code,
                message: body.error.message,
            },
            Err(_) => GraphError {
                code: i64::from(status.as_u16()),
                message: format!("HTTP {status}"),
            },
        })
    }

    /// `GET /oauth/access_token`: the business token for an embedded-signup code.
    pub async fn exchange_code(
        &self,
        app_id: &str,
        app_secret: &str,
        code: &str,
    ) -> Result<String, GraphError> {
        let response = self
            .http
            .get(format!("{}/oauth/access_token", self.base))
            .query(&[
                ("client_id", app_id),
                ("client_secret", app_secret),
                ("code", code),
            ])
            .send()
            .await;
        let body = Self::read(response).await?;
        body.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GraphError::transport("no access_token in the answer"))
    }

    /// `GET /debug_token`: the WABAs the token may manage, newest first. Refuses tokens that
    /// are invalid or were issued to another app.
    pub async fn granted_wabas(
        &self,
        app_id: &str,
        app_secret: &str,
        token: &str,
    ) -> Result<Vec<String>, GraphError> {
        let app_token = format!("{app_id}|{app_secret}");
        let response = self
            .http
            .get(format!("{}/debug_token", self.base))
            .query(&[("input_token", token), ("access_token", app_token.as_str())])
            .send()
            .await;
        let body = Self::read(response).await?;
        let data = body.get("data").cloned().unwrap_or(Value::Null);
        if data.get("is_valid") != Some(&Value::Bool(true))
            || data.get("app_id").and_then(Value::as_str) != Some(app_id)
        {
            return Err(GraphError {
                code: 190,
                message: "the token is not valid for this app".into(),
            });
        }
        let wabas = data
            .get("granular_scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|s| {
                s.get("scope").and_then(Value::as_str) == Some("whatsapp_business_management")
            })
            .flat_map(|s| {
                s.get("target_ids")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect();
        Ok(wabas)
    }

    /// `GET /{waba_id}/phone_numbers`
    pub async fn phone_numbers(
        &self,
        waba_id: &str,
        token: &str,
    ) -> Result<Vec<PhoneNumber>, GraphError> {
        let response = self
            .http
            .get(format!("{}/{waba_id}/phone_numbers", self.base))
            .bearer_auth(token)
            .send()
            .await;
        let body = Self::read(response).await?;
        serde_json::from_value(
            body.get("data")
                .cloned()
                .unwrap_or(Value::Array(Vec::new())),
        )
        .map_err(GraphError::transport)
    }

    /// `POST /{waba_id}/subscribed_apps`: without it no webhooks arrive for the WABA.
    pub async fn subscribe_app(&self, waba_id: &str, token: &str) -> Result<(), GraphError> {
        let response = self
            .http
            .post(format!("{}/{waba_id}/subscribed_apps", self.base))
            .bearer_auth(token)
            .send()
            .await;
        let body = Self::read(response).await?;
        if body.get("success") == Some(&Value::Bool(true)) {
            Ok(())
        } else {
            Err(GraphError::transport("subscription not confirmed"))
        }
    }
}
