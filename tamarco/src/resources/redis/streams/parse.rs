//! The replies of `XREADGROUP` and `XAUTOCLAIM`, read from the client's values (RESP2 arrays
//! or RESP3 maps), keeping entries deleted while pending (their fields are nil).

use redis::Value;
use tamarco_core::BoxError;

/// An entry as read: its id and fields (`None` when it was deleted while pending).
pub(super) struct Entry {
    pub(super) id: String,
    pub(super) fields: Option<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// The entries of an `XREADGROUP` reply on one stream (nil when the read timed out).
pub(super) fn parse_read(reply: Value) -> Result<Vec<Entry>, BoxError> {
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams
            .into_iter()
            .map(|s| match s {
                Value::Array(mut pair) if pair.len() == 2 => Ok(pair.remove(1)),
                other => Err(unexpected("XREADGROUP", &other)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        other => return Err(unexpected("XREADGROUP", &other)),
    };
    let mut entries = Vec::new();
    for list in streams {
        entries.extend(parse_entries(list)?);
    }
    Ok(entries)
}

/// The cursor and entries of an `XAUTOCLAIM` reply.
pub(super) fn parse_autoclaim(reply: Value) -> Result<(String, Vec<Entry>), BoxError> {
    let Value::Array(mut parts) = reply else {
        return Err(unexpected("XAUTOCLAIM", &reply));
    };
    if parts.len() < 2 {
        return Err("redis: XAUTOCLAIM answered with fewer than two parts".into());
    }
    let entries = parse_entries(parts.remove(1))?;
    let cursor: String = redis::from_redis_value(parts.remove(0))?;
    Ok((cursor, entries))
}

/// `[[id, [field, value, ...] | nil], ...]`.
fn parse_entries(list: Value) -> Result<Vec<Entry>, BoxError> {
    let Value::Array(list) = list else {
        return Err(unexpected("a list of entries", &list));
    };
    let mut entries = Vec::with_capacity(list.len());
    for entry in list {
        let Value::Array(mut parts) = entry else {
            // Redis 6 puts nil where a claimed entry was deleted.
            continue;
        };
        if parts.len() < 2 {
            return Err(unexpected("an entry", &Value::Array(parts)));
        }
        let fields = match parts.remove(1) {
            Value::Nil => None,
            Value::Array(flat) => Some(
                flat.chunks_exact(2)
                    .map(|kv| {
                        let key: Vec<u8> = redis::from_redis_value_ref(&kv[0])?;
                        let value: Vec<u8> = redis::from_redis_value_ref(&kv[1])?;
                        Ok((key, value))
                    })
                    .collect::<Result<Vec<_>, redis::ParsingError>>()?,
            ),
            Value::Map(pairs) => Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| Ok((redis::from_redis_value(k)?, redis::from_redis_value(v)?)))
                    .collect::<Result<Vec<_>, redis::ParsingError>>()?,
            ),
            other => return Err(unexpected("an entry's fields", &other)),
        };
        let id: String = redis::from_redis_value(parts.remove(0))?;
        entries.push(Entry { id, fields });
    }
    Ok(entries)
}

fn unexpected(what: &str, value: &Value) -> BoxError {
    format!("redis: unexpected reply for {what}: {value:?}").into()
}
