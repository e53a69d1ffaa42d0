//! Which commands are sent again after a lost connection, and which failures count as one.

use redis::{Cmd, RedisError};

/// The commands sent again after a lost connection: running them twice leaves the same
/// state as running them once.
pub const IDEMPOTENT: &[&str] = &[
    "GET",
    "MGET",
    "SET",
    "SETEX",
    "PSETEX",
    "MSET",
    "DEL",
    "UNLINK",
    "EXISTS",
    "EXPIRE",
    "PEXPIRE",
    "EXPIREAT",
    "PEXPIREAT",
    "PERSIST",
    "TTL",
    "PTTL",
    "TYPE",
    "STRLEN",
    "HGET",
    "HMGET",
    "HGETALL",
    "HSET",
    "HMSET",
    "HDEL",
    "HEXISTS",
    "HKEYS",
    "HVALS",
    "HLEN",
    "SADD",
    "SREM",
    "SMEMBERS",
    "SISMEMBER",
    "SCARD",
    "ZADD",
    "ZREM",
    "ZSCORE",
    "ZRANGE",
    "ZCARD",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "PING",
    "ECHO",
    "DBSIZE",
];

/// The failures after which the command may not have reached the server, or the
/// connection is being replaced.
pub(crate) fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal()
}

/// The command's name as the caller spelled it.
pub(crate) fn command_name(cmd: &Cmd) -> &[u8] {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => name,
        _ => b"?",
    }
}

/// Whether the command named so is in [`IDEMPOTENT`], in any case: compared in place, no
/// upper-cased copy per command.
pub(crate) fn is_idempotent(name: &[u8]) -> bool {
    IDEMPOTENT
        .iter()
        .any(|known| known.as_bytes().eq_ignore_ascii_case(name))
}
