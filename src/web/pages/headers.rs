//! Security headers for every response of the HTTP surface: a strict
//! Content-Security-Policy (no inline script or style), nosniff, no referrer.

use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::Response;

/// Only our own files may run or style a page; `data:` images are allowed
/// for favicons and badges pasted as data URLs. `frame-ancestors 'none'`
/// keeps other sites from framing the pages (clickjacking).
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                       script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Adds the security headers to a response; meant for
/// `router.layer(axum::middleware::map_response(security_headers))` so that
/// every route and the fallback get them. A handler that set its own value
/// (a badge with a narrower policy, say) keeps it.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed = [
        (CONTENT_SECURITY_POLICY, CSP),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        // For browsers that predate `frame-ancestors`.
        (X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[tokio::test]
    async fn adds_headers_and_keeps_a_handlers_own_policy() {
        let plain = security_headers("hi".into_response()).await;
        assert_eq!(plain.headers()[CONTENT_SECURITY_POLICY], CSP);
        assert!(!CSP.contains("unsafe"), "no unsafe-inline or unsafe-eval");
        assert_eq!(plain.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(plain.headers()[REFERRER_POLICY], "no-referrer");

        let own = ([(CONTENT_SECURITY_POLICY, "default-src 'none'")], "svg").into_response();
        let own = security_headers(own).await;
        assert_eq!(own.headers()[CONTENT_SECURITY_POLICY], "default-src 'none'");
    }
}
