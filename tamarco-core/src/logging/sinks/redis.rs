//! Redis (`system.logging.redis`): each JSON document pushed with `RPUSH` onto the list
//! `logstash`, a batch per command; optional password (never logged), database and TLS.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo,
};

use super::super::config::RedisConfig;
use super::super::document::{self, DocContext};
use super::super::record::Record;
use super::super::sink::{Batch, Sink, Transport};

/// The list the documents go to, as in the original.
const LIST: &str = "logstash";
const KEY: &str = "system.logging.redis";

struct Redis {
    client: Client,
    /// `redis://host:port/db`, without the password.
    describe: String,
    connection: Option<MultiplexedConnection>,
    cx: DocContext,
}

pub(super) fn start(config: &RedisConfig, cx: &DocContext) -> Result<Sink, String> {
    if config.ssl {
        super::install_crypto_provider();
    }
    let addr = match config.ssl {
        true => ConnectionAddr::TcpTls {
            host: config.host.clone(),
            port: config.port,
            insecure: false,
            tls_params: None,
        },
        false => ConnectionAddr::Tcp(config.host.clone(), config.port),
    };
    let mut settings = RedisConnectionInfo::default().set_db(config.db);
    if let Some(username) = &config.username {
        settings = settings.set_username(username);
    }
    if let Some(password) = &config.password {
        settings = settings.set_password(password.expose());
    }
    let scheme = if config.ssl { "rediss" } else { "redis" };
    let describe = format!("{scheme}://{}:{}/{}", config.host, config.port, config.db);
    let client = addr
        .into_connection_info()
        .map(|info| info.set_redis_settings(settings))
        .and_then(Client::open)
        .map_err(|e| format!("logging: setting `{KEY}`: {describe}: {e}; the redis sink is off"))?;
    let redis = Redis {
        client,
        describe,
        connection: None,
        cx: cx.for_sink(config.version, "record"),
    };
    super::spawn("redis", KEY, config.queue_size, Batch::Drain(256), redis)
}

impl Transport for Redis {
    fn render(&self, record: &Record) -> String {
        document::json(record, &self.cx)
    }

    async fn connect(&mut self) -> Result<(), String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.describe))?;
        self.connection = Some(connection);
        Ok(())
    }

    async fn send(&mut self, batch: Vec<String>) -> Result<(), String> {
        let connection = self.connection.as_mut().ok_or("not connected")?;
        let pushed: Result<i64, _> = redis::cmd("RPUSH")
            .arg(LIST)
            .arg(batch)
            .query_async(connection)
            .await;
        pushed.map(drop).map_err(|e| {
            self.connection = None;
            format!("RPUSH to {} failed: {e}", self.describe)
        })
    }
}
