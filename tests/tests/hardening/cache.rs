//! The response cache never serves one user's answer to another, nor one variant's to another.

use super::*;

/// A server with the response cache on, whose `/me` answers a new number every call and whose
/// `/varies` does too, with `vary: accept-encoding`.
async fn cached_server(cache: Value) -> (MicroserviceContext, SocketAddr) {
    let mut cx = context_with("api", json!({"port": 0, "cache": cache}));
    let api = cx.add("api", HttpServer::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let count = move || {
        let calls = Arc::clone(&calls);
        async move { (calls.fetch_add(1, Ordering::SeqCst) + 1).to_string() }
    };
    let varies = count.clone();
    let routes = Router::new().route("/me", get(count)).route(
        "/varies",
        get(move || {
            let body = varies();
            async move { ([("vary", "accept-encoding")], body.await) }
        }),
    );
    api.set_router(routes);
    cx.start().await.unwrap();
    let addr = api.local_addr().unwrap();
    (cx, addr)
}

/// A GET with `headers`; the `x-cache` mark and the body.
async fn cache_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let client = client_builder().pool_max_idle_per_host(0).build().unwrap();
    let mut request = client.get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let mark = response.headers()["x-cache"].to_str().unwrap().to_owned();
    (mark, response.text().await.unwrap())
}

#[tokio::test]
async fn the_cache_never_serves_one_users_answer_to_another() {
    let (mut cx, addr) = cached_server(json!({"enabled": true})).await;
    for (name, alice, bob) in [
        ("authorization", "Bearer alice", "Bearer bob"),
        ("cookie", "session=alice", "session=bob"),
    ] {
        let for_alice = cache_get(addr, "/me", &[(name, alice)]).await;
        let for_bob = cache_get(addr, "/me", &[(name, bob)]).await;
        assert_ne!(
            for_bob.1, for_alice.1,
            "bob got alice's answer through {name}"
        );
        let anonymous = cache_get(addr, "/me", &[]).await;
        assert_ne!(anonymous.1, for_alice.1, "{name}");
    }
    cx.stop().await.unwrap();

    // Keyed on the credentials, each user has entries of their own.
    let (mut cx, addr) =
        cached_server(json!({"enabled": true, "headers": ["authorization"]})).await;
    let alice = cache_get(addr, "/me", &[("authorization", "alice")]).await;
    let bob = cache_get(addr, "/me", &[("authorization", "bob")]).await;
    assert_ne!(alice.1, bob.1);
    let again = cache_get(addr, "/me", &[("authorization", "alice")]).await;
    assert_eq!(again, ("HIT".to_owned(), alice.1));
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_cached_answer_that_varies_goes_only_to_the_same_variant() {
    let (mut cx, addr) = cached_server(json!({"enabled": true})).await;
    let gzip = [("accept-encoding", "gzip")];
    let first = cache_get(addr, "/varies", &gzip).await;
    assert_eq!(
        cache_get(addr, "/varies", &gzip).await,
        ("HIT".to_owned(), first.1.clone())
    );
    let other = cache_get(addr, "/varies", &[("accept-encoding", "br")]).await;
    assert_eq!(other.0, "MISS");
    assert_ne!(other.1, first.1);
    cx.stop().await.unwrap();
}
