//! Request extractors that answer in our error shape instead of axum's plain-text rejections:
//! [`JsonBody`] (415 without a JSON content type, 413 over the body limit, 400 for unparsable
//! JSON, 422 with the field for JSON of the wrong shape, or for a body that is not an object) and [`QueryParams`] (422 for a query
//! string that does not fit).
//!
//! Both refuse the NUL character (`\u0000`, `%00`) with a 422: PostgreSQL cannot store it in
//! text or `jsonb`, and no legitimate name, number or token contains it.
//!
//! Path parameters are taken as text and parsed by the handler, because an id that does not
//! parse cannot name a row: that is a 404, not a 400.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if json != Some(true) {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        if contains_escaped_nul(&bytes) {
            return Err(ApiError::field(
                "body",
                "text must not contain the NUL character (\\u0000)",
            ));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        // serde reads a struct from an array of its fields too (`[[]]` for `{"sections": []}`);
        // every body of this API is an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::field("body", "must be a JSON object"));
        }
        Ok(Self(value))
    }
}

pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(ApiError::field(
                "query",
                "must not contain the NUL character (%00)",
            ));
        }
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e: QueryRejection| ApiError::field("query", e.body_text()))?;
        Ok(Self(value))
    }
}

/// Whether JSON text holds the escape `\u0000` (a backslash escape, not an escaped backslash
/// followed by `u0000`). A raw NUL byte is not valid JSON and is refused by the parser.
fn contains_escaped_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000"
            && json[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
}

#[cfg(test)]
mod tests {
    use super::contains_escaped_nul;

    #[test]
    fn finds_nul_escapes_only() {
        assert!(contains_escaped_nul(br#"{"name": "a\u0000b"}"#));
        assert!(contains_escaped_nul(br#"{"\u0000": 1}"#));
        assert!(contains_escaped_nul(br#"["\\\u0000"]"#));
        assert!(!contains_escaped_nul(br#"{"name": "a\\u0000b"}"#));
        assert!(contains_escaped_nul(br#"{"name": "\u00001"}"#));
        assert!(!contains_escaped_nul(br#"{"name": "u0000"}"#));
        assert!(!contains_escaped_nul(br#"{"name": "\u0001"}"#));
    }
}
