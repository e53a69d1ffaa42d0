use tamarco::codec::{Codec, Json};
use tamarco::prelude::*;

/// A message without a serde dependency nor `#[serde(crate = ...)]`; serde's own attributes
/// still apply.
#[message]
#[derive(Debug, PartialEq)]
#[serde(tag = "type")]
enum Event {
    Created { id: u64 },
    Deleted { id: u64 },
}

fn main() {
    let body = Json.encode(&Event::Created { id: 7 }).unwrap();
    assert_eq!(body, br#"{"type":"Created","id":7}"#);
    let back: Event = Json.decode(br#"{"type":"Deleted","id":8}"#).unwrap();
    assert_eq!(back, Event::Deleted { id: 8 });
}
