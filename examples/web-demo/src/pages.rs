//! Pages: the security headers on every response, and a page wrapped in the shared
//! layout with the visitor's session cookie.

use super::*;

fn security_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

pub(super) async fn headers_mw(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    security_headers(&mut res);
    res
}

pub(super) fn page(app: &App, headers: &HeaderMap, html: String) -> Response {
    match app.ensure_session(headers) {
        Ok((_, set)) => {
            let mut res =
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
            if let Some(c) = set
                && let Ok(v) = HeaderValue::from_str(&c)
            {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => e.into_response(),
    }
}

/// A whole page: `static/layout.html` (the head every page shares) around `static/<name>.html`,
/// whose first line is the page's `<title>` and the rest its body.
pub(super) fn layout(name: &str, file: &str) -> String {
    let (title, body) = file.split_once('\n').unwrap_or((file, ""));
    include_str!("../static/layout.html")
        .replacen("{title}", title, 1)
        .replacen("{page}", name, 1)
        .replacen("{body}\n", body, 1)
}
