//! The typed commands and the one path every command takes: counted, timed, and sent again
//! after a lost connection when it is idempotent.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::{Cmd, FromRedisValue, Pipeline, ToRedisArgs};
use tamarco_core::backoff::Backoff;
use tamarco_core::error_chain;

use super::idempotent::{command_name, is_connection_error, is_idempotent};
use super::{Error, Redis};

impl Redis {
    /// The value at `key`: `Option<T>` reads a missing key as `None`.
    pub async fn get<T: FromRedisValue>(&self, key: impl ToRedisArgs) -> Result<T, Error> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    /// Sets `key` to `value`.
    pub async fn set(&self, key: impl ToRedisArgs, value: impl ToRedisArgs) -> Result<(), Error> {
        self.query(redis::cmd("SET").arg(key).arg(value)).await
    }

    /// Sets `key` to `value`, expiring after `ttl` (whole milliseconds).
    pub async fn set_ex(
        &self,
        key: impl ToRedisArgs,
        value: impl ToRedisArgs,
        ttl: Duration,
    ) -> Result<(), Error> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.query(redis::cmd("PSETEX").arg(key).arg(millis).arg(value))
            .await
    }

    /// Deletes keys; returns how many existed.
    pub async fn del(&self, keys: impl ToRedisArgs) -> Result<u64, Error> {
        self.query(redis::cmd("DEL").arg(keys)).await
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: impl ToRedisArgs) -> Result<bool, Error> {
        self.query(redis::cmd("EXISTS").arg(key)).await
    }

    /// Makes `key` expire after `ttl` (whole milliseconds); `false` when it does not exist.
    pub async fn expire(&self, key: impl ToRedisArgs, ttl: Duration) -> Result<bool, Error> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.query(redis::cmd("PEXPIRE").arg(key).arg(millis)).await
    }

    /// Adds `by` to the integer at `key` and returns the result. Not idempotent: never sent
    /// twice.
    pub async fn incr(&self, key: impl ToRedisArgs, by: i64) -> Result<i64, Error> {
        self.query(redis::cmd("INCRBY").arg(key).arg(by)).await
    }

    /// The value of `field` in the hash at `key`.
    pub async fn hget<T: FromRedisValue>(
        &self,
        key: impl ToRedisArgs,
        field: impl ToRedisArgs,
    ) -> Result<T, Error> {
        self.query(redis::cmd("HGET").arg(key).arg(field)).await
    }

    /// Sets `field` of the hash at `key`; returns whether the field is new.
    pub async fn hset(
        &self,
        key: impl ToRedisArgs,
        field: impl ToRedisArgs,
        value: impl ToRedisArgs,
    ) -> Result<bool, Error> {
        self.query(redis::cmd("HSET").arg(key).arg(field).arg(value))
            .await
    }

    /// Every field of the hash at `key` (`HashMap<String, T>`, or `Vec<(String, T)>`).
    pub async fn hgetall<T: FromRedisValue>(&self, key: impl ToRedisArgs) -> Result<T, Error> {
        self.query(redis::cmd("HGETALL").arg(key)).await
    }

    /// Deletes fields of the hash at `key`; returns how many existed.
    pub async fn hdel(
        &self,
        key: impl ToRedisArgs,
        fields: impl ToRedisArgs,
    ) -> Result<u64, Error> {
        self.query(redis::cmd("HDEL").arg(key).arg(fields)).await
    }

    /// Runs any command; sent again after a lost connection when it is in [`IDEMPOTENT`](super::IDEMPOTENT).
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Error> {
        self.run(Packed::Command(cmd)).await
    }

    /// Runs a pipeline (`redis::pipe()`, `.atomic()` for `MULTI`/`EXEC`); sent again after a
    /// lost connection when every command in it is idempotent.
    pub async fn pipeline<T: FromRedisValue>(&self, pipeline: &Pipeline) -> Result<T, Error> {
        self.run(Packed::Pipeline(pipeline)).await
    }

    /// Publishes `message` on `channel`; returns how many subscribers got it. Not retried.
    pub async fn publish(
        &self,
        channel: impl ToRedisArgs,
        message: impl ToRedisArgs,
    ) -> Result<u64, Error> {
        self.query(redis::cmd("PUBLISH").arg(channel).arg(message))
            .await
    }

    async fn run<T: FromRedisValue>(&self, packed: Packed<'_>) -> Result<T, Error> {
        let shared = &self.shared;
        let mut connection = shared.manager()?;
        let _in_flight = shared.in_flight.guard();
        let retries = shared.retry_limit.load(Ordering::Relaxed);
        let started = Instant::now();
        // Short waits: the connection manager reconnects on its own meanwhile.
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(400));
        let mut attempt = 0;
        let outcome = loop {
            let sent = match packed {
                Packed::Command(cmd) => cmd.query_async(&mut connection).await,
                Packed::Pipeline(pipeline) => pipeline.query_async(&mut connection).await,
            };
            match sent {
                Err(error)
                    if attempt < retries && is_connection_error(&error) && packed.idempotent() =>
                {
                    attempt += 1;
                    shared.retries.fetch_add(1, Ordering::Relaxed);
                    if let Some(meters) = shared.meters.get() {
                        meters.retries.increment(1);
                    }
                    tracing::debug!(
                        resource = shared.resource(),
                        command = packed.name(),
                        attempt,
                        "redis: connection lost; sending the command again"
                    );
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                other => break other,
            }
        };
        shared.commands.fetch_add(1, Ordering::Relaxed);
        if let Some(meters) = shared.meters.get() {
            meters.duration.record(started.elapsed());
            if outcome.is_err() {
                meters.errors.increment(1);
            }
        }
        outcome.map_err(|source| {
            let error = Error::Command {
                resource: shared.resource().to_owned(),
                command: packed.name(),
                source,
            };
            shared.errors.fetch_add(1, Ordering::Relaxed);
            *shared.last_error.lock().expect("error lock") = Some(error_chain(&error));
            error
        })
    }
}

/// What `run` sends.
#[derive(Clone, Copy)]
enum Packed<'a> {
    Command(&'a Cmd),
    Pipeline(&'a Pipeline),
}

impl Packed<'_> {
    /// Whether sending it twice leaves the same state as sending it once.
    fn idempotent(self) -> bool {
        match self {
            Packed::Command(cmd) => is_idempotent(command_name(cmd)),
            Packed::Pipeline(pipeline) => pipeline
                .cmd_iter()
                .all(|cmd| is_idempotent(command_name(cmd))),
        }
    }

    /// What errors and logs call it (only built for them).
    fn name(self) -> String {
        match self {
            Packed::Command(cmd) => String::from_utf8_lossy(command_name(cmd)).to_ascii_uppercase(),
            Packed::Pipeline(_) => "pipeline".to_owned(),
        }
    }
}
