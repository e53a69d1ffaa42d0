use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::*;
use crate::error_chain;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    item: String,
    quantity: u32,
    tags: Vec<String>,
    price: Option<f64>,
    extra: BTreeMap<String, i64>,
}

fn order() -> Order {
    Order {
        id: 1 << 40,
        item: "tea ☕".into(),
        quantity: 3,
        tags: vec!["hot".into(), "green".into()],
        price: Some(2.5),
        extra: BTreeMap::from([("a".into(), -1), ("b".into(), 2)]),
    }
}

fn round_trip<T, C>(codec: C, value: &T) -> Vec<u8>
where
    T: PartialEq + std::fmt::Debug + 'static,
    C: Codec<T>,
{
    let bound = BoundCodec::new("orders", codec);
    let bytes = bound.encode(value).expect("encodes");
    assert_eq!(&bound.decode(&bytes).expect("decodes"), value);
    assert_eq!(&bound.decode_owned(bytes.clone()).expect("decodes"), value);
    bytes
}

#[test]
fn serde_codecs_round_trip_a_struct() {
    let json = round_trip(Json, &order());
    assert!(json.starts_with(br#"{"id":1099511627776,"item":"tea"#));
    #[cfg(feature = "yaml")]
    {
        let yaml = round_trip(Yaml, &order());
        assert!(String::from_utf8(yaml).unwrap().contains("item: tea ☕"));
    }
    let binary = round_trip(Postcard, &order());
    assert!(binary.len() < json.len() / 2, "{} bytes", binary.len());
}

#[test]
fn text_and_raw_carry_strings_and_bytes() {
    assert_eq!(round_trip(Text, &"héllo".to_owned()), "héllo".as_bytes());
    assert_eq!(round_trip(Raw, &vec![0, 159, 146, 150]), [0, 159, 146, 150]);
}

#[cfg(feature = "yaml")]
#[test]
fn json_and_yaml_carry_dynamic_values() {
    let value = serde_json::json!({"a": [1, "two", null], "b": {"c": true}});
    round_trip(Json, &value);
    round_trip(Yaml, &value);
    // JSON is YAML, so the YAML codec reads JSON bodies.
    let from_json: Order = BoundCodec::new("orders", Yaml)
        .decode(&serde_json::to_vec(&order()).unwrap())
        .unwrap();
    assert_eq!(from_json, order());
}

#[test]
fn decode_failures_name_the_input_and_the_codec() {
    let cases: Vec<(BoundCodec<Order>, &[u8], &str)> = vec![
        (BoundCodec::new("orders", Json), b"{\"id\": \"x\"}", "json"),
        #[cfg(feature = "yaml")]
        (BoundCodec::new("orders", Yaml), b"- [unbalanced", "yaml"),
        (BoundCodec::new("orders", Postcard), &[0xff], "postcard"),
    ];
    for (bound, body, codec) in cases {
        let error = bound.decode(body).unwrap_err();
        assert_eq!(error.direction, Direction::Decode);
        assert_eq!(error.endpoint, "orders");
        assert_eq!(error.codec, codec);
        let chain = error_chain(&error);
        assert!(
            chain.starts_with(&format!(
                "cannot decode a message from `orders` with the {codec} codec: "
            )),
            "{chain}"
        );
        assert!(chain.len() > 60, "the codec's reason follows: {chain}");
    }
    let error = BoundCodec::new("greetings", Text)
        .decode(&[0xc3, 0x28])
        .unwrap_err();
    assert!(error_chain(&error).contains("invalid utf-8"), "{error}");
    assert!(
        BoundCodec::new("greetings", Text)
            .decode_owned(vec![0xc3, 0x28])
            .is_err()
    );
}

#[test]
fn postcard_rejects_trailing_bytes() {
    let bound = BoundCodec::new("orders", Postcard);
    let mut bytes = bound.encode(&order()).unwrap();
    bytes.push(0);
    let error = bound.decode(&bytes).unwrap_err();
    assert!(error_chain(&error).contains("1 bytes left over"), "{error}");
}

#[test]
fn encode_failures_name_the_output() {
    // JSON maps need string keys.
    let value: BTreeMap<(u8, u8), u8> = BTreeMap::from([((1, 2), 3)]);
    let error = BoundCodec::new("pairs", Json).encode(&value).unwrap_err();
    assert_eq!(error.direction, Direction::Encode);
    assert!(
        error
            .to_string()
            .starts_with("cannot encode a message for `pairs` with the json codec"),
        "{error}"
    );
}

/// A user codec: a list of strings, one per line.
struct Lines;

impl Codec<Vec<String>> for Lines {
    fn name(&self) -> &str {
        "lines"
    }
    fn encode(&self, value: &Vec<String>) -> Result<Vec<u8>, BoxError> {
        Ok(value.join("\n").into_bytes())
    }
    fn decode(&self, bytes: &[u8]) -> Result<Vec<String>, BoxError> {
        Ok(std::str::from_utf8(bytes)?
            .split('\n')
            .map(str::to_owned)
            .collect())
    }
}

#[test]
fn user_codecs_and_shared_codecs_go_through_the_same_trait() {
    let lines = vec!["a".to_owned(), "b".to_owned()];
    round_trip(Lines, &lines);
    let shared: Arc<dyn Codec<Vec<String>>> = Arc::new(Lines);
    let bound = BoundCodec::from_arc("lines", Arc::clone(&shared));
    assert_eq!(bound.codec_name(), "lines");
    assert_eq!(bound.content_type(), None);
    round_trip(shared, &lines);
    round_trip(Box::new(Json) as Box<dyn Codec<Vec<String>>>, &lines);
    let error = bound.decode(&[0xff]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot decode a message from `lines` with the lines codec"
    );
}

#[test]
fn a_shared_codec_is_bound_as_it_is_not_wrapped_again() {
    let shared: Arc<dyn Codec<Vec<String>>> = Arc::new(Lines);
    let bound = BoundCodec::new("lines", Arc::clone(&shared));
    assert!(Arc::ptr_eq(bound.codec(), &shared));
    let lines = vec!["a".to_owned()];
    assert_eq!(bound.decode(b"a").unwrap(), lines);
    // Any other codec, an `Arc` of a concrete one included, is wrapped as before.
    let concrete = Arc::new(Lines);
    let bound = BoundCodec::new("lines", Arc::clone(&concrete));
    assert_eq!(Arc::strong_count(&concrete), 2);
    assert_eq!(bound.decode(b"a").unwrap(), lines);
}

#[test]
fn codecs_can_be_chosen_at_run_time() {
    fn pick(name: &str) -> Arc<dyn Codec<Order>> {
        match name {
            "json" => Arc::new(Json),
            #[cfg(feature = "yaml")]
            "yaml" => Arc::new(Yaml),
            _ => Arc::new(Postcard),
        }
    }
    for name in [
        "json",
        #[cfg(feature = "yaml")]
        "yaml",
        "postcard",
    ] {
        let bound = BoundCodec::from_arc("orders", pick(name));
        assert_eq!(bound.codec_name(), name);
        let bytes = bound.encode(&order()).unwrap();
        assert_eq!(bound.decode(&bytes).unwrap(), order());
    }
    assert_eq!(
        format!("{:?}", BoundCodec::new("orders", Json) as BoundCodec<Order>),
        r#"BoundCodec { endpoint: "orders", codec: "json" }"#
    );
}
