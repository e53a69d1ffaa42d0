//! The typed read of a settings tree, the one way every typed read decodes (gets, loads, live
//! handles, checked loads): serde_json's `&Value` deserializer, tracked by serde_path_to_error
//! for the path of a bad value. One deserializer means each settings type's `Deserialize` is
//! compiled once for settings; figment's lossy deserializer compiled it six times more.
//!
//! Text is read as a number or a boolean where the type asks for one (environment values are
//! text), with figment's rules ([`Figured::to_num_lossy`], [`Figured::to_bool_lossy`]: `"5432"`,
//! `"yes"`, `"on"`, `"1"`...), and a number 0 or 1 as a boolean: a read that fails on such a
//! value is tried again with the value converted, so text stays text for a type that takes text
//! (`0123` for a `String`).

use figment::value::Value as Figured;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

/// Why a typed read failed.
pub(super) struct Failure {
    /// The map keys and list indexes from the root of the tree read down to the bad value.
    pub(super) path: Vec<String>,
    /// serde's message, which may quote the value: see [`super::error::describe`].
    pub(super) message: String,
}

impl Failure {
    /// The dotted key of the bad value, for a tree read at `key`.
    pub(super) fn key_under(&self, key: &str) -> String {
        std::iter::once(key)
            .chain(self.path.iter().map(String::as_str))
            .filter(|segment| !segment.is_empty())
            .collect::<Vec<_>>()
            .join(".")
    }
}

type Tracked = serde_path_to_error::Error<serde_json::Error>;

/// A typed read with the type left out: it decodes a tree and keeps the value. What surrounds a
/// read (lookups, the secrets it noted, its errors) takes one, so that it is compiled once, not
/// once per settings type.
pub(super) type Decode<'a> = dyn FnMut(&Value) -> Result<(), Failure> + 'a;

/// The [`Decode`] of a `T` into `slot`.
pub(super) fn read_into<T: DeserializeOwned>(
    slot: &mut Option<T>,
) -> impl FnMut(&Value) -> Result<(), Failure> + '_ {
    // Only this closure depends on `T`: the retries are compiled once.
    move |tree| {
        read_with(tree, &mut |tree| {
            *slot = Some(serde_path_to_error::deserialize(tree)?);
            Ok(())
        })
    }
}

fn read_with(
    tree: &Value,
    decode: &mut dyn FnMut(&Value) -> Result<(), Tracked>,
) -> Result<(), Failure> {
    let mut converted: Option<Value> = None;
    // Each retry turns one text into a number or a boolean, or one number into a boolean, and
    // none of these is converted again: the loop ends.
    loop {
        let current = converted.as_ref().unwrap_or(tree);
        let Err(error) = decode(current) else {
            return Ok(());
        };
        let path: Vec<String> = error.path().iter().map(segment).collect();
        let message = error.into_inner().to_string();
        let Some(value) = at(current, &path).and_then(|found| lossy(&message, found)) else {
            return Err(Failure { path, message });
        };
        let copy = converted.get_or_insert_with(|| tree.clone());
        *at_mut(copy, &path).expect("the value was just found there") = value;
    }
}

fn segment(segment: &Segment) -> String {
    match segment {
        Segment::Seq { index } => index.to_string(),
        Segment::Map { key } => key.clone(),
        Segment::Enum { variant } => variant.clone(),
        Segment::Unknown => "?".to_owned(),
    }
}

fn at<'a>(tree: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(tree, |node, segment| match node {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    })
}

fn at_mut<'a>(tree: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(tree, |node, segment| match node {
        Value::Object(map) => map.get_mut(segment),
        Value::Array(items) => items.get_mut(segment.parse::<usize>().ok()?),
        _ => None,
    })
}

/// The number or boolean that figment's lossy read makes of `found` where serde's `message`
/// says that the type wanted one, or `None`.
fn lossy(message: &str, found: &Value) -> Option<Value> {
    let (_, expected) = message
        .strip_prefix("invalid type: ")?
        .rsplit_once(", expected ")?;
    let figured = match found {
        Value::String(text) => Figured::from(text.as_str()),
        Value::Number(_) if expected == "a boolean" => Figured::serialize(found).ok()?,
        _ => return None,
    };
    if expected == "a boolean" {
        return figured.to_bool_lossy().map(Value::Bool);
    }
    // What serde's number types say they expect: `u16`, `f64`, `a nonzero u32`...
    let number = expected.strip_prefix("a nonzero ").unwrap_or(expected);
    let numeric = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64",
    ];
    if !numeric.contains(&number) {
        return None;
    }
    serde_json::to_value(figured.to_num_lossy()?).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read<T: DeserializeOwned>(tree: &Value) -> Result<T, Failure> {
        let mut typed = None;
        read_into(&mut typed)(tree)?;
        Ok(typed.expect("a read that succeeded kept its value"))
    }

    #[test]
    fn text_is_a_number_or_a_boolean_only_where_one_is_wanted() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Db {
            port: u16,
            tls: bool,
            name: String,
            on: bool,
        }
        let tree = json!({"port": "5432", "tls": "yes", "name": "0123", "on": 1});
        let db: Db = read(&tree).ok().unwrap();
        let expected = Db {
            port: 5432,
            tls: true,
            name: "0123".to_owned(),
            on: true,
        };
        assert_eq!(db, expected);
    }

    #[test]
    fn a_failure_names_the_path_to_the_bad_value() {
        let tree = json!({"pools": [{"size": 1}, {"size": "big"}]});
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Pool {
            size: u32,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Db {
            pools: Vec<Pool>,
        }
        let failure = read::<Db>(&tree).unwrap_err();
        assert_eq!(failure.key_under("db"), "db.pools.1.size");
        assert!(
            failure.message.contains("expected u32"),
            "{}",
            failure.message
        );
    }
}
