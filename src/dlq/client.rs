//! The admin API's dead-letter and unroutable endpoints, over HTTP, as the CLI calls them.
//!
//! Answers are kept as JSON values: the CLI prints them as they are (`--json`) or picks
//! columns out of them, so it needs no copy of the API's types and shows new fields as soon as
//! the server has them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// What went wrong talking to the API.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    /// The API refused the call; its error body, as given.
    #[error("{status} {code}: {message}{}", fields_text(.fields))]
    Api {
        status: u16,
        code: String,
        message: String,
        fields: BTreeMap<String, String>,
    },
    #[error("cannot reach the admin API: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("replay job {id} failed: {error}")]
    JobFailed { id: String, error: String },
}

fn fields_text(fields: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for (field, reason) in fields {
        let _ = write!(text, "\n  {field}: {reason}");
    }
    text
}

impl DlqError {
    /// The HTTP status of an API refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client of one deployment's admin API, with one credential.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `…/api/v1`
    base: String,
    token: String,
}

/// Query parameters: name and value, absent ones left out.
pub type Query<'a> = Vec<(&'a str, String)>;

impl Client {
    /// `api_url` is the ingress's base URL (`http://127.0.0.1:8080`); `token` a tenant admin's
    /// or platform admin's credential.
    pub fn new(api_url: &str, token: &str) -> Result<Self, DlqError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base: format!("{}/api/v1", api_url.trim_end_matches('/')),
            token: token.to_owned(),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &Query<'_>,
        body: Option<&Value>,
    ) -> Result<Value, DlqError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            Ok(json)
        } else {
            Err(refusal(status, &json))
        }
    }

    pub async fn get(&self, path: &str, query: &Query<'_>) -> Result<Value, DlqError> {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        query: &Query<'_>,
        body: Option<&Value>,
    ) -> Result<Value, DlqError> {
        self.call(Method::POST, path, query, body).await
    }
}

fn refusal(status: StatusCode, body: &Value) -> DlqError {
    let error = &body["error"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    DlqError::Api {
        status: status.as_u16(),
        code: text(&error["code"]).unwrap_or_else(|| "error".into()),
        message: text(&error["message"])
            .or_else(|| text(body))
            .unwrap_or_else(|| status.to_string()),
        fields: error["fields"]
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), text(v).unwrap_or_else(|| v.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_message_and_fields() {
        let body = serde_json::json!({ "error": { "code": "validation_failed",
            "message": "request body is invalid", "fields": { "channel": "must be sms" } } });
        let error = refusal(StatusCode::UNPROCESSABLE_ENTITY, &body);
        assert_eq!(error.status(), Some(422));
        assert_eq!(
            error.to_string(),
            "422 validation_failed: request body is invalid\n  channel: must be sms"
        );
        let plain = refusal(StatusCode::BAD_GATEWAY, &Value::String("upstream".into()));
        assert_eq!(plain.to_string(), "502 error: upstream");
    }
}
