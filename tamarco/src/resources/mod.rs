//! Optional resources, each behind the cargo feature of its name: a service compiles only
//! what it uses.
//!
//! | feature | module | resources |
//! |---|---|---|
//! | `http` | `tamarco::http` | `HttpServer`, `ResponseCacheLayer` |
//! | `http-client` | `tamarco::http` | `HttpClient` (reqwest with rustls) |
//! | `influxdb` | `tamarco::influxdb` | `InfluxDb` |
//! | `postgres` | `tamarco::postgres` | `Postgres` |
//! | `redis` | `tamarco::redis` | `Redis` |
//! | `websocket` | `tamarco::websocket` | `WebSocketServer` |

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(feature = "http")]
pub mod http;
#[cfg(any(feature = "postgres", feature = "redis"))]
mod in_use;
#[cfg(feature = "influxdb")]
pub mod influxdb;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "websocket")]
pub mod websocket;
