//! [`RequestId`]: the id of each request, taken from the client when usable, otherwise made
//! from the server's random prefix and a counter.

use std::cell::Cell;
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
    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = SERVING.with(|serving| {
            let id = serving.take();
            let copy = id.clone();
            serving.set(id);
            copy
        });
        Ok(RequestId(id.unwrap_or(HeaderValue::from_static(""))))
    }
}

thread_local! {
    /// The id of the request this thread serves now: set around each call and poll of the
    /// request's handler, where its extractors run. A request extension would cost an
    /// allocation and, as axum's fourth, the growth of the extension map, per request.
    static SERVING: Cell<Option<HeaderValue>> = const { Cell::new(None) };
}

/// Makes an id the one of the request this thread serves, until dropped; then hands it back.
/// The id moves by swapping cells: nothing is copied, made or dropped.
pub(super) struct Serving<'a>(&'a Cell<Option<HeaderValue>>);

impl<'a> Serving<'a> {
    /// Moves the id out of `id` (left with whatever this thread served before) until the
    /// guard drops.
    pub(super) fn enter(id: &'a Cell<Option<HeaderValue>>) -> Self {
        SERVING.with(|serving| serving.swap(id));
        Serving(id)
    }
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        SERVING.with(|serving| serving.swap(self.0));
    }
}

/// A request id from a client is used when it is 1 to 128 visible ASCII characters.
fn usable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Makes the ids of one server's requests.
pub(super) struct IdSource {
    /// Random per server, so that ids from different processes differ: the first 16 hex
    /// digits of every id, written once.
    prefix: [u8; 16],
    next: AtomicU64,
}

impl IdSource {
    pub(super) fn new() -> Self {
        IdSource {
            prefix: hex(RandomState::new().build_hasher().finish()),
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
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&self.prefix);
        id[16..].copy_from_slice(&hex(n));
        HeaderValue::from_maybe_shared(Bytes::from_owner(id))
            .expect("hex digits are a valid header value")
    }
}

/// `n` as 16 lowercase hex digits, most significant first.
fn hex(n: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 16];
    for (i, digit) in text.iter_mut().enumerate() {
        *digit = DIGITS[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{IdSource, hex};

    #[test]
    fn ids_are_the_prefix_and_the_counter_in_hex() {
        assert_eq!(&hex(0x0123_4567_89ab_cdef), b"0123456789abcdef");
        assert_eq!(&hex(0), b"0000000000000000");
        let ids = IdSource::new();
        let first = ids.id_for(None);
        let second = ids.id_for(None);
        assert_eq!(first.len(), 32);
        assert_eq!(&first.as_bytes()[..16], &second.as_bytes()[..16]);
        assert_eq!(&first.as_bytes()[16..], b"0000000000000000");
        assert_eq!(&second.as_bytes()[16..], b"0000000000000001");
    }
}
