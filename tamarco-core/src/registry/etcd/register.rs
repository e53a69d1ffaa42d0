//! Registration: the instance's record on the lease, written again whenever the lease is new
//! or etcd answers again after an outage, until the instance leaves.

use std::time::Duration;

use etcd_client::{Client, PutOptions};
use tokio::sync::watch;

use super::session::{LeaseState, bounded, request_timeout, retry_backoff};

/// Writes `value` at `key` on the current lease each time the lease state asks for it; runs
/// until aborted (the instance leaves) or the session ends.
pub(crate) async fn register(
    client: Client,
    key: String,
    value: Vec<u8>,
    ttl: Duration,
    mut lease: watch::Receiver<LeaseState>,
    registered: watch::Sender<bool>,
) {
    let within = request_timeout(ttl);
    let mut backoff = retry_backoff();
    let mut written_epoch = 0;
    loop {
        let state = *lease.borrow_and_update();
        match state.id {
            Some(id) if state.epoch != written_epoch => {
                let options = PutOptions::new().with_lease(id);
                let (k, v, mut c) = (key.clone(), value.clone(), client.clone());
                match bounded(within, async move { c.put(k, v, Some(options)).await }).await {
                    Ok(_) => {
                        written_epoch = state.epoch;
                        backoff.reset();
                        if !registered.send_replace(true) {
                            tracing::info!(key = %key, "registered in etcd");
                        }
                    }
                    Err(reason) => {
                        tracing::debug!(key = %key, "registration not written yet: {reason}");
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                }
            }
            None => {
                registered.send_replace(false);
            }
            Some(_) => {}
        }
        if lease.changed().await.is_err() {
            return;
        }
    }
}
