//! `GET /`: the dashboard, one self-contained page (no external assets) that reads the other
//! endpoints every 2 s. The page keeps the short history of its charts itself; the server
//! keeps none.

use axum::http::header;
use axum::response::IntoResponse;

/// The page, embedded at build time.
const PAGE: &str = include_str!("dashboard.html");

/// `GET /`.
pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
}
