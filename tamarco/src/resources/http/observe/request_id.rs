//! [`RequestId`]: the id of each request, taken from the client when usable, otherwise made
//! from the server's random prefix and a counter.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

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
    /// The id of the request this thread serves now: set around each poll of the
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

/// The request id a client sent in `header`, if any. A request has a few headers: they are
/// compared by name one after the other (a custom name against a standard one is a tag
/// check), where a lookup would hash the name first; a request with many goes by lookup.
pub(super) fn given<'a>(headers: &'a HeaderMap, header: &HeaderName) -> Option<&'a HeaderValue> {
    match headers.len() <= SCANNED_HEADERS {
        true => headers
            .iter()
            .find_map(|(name, value)| (name == header).then_some(value)),
        false => headers.get(header),
    }
}

/// Up to how many headers [`given`] compares names rather than looking one up.
const SCANNED_HEADERS: usize = 8;

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
    /// This source among all, for the blocks of ids threads keep (see [`BLOCK`]).
    key: u64,
}

/// The length of a generated id: 32 hex digits.
const ID_LEN: usize = 32;
/// How many ids a thread takes from its server's counter at once.
const IDS_PER_BLOCK: usize = 32;

/// Ids written in advance by one thread, each a slice of one buffer.
struct Block {
    /// The [`IdSource::key`] of their server.
    source: u64,
    ids: Bytes,
    /// The next one to hand out; [`IDS_PER_BLOCK`] when all are.
    next: usize,
}

thread_local! {
    /// The ids this thread hands out next: one allocation per block, not per id (the slices
    /// share the buffer by reference count).
    static BLOCK: RefCell<Block> = const {
        RefCell::new(Block { source: u64::MAX, ids: Bytes::new(), next: IDS_PER_BLOCK })
    };
}

impl IdSource {
    pub(super) fn new() -> Self {
        static SOURCES: AtomicU64 = AtomicU64::new(0);
        IdSource {
            prefix: hex(RandomState::new().build_hasher().finish()),
            next: AtomicU64::new(0),
            key: SOURCES.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The client's id when it is usable, otherwise a new one.
    pub(super) fn id_for(&self, given: Option<&HeaderValue>) -> HeaderValue {
        match given {
            Some(value) if usable(value) => value.clone(),
            _ => self.new_id(),
        }
    }

    /// A new request id: the server's random prefix and a counter, 32 hex digits, from this
    /// thread's block (ids are unique, and in order within a thread's block, not across
    /// threads). It is cloned into the request and the response by reference count.
    fn new_id(&self) -> HeaderValue {
        BLOCK.with(|block| {
            let mut block = block.borrow_mut();
            if block.source != self.key || block.next == IDS_PER_BLOCK {
                *block = self.block();
            }
            let at = block.next * ID_LEN;
            block.next += 1;
            HeaderValue::from_maybe_shared(block.ids.slice(at..at + ID_LEN))
                .expect("hex digits are a valid header value")
        })
    }

    /// The next [`IDS_PER_BLOCK`] ids of the counter. The counter only moves by whole
    /// blocks, so the ids of one block differ in their last byte alone: the first one is
    /// written in full, the others copy it and write their last two digits.
    fn block(&self) -> Block {
        let first = self.next.fetch_add(IDS_PER_BLOCK as u64, Ordering::Relaxed);
        debug_assert_eq!(first % IDS_PER_BLOCK as u64, 0);
        let mut id = [0u8; ID_LEN];
        id[..16].copy_from_slice(&self.prefix);
        id[16..].copy_from_slice(&hex(first));
        let mut ids = Vec::with_capacity(IDS_PER_BLOCK * ID_LEN);
        for i in 0..IDS_PER_BLOCK {
            // No carry: the first id's last byte is a multiple of the block's size.
            let low = first as u8 + i as u8;
            id[ID_LEN - 2] = HEX_DIGITS[usize::from(low >> 4)];
            id[ID_LEN - 1] = HEX_DIGITS[usize::from(low & 0xf)];
            ids.extend_from_slice(&id);
        }
        Block {
            source: self.key,
            ids: Bytes::from(ids),
            next: 0,
        }
    }
}

/// The digits of [`hex`].
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `n` as 16 lowercase hex digits, most significant first.
fn hex(n: u64) -> [u8; 16] {
    let mut text = [0u8; 16];
    for (i, digit) in text.iter_mut().enumerate() {
        *digit = HEX_DIGITS[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    text
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderName, HeaderValue};

    use super::{IdSource, SCANNED_HEADERS, given, hex};

    #[test]
    fn the_given_id_is_found_by_scan_or_lookup_as_get_finds_it() {
        let header = HeaderName::from_static("x-request-id");
        for others in [0, 3, SCANNED_HEADERS, SCANNED_HEADERS + 5] {
            let mut headers = HeaderMap::new();
            for i in 0..others {
                let name = HeaderName::try_from(format!("x-other-{i}")).unwrap();
                headers.insert(name, HeaderValue::from_static("no"));
            }
            assert_eq!(given(&headers, &header), None, "{others} other headers");
            headers.append(header.clone(), HeaderValue::from_static("first"));
            headers.append(header.clone(), HeaderValue::from_static("second"));
            assert_eq!(given(&headers, &header), headers.get(&header));
            assert_eq!(given(&headers, &header).unwrap(), "first");
        }
    }

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
        // Past a block, and with another server's ids in between on the same thread.
        let other = IdSource::new();
        let mut last = second;
        for _ in 0..super::IDS_PER_BLOCK {
            assert_ne!(
                &other.id_for(None).as_bytes()[..16],
                &first.as_bytes()[..16]
            );
            let next = ids.id_for(None);
            assert!(
                next.as_bytes()[16..] > last.as_bytes()[16..],
                "{next:?} after {last:?}"
            );
            last = next;
        }
    }
}
