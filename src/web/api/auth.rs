//! What write endpoints check before acting: the bearer token
//! (`server.admin_token`, compared in constant time; it also opens the
//! whole evidence to readers) and a bounded JSON body.

use crate::web::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Largest body a write endpoint reads.
pub const MAX_BODY: usize = 16 * 1024;

/// Proof that the request carried the admin token; take it as an argument
/// of a handler and the handler only runs for the admin.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match bearer(parts, state) {
            Bearer::Admin => Ok(Admin),
            Bearer::Disabled => Err(unauthorized(
                "writes are disabled: set server.admin_token to enable them",
            )),
            Bearer::Missing => Err(unauthorized(
                "missing token: send Authorization: Bearer <server.admin_token>",
            )),
            Bearer::Wrong => Err(unauthorized("wrong token")),
        }
    }
}

/// What a request's `Authorization: Bearer` says about its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer {
    /// It carries `server.admin_token`.
    Admin,
    /// No admin token is configured.
    Disabled,
    /// No bearer token was sent.
    Missing,
    /// Another token was sent.
    Wrong,
}

/// Checks the request's bearer token against `server.admin_token`
/// (compared as digests, see [`crate::secret`]).
pub fn bearer(parts: &Parts, state: &AppState) -> Bearer {
    let config = state.config();
    let Some(expected) = config
        .config
        .server
        .admin_token
        .as_ref()
        .map(|t| t.expose())
        .filter(|t| !t.is_empty())
    else {
        return Bearer::Disabled;
    };
    match bearer_token(&parts.headers) {
        None => Bearer::Missing,
        Some(token) if crate::secret::same(token, expected) => Bearer::Admin,
        Some(_) => Bearer::Wrong,
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(in crate::web) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// A 401 that says how to authenticate.
pub(in crate::web) fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::Unauthorized(message.to_owned()).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Why a write endpoint refused its body.
#[derive(Debug)]
pub enum BodyError {
    /// 413: over the endpoint's limit, in bytes ([`MAX_BODY`] unless it
    /// says otherwise).
    TooLarge(usize),
    /// 400: unreadable, not JSON, or not the expected shape; names the field.
    Invalid(String),
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        match self {
            // ApiError has no 413; the body keeps the same `{"error"}` shape.
            BodyError::TooLarge(limit) => {
                let message = format!("body: larger than {} KiB", limit / 1024);
                let body = axum::Json(serde_json::json!({ "error": message }));
                (StatusCode::PAYLOAD_TOO_LARGE, body).into_response()
            }
            BodyError::Invalid(message) => ApiError::BadRequest(message).into_response(),
        }
    }
}

/// Decodes a JSON body; a syntax or type error names the field it is in
/// (`monitors[1]: invalid type...`). Any content type is accepted, since
/// `curl -d` sends form-encoded by default and the body is JSON anyway.
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, BodyError> {
    json_body_within(body, MAX_BODY)
}

/// [`json_body`] for a route whose body limit is `limit` bytes (set with
/// `DefaultBodyLimit` on the route), which a 413 names.
pub fn json_body_within<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, BodyError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge(limit)
        } else {
            BodyError::Invalid(format!("body: {}", rejection.body_text()))
        }
    })?;
    let mut decoder = serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(&mut decoder).map_err(|err| {
        let path = err.path().to_string();
        // "." is the document itself and "?" a place serde could not name
        // (a syntax error before the first key).
        BodyError::Invalid(if path == "." || path.starts_with('?') {
            format!("body: {}", err.inner())
        } else {
            format!("{path}: {}", err.inner())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        text: String,
        monitors: Option<Vec<String>>,
    }

    async fn error_of(body: &'static str) -> String {
        let response = json_body::<Body>(Ok(Bytes::from_static(body.as_bytes())))
            .expect_err("a bad body is refused")
            .into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json error");
        json["error"].as_str().expect("error text").to_owned()
    }

    #[tokio::test]
    async fn decoding_errors_name_the_field() {
        assert!(
            error_of(r#"{"text": 5}"#)
                .await
                .starts_with("text: invalid type")
        );
        assert!(
            error_of(r#"{"text": "x", "monitors": ["a", 1]}"#)
                .await
                .starts_with("monitors[1]: ")
        );
        assert!(error_of(r#"{}"#).await.contains("missing field `text`"));
        assert!(
            error_of(r#"{"text": "x", "txet": 1}"#)
                .await
                .contains("txet")
        );
        let syntax = error_of("{not json").await;
        assert!(syntax.starts_with("body: "), "{syntax}");
    }
}
