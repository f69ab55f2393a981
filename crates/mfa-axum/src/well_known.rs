//! The WebAuthn related-origins document (WebAuthn L3 §5.11), served where browsers
//! fetch it: `GET https://{rp id}/.well-known/webauthn`, `application/json`.
//!
//! The document comes from the relying party's configuration
//! (`mfa_webauthn::RelyingParty::related_origins`, already validated when the relying
//! party was built: https only, at most five registrable-domain labels), so what the
//! browser reads and what the server accepts are one list.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

/// The path browsers fetch the document from.
pub const WELL_KNOWN_WEBAUTHN: &str = "/.well-known/webauthn";

/// A router answering `GET /.well-known/webauthn` with `document_json` (for example
/// `rp.related_origins().map(|d| d.to_json())`) as `application/json`. Merge it into
/// the app served on the rp id's host.
///
/// ```
/// # use axum::Router;
/// let app: Router = Router::new().merge(mfa_axum::related_origins_router(
///     r#"{"origins":["https://example.co.uk"]}"#,
/// ));
/// ```
pub fn related_origins_router<S: Clone + Send + Sync + 'static>(
    document_json: impl Into<String>,
) -> Router<S> {
    let body: String = document_json.into();
    Router::new().route(
        WELL_KNOWN_WEBAUTHN,
        get(move || {
            let body = body.clone();
            async move {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        ),
                        // Browsers may cache it; a day keeps a changed list timely.
                        (
                            header::CACHE_CONTROL,
                            HeaderValue::from_static("public, max-age=86400"),
                        ),
                    ],
                    body,
                )
                    .into_response()
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use mfa_webauthn::{OriginScope, RelyingParty};
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn serves_the_relying_partys_document() {
        let rp = RelyingParty::builder("example.com", "Example")
            .origin("https://example.com")
            .related_origin("https://example.co.uk", OriginScope::All)
            .related_origin("https://example.de", OriginScope::Authentication)
            .build()
            .unwrap();
        let doc = rp.related_origins().unwrap();
        let app: Router = related_origins_router(doc.to_json());
        let res = app
            .clone()
            .oneshot(
                Request::get(WELL_KNOWN_WEBAUTHN)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let served: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            served,
            serde_json::json!({"origins": ["https://example.co.uk", "https://example.de"]})
        );
        // Only GET on that path.
        let res = app
            .oneshot(
                Request::get("/.well-known/other")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
