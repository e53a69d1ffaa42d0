//! The built-in codecs.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Codec;
use crate::BoxError;

/// JSON through `serde_json`, for any serde type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json;

// A type that is not serde reports one error, `Codec`'s, instead of one per missing trait.
#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + 'static> Codec<T> for Json {
    fn name(&self) -> &str {
        "json"
    }
    fn content_type(&self) -> Option<&str> {
        Some("application/json")
    }
    fn encode(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        Ok(serde_json::to_vec(value)?)
    }
    fn decode(&self, bytes: &[u8]) -> Result<T, BoxError> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// YAML through `serde_yaml_ng`, for any serde type (cargo feature `yaml`). JSON bodies decode
/// too (JSON is YAML).
#[cfg(feature = "yaml")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Yaml;

// A type that is not serde reports one error, `Codec`'s, instead of one per missing trait.
#[cfg(feature = "yaml")]
#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + 'static> Codec<T> for Yaml {
    fn name(&self) -> &str {
        "yaml"
    }
    fn content_type(&self) -> Option<&str> {
        Some("application/yaml")
    }
    fn encode(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        Ok(serde_yaml_ng::to_string(value)?.into_bytes())
    }
    fn decode(&self, bytes: &[u8]) -> Result<T, BoxError> {
        Ok(serde_yaml_ng::from_slice(bytes)?)
    }
}

/// A compact binary format for any serde type: [postcard](https://docs.rs/postcard)
/// (varint integers, no field names). Both ends must agree on the type: fields are read in
/// declaration order, and self-describing types such as `serde_json::Value` are not supported.
/// A body with bytes left over after the value is an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Postcard;

// A type that is not serde reports one error, `Codec`'s, instead of one per missing trait.
#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + 'static> Codec<T> for Postcard {
    fn name(&self) -> &str {
        "postcard"
    }
    fn content_type(&self) -> Option<&str> {
        Some("application/x-postcard")
    }
    fn encode(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        Ok(postcard::to_stdvec(value)?)
    }
    fn decode(&self, bytes: &[u8]) -> Result<T, BoxError> {
        let (value, rest) = postcard::take_from_bytes(bytes)?;
        if !rest.is_empty() {
            return Err(format!("{} bytes left over after the value", rest.len()).into());
        }
        Ok(value)
    }
}

/// UTF-8 text, carried as `String`; a body that is not valid UTF-8 fails to decode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Text;

impl Codec<String> for Text {
    fn name(&self) -> &str {
        "text"
    }
    fn content_type(&self) -> Option<&str> {
        Some("text/plain; charset=utf-8")
    }
    fn encode(&self, value: &String) -> Result<Vec<u8>, BoxError> {
        Ok(value.as_bytes().to_vec())
    }
    fn decode(&self, bytes: &[u8]) -> Result<String, BoxError> {
        Ok(std::str::from_utf8(bytes)?.to_owned())
    }
    fn decode_owned(&self, bytes: Vec<u8>) -> Result<String, BoxError> {
        Ok(String::from_utf8(bytes)?)
    }
}

/// The body as it is, carried as `Vec<u8>`: what the original did when no codec was given.
/// It never fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Raw;

impl Codec<Vec<u8>> for Raw {
    fn name(&self) -> &str {
        "raw"
    }
    fn content_type(&self) -> Option<&str> {
        Some("application/octet-stream")
    }
    fn encode(&self, value: &Vec<u8>) -> Result<Vec<u8>, BoxError> {
        Ok(value.clone())
    }
    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, BoxError> {
        Ok(bytes.to_vec())
    }
    fn decode_owned(&self, bytes: Vec<u8>) -> Result<Vec<u8>, BoxError> {
        Ok(bytes)
    }
}
