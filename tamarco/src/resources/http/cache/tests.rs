//! Unit tests of the response cache: keys, storable responses, expiry and the size bound.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, HeaderValue};
use tower::ServiceExt;

use super::*;

/// A service that answers the number of calls so far, and whatever headers the path asks.
fn counting(
    calls: Arc<AtomicUsize>,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(move |request: Request<Body>| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let mut response = Response::new(Body::from(n.to_string()));
        if request.uri().path() == "/private" {
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        }
        if request.uri().path() == "/missing" {
            *response.status_mut() = StatusCode::NOT_FOUND;
        }

        std::future::ready(Ok::<_, Infallible>(response))
    })
}

async fn get(
    layer: &ResponseCacheLayer,
    calls: &Arc<AtomicUsize>,
    uri: &str,
    lang: &str,
) -> (String, String) {
    let service = layer.layer(counting(Arc::clone(calls)));
    let request = Request::get(uri)
        .header("accept-language", lang)
        .body(Body::empty())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let x_cache = response
        .headers()
        .get(X_CACHE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (x_cache, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn miss_then_hit_keyed_by_url_and_chosen_headers() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = ResponseCacheLayer::new(Duration::from_secs(60)).key_headers(["accept-language"]);
    assert_eq!(
        get(&layer, &calls, "/a", "en").await,
        ("MISS".into(), "1".into())
    );
    assert_eq!(
        get(&layer, &calls, "/a", "en").await,
        ("HIT".into(), "1".into())
    );
    assert_eq!(
        get(&layer, &calls, "/a", "fr").await,
        ("MISS".into(), "2".into())
    );
    assert_eq!(
        get(&layer, &calls, "/a?x=1", "en").await,
        ("MISS".into(), "3".into())
    );
    assert_eq!(
        get(&layer, &calls, "/a", "fr").await,
        ("HIT".into(), "2".into())
    );
    assert_eq!(layer.len(), 3);
}

#[tokio::test]
async fn private_and_non_200_responses_are_not_stored() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = ResponseCacheLayer::new(Duration::from_secs(60));
    assert_eq!(get(&layer, &calls, "/private", "").await.0, "MISS");
    assert_eq!(get(&layer, &calls, "/private", "").await.0, "MISS");
    assert_eq!(get(&layer, &calls, "/missing", "").await.0, "MISS");
    assert_eq!(get(&layer, &calls, "/missing", "").await.0, "MISS");
    assert!(layer.is_empty());
}

#[tokio::test]
async fn entries_expire_and_the_size_is_bounded() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = ResponseCacheLayer::new(Duration::from_millis(50)).max_entries(2);
    get(&layer, &calls, "/1", "").await;
    get(&layer, &calls, "/2", "").await;
    get(&layer, &calls, "/3", "").await;
    assert_eq!(layer.len(), 2, "the oldest went");
    assert_eq!(get(&layer, &calls, "/1", "").await.0, "MISS");
    assert_eq!(get(&layer, &calls, "/3", "").await.0, "HIT");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(get(&layer, &calls, "/3", "").await.0, "MISS", "expired");
    for i in 0..100 {
        get(&layer, &calls, &format!("/many/{i}"), "").await;
    }
    assert_eq!(layer.len(), 2);
    assert!(layer.cache.store.lock().unwrap().order.len() <= 4 + 1);
}
