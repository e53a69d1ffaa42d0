//! The instance's lease: granted once, kept alive for as long as the service runs. The loop
//! never gives up: while etcd is away it retries every half second at most, and a lease that
//! expired meanwhile is replaced by a new one. Registration and elections hang their keys on
//! it and follow its [`LeaseState`].

use std::time::Duration;

use etcd_client::Client;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::backoff::Backoff;

/// The lease as the keeper last saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LeaseState {
    /// The lease id, while one is held.
    pub(crate) id: Option<i64>,
    /// The earliest time etcd may expire it: when the last renewal that etcd acknowledged was
    /// sent, plus the TTL it granted. Later than this, keys on it may be gone.
    pub(crate) valid_until: Option<Instant>,
    /// Bumped each time the lease is (re)granted or etcd answers again after an outage, so
    /// that keys are written again (etcd may have lost them).
    pub(crate) epoch: u64,
    /// Whether etcd answered the last request.
    pub(crate) connected: bool,
}

/// The waits between attempts while etcd is away: short, so that an instance is back within
/// a second or two of etcd answering again.
pub(crate) fn retry_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_millis(500)).with_jitter(0.2)
}

/// How often the lease is renewed: a third of the TTL, and at least twice a second, so that
/// a lease lost behind the instance's back (revoked, expired during a pause) is noticed and
/// replaced within a second.
fn renew_every(ttl: Duration) -> Duration {
    (ttl / 3).min(Duration::from_millis(500))
}

/// The TTL asked of etcd for a configured `ttl`: one second shorter, because etcd revokes
/// expired leases on a tick (about every 0.5 s), so a lease of exactly `ttl` could outlive a
/// killed instance by that much. etcd raises a TTL below its minimum (2 s by default) to that
/// minimum, so the guarantee "gone within `ttl`" holds from `ttl` 3 s on.
pub(crate) fn lease_ttl(ttl: Duration) -> i64 {
    let secs = ttl.as_secs().saturating_sub(1).max(1);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// How long one request may take before it counts as failed.
pub(crate) fn request_timeout(ttl: Duration) -> Duration {
    (ttl / 3).clamp(Duration::from_millis(300), Duration::from_millis(1500))
}

/// Why one keep-alive stream ended.
enum Ended {
    /// etcd says the lease is gone (expired or revoked).
    Expired,
    /// etcd did not answer.
    Lost(String),
}

/// Keeps the lease alive, publishing its state, until aborted.
pub(crate) async fn keep(client: Client, ttl: Duration, state: watch::Sender<LeaseState>) {
    let ttl_secs = lease_ttl(ttl);
    let within = request_timeout(ttl);
    let mut backoff = retry_backoff();
    let mut lease: Option<i64> = None;
    loop {
        let id = match lease {
            Some(id) => id,
            None => {
                let sent = Instant::now();
                match bounded(within, client.clone().lease_grant(ttl_secs, None)).await {
                    Ok(granted) => {
                        let id = granted.id();
                        let ttl = Duration::from_secs(granted.ttl().max(0).unsigned_abs());
                        if granted.ttl() > ttl_secs {
                            tracing::debug!(
                                asked = ttl_secs,
                                granted = granted.ttl(),
                                "etcd granted a longer lease than asked (its minimum TTL)"
                            );
                        }
                        state.send_modify(|s| {
                            s.id = Some(id);
                            s.valid_until = Some(sent + ttl);
                            s.epoch += 1;
                            s.connected = true;
                        });
                        tracing::debug!(lease = id, "etcd lease granted");
                        lease = Some(id);
                        id
                    }
                    Err(reason) => {
                        lost(&state, &reason);
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                }
            }
        };
        let mut ended = renew(&client, id, ttl, within, &state, &mut backoff).await;
        if let Ended::Lost(reason) = &ended {
            lost(&state, reason);
            tokio::time::sleep(backoff.next_delay()).await;
            // A keep-alive may fail rather than answer "TTL 0" for a lease etcd no longer has:
            // ask, so that a lost lease is replaced instead of renewed in vain.
            let asked = bounded(within, client.clone().lease_time_to_live(id, None)).await;
            if asked.is_ok_and(|answer| answer.ttl() <= 0) {
                ended = Ended::Expired;
            }
        }
        if let Ended::Expired = ended {
            tracing::warn!(lease = id, "the etcd lease expired; taking a new one");
            state.send_modify(|s| {
                s.id = None;
                s.valid_until = None;
            });
            lease = None;
        }
    }
}

/// Renews lease `id` (see [`renew_every`]) until etcd stops answering or drops it.
async fn renew(
    client: &Client,
    id: i64,
    ttl: Duration,
    within: Duration,
    state: &watch::Sender<LeaseState>,
    backoff: &mut Backoff,
) -> Ended {
    let (mut keeper, mut stream) = match bounded(within, client.clone().lease_keep_alive(id)).await
    {
        Ok(pair) => pair,
        Err(reason) => return Ended::Lost(reason),
    };
    let mut recovered = !state.borrow().connected;
    loop {
        let sent = Instant::now();
        if let Err(reason) = bounded(within, keeper.keep_alive()).await {
            return Ended::Lost(reason);
        }
        let answer = match tokio::time::timeout(within, stream.message()).await {
            Ok(Ok(Some(answer))) => answer,
            Ok(Ok(None)) => return Ended::Lost("the keep-alive stream ended".into()),
            Ok(Err(error)) => return Ended::Lost(error.to_string()),
            Err(_) => return Ended::Lost(format!("no keep-alive answer within {within:?}")),
        };
        if answer.ttl() <= 0 {
            return Ended::Expired;
        }
        let granted = Duration::from_secs(answer.ttl().unsigned_abs());
        state.send_modify(|s| {
            s.valid_until = Some(sent + granted);
            s.connected = true;
            if recovered {
                s.epoch += 1;
            }
        });
        if recovered {
            tracing::info!(lease = id, "etcd answers again; the lease is still held");
            recovered = false;
        }
        backoff.reset();
        tokio::time::sleep(renew_every(ttl)).await;
    }
}

/// Records that etcd did not answer; warns on the first failure only.
fn lost(state: &watch::Sender<LeaseState>, reason: &str) {
    let was_connected = state.borrow().connected;
    state.send_if_modified(|s| std::mem::replace(&mut s.connected, false));
    if was_connected {
        tracing::warn!("etcd unreachable for the registry ({reason}); retrying");
    } else {
        tracing::debug!("etcd still unreachable: {reason}");
    }
}

/// Runs an etcd request for at most `within`; the error is the reason as text.
pub(crate) async fn bounded<T>(
    within: Duration,
    request: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(within, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {within:?}")),
    }
}
