//! [`RequestId`]: the id of each request, taken from the client when usable, otherwise made
//! from the server's random prefix and a counter.

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;

/// The id of the request being served: from the request's id header (`x-request-id` by
/// default) when it has a usable one, otherwise generated. The server echoes it in the
/// response and puts it on the request's span; handlers extract it as an argument.
///
/// ```
/// use tamarco::http::RequestId;
/// use tamarco::http::axum::{Router, routing::get};
///
/// async fn handler(id: RequestId) -> String {
///     format!("your request is {id}")
/// }
///
/// let router: Router = Router::new().route("/", get(handler));
/// # drop(router);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub(super) HeaderValue);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in: see `usable`.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    /// The id the server assigned; outside a tamarco server, an empty id.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or(RequestId(HeaderValue::from_static(""))))
    }
}

/// A request id from a client is used when it is 1 to 128 visible ASCII characters.
fn usable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Makes the ids of one server's requests.
pub(super) struct IdSource {
    /// Random per server, so that ids from different processes differ.
    prefix: u64,
    next: AtomicU64,
}

impl IdSource {
    pub(super) fn new() -> Self {
        IdSource {
            prefix: RandomState::new().build_hasher().finish(),
            next: AtomicU64::new(0),
        }
    }

    /// The client's id when it is usable, otherwise a new one.
    pub(super) fn id_for(&self, given: Option<&HeaderValue>) -> HeaderValue {
        match given {
            Some(value) if usable(value) => value.clone(),
            _ => self.new_id(),
        }
    }

    /// A new request id: the server's random prefix and a counter, 32 hex digits. One
    /// allocation: the value is cloned into the request and the response by reference count
    /// (a header value made from a copied slice would allocate again on its first clone).
    fn new_id(&self) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 32];
        let bytes = self.prefix.to_be_bytes().into_iter().chain(n.to_be_bytes());
        for (pair, byte) in id.chunks_exact_mut(2).zip(bytes) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        HeaderValue::from_maybe_shared(Bytes::from_owner(id))
            .expect("hex digits are a valid header value")
    }
}
