//! Settings in etcd, against real etcd processes that each test starts on free loopback ports
//! (`tamarco_tests::etcd`): reads and writes through settings and views, watches with the
//! per-service override, reconnecting after etcd restarts, a three-member cluster with a member
//! down, precedence of file, etcd and environment, `ETCD_CHECK_KEY`, the `tamarco etcd` command
//! line, and the error each bad input gives.
//!
//! Environment variables are process-wide, so in-process tests build their [`EtcdConfig`] in
//! code; only the probe service (a child process) reads `TAMARCO_*` variables.
//!
//! The tests by concept: `reads` (settings and views over etcd), `watches` (changes by another
//! client, changes lost to a compaction), `recovery` (an etcd restart, a cluster member down),
//! `precedence` (environment, etcd, file, code), `start` (`ETCD_CHECK_KEY`, an unreachable
//! etcd), `errors` (wrong types and secrets) and `cli` (`tamarco etcd`). The helpers they
//! share are below.

mod cli;
mod errors;
mod precedence;
mod reads;
mod recovery;
mod start;
mod watches;

use std::time::Duration;

use etcd_client::{Client, GetOptions};
use tamarco::prelude::*;
use tamarco::serde::Deserialize;
use tamarco::serde_json::{Value, json};
use tamarco::settings::etcd::{self, EtcdConfig, EtcdStore};
use tamarco::settings::sources;
use tamarco::tokio::sync::mpsc;
use tamarco_tests::etcd::{EtcdCluster, EtcdServer, free_port_list, temp_dir};
use tamarco_tests::proxy::TcpProxy;
use tamarco_tests::{Probe, http_get, tamarco_cli, wait_until};

/// How long a change may take to reach a watch (generous: CI machines are slow and shared).
const CHANGE_WITHIN: Duration = Duration::from_secs(30);

#[microservice(name = "dog")]
#[derive(Default)]
struct Dog {}

#[microservice]
impl Dog {}

/// A configuration for tests: fast retries, so that reconnecting takes well under a second.
fn config(endpoints: &[String], prefix: &str) -> EtcdConfig {
    EtcdConfig::new(endpoints.iter().cloned())
        .with_prefix(prefix)
        .with_connect_retries(3)
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

/// A separate etcd client, as another tool or operator would use.
async fn client(endpoints: &[String]) -> Client {
    Client::connect(endpoints, None)
        .await
        .expect("a separate etcd client")
}

async fn raw_get(client: &mut Client, key: &str) -> Option<String> {
    let response = client.get(key, None).await.unwrap();
    response
        .kvs()
        .first()
        .map(|kv| kv.value_str().unwrap().to_owned())
}

async fn raw_keys(client: &mut Client, prefix: &str) -> Vec<String> {
    let response = client
        .get(
            prefix,
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )
        .await
        .unwrap();
    response
        .kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_owned())
        .collect()
}

/// Puts with a separate client, retrying (bounded) while the cluster elects a new leader.
async fn put_retrying(client: &mut Client, key: &str, value: &str) {
    let deadline = tamarco::tokio::time::Instant::now() + CHANGE_WITHIN;
    while let Err(error) = client.put(key, value, None).await {
        assert!(
            tamarco::tokio::time::Instant::now() < deadline,
            "put {key}: {error}"
        );
        tamarco::tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The changes a watch saw: `(key, new value)`.
type Changes = mpsc::UnboundedReceiver<(String, Option<Value>)>;

/// A watch callback that forwards `(key, value)` to a channel.
fn channel() -> (
    impl Fn(&str, Option<&Value>) + Send + Sync + 'static,
    Changes,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let callback = move |key: &str, value: Option<&Value>| {
        let _ = tx.send((key.to_owned(), value.cloned()));
    };
    (callback, rx)
}

/// The next change, or a panic naming what was awaited.
async fn next(rx: &mut Changes, what: &str) -> (String, Option<Value>) {
    match tamarco::tokio::time::timeout(CHANGE_WITHIN, rx.recv()).await {
        Ok(Some(change)) => change,
        _ => panic!("no change within {CHANGE_WITHIN:?}: {what}"),
    }
}

fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tamarco::tokio::task::block_in_place(work)
}
