//! Keeping a connection: the first one retried until `connection_timeout`, then a watch that
//! notices a lost connection, reports `CONNECTING` and reconnects with the shared backoff.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use lapin::Event;
use tokio::time::Instant;

use tamarco_core::error_chain;

use super::connection::{Link, connect};
use super::settings::Config;
use super::{AmqpState, Error, LinkState, raised};

/// The first connection, at start: retried with backoff until `connection_timeout` has
/// passed, so that a broker that starts at the same time as the service is waited for.
pub(crate) async fn connect_first(shared: &AmqpState, config: &Config) -> Result<Arc<Link>, Error> {
    let deadline = Instant::now() + config.connection_timeout;
    let mut backoff = config.reconnect.clone();
    loop {
        let error = match connect(shared, config).await {
            Ok(link) => return Ok(link),
            Err(error) => error,
        };
        let wait = backoff.next_delay();
        if Instant::now() + wait >= deadline {
            return Err(error);
        }
        tracing::warn!(
            resource = shared.resource(),
            "amqp: {}; retrying in {wait:?}",
            error_chain(&error)
        );
        tokio::time::sleep(wait).await;
    }
}

/// Watches the connection; when it is lost, reports `CONNECTING` (through the link state)
/// and reconnects with a doubling backoff until it succeeds or the resource stops.
pub(crate) async fn supervise(shared: Arc<AmqpState>, config: Arc<Config>, mut link: Arc<Link>) {
    let mut closing = shared.closing.subscribe();
    loop {
        let mut events: Option<Pin<Box<dyn Stream<Item = Event> + Send>>> =
            Some(Box::pin(link.connection.events_listener()));
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        while link.connected() {
            tokio::select! {
                event = next_event(&mut events) => {
                    if event.is_none() {
                        events = None;
                    }
                }
                () = link.suspect.notified() => {}
                _ = tick.tick() => {}
                () = raised(&mut closing) => return,
            }
        }
        link.mark_dead();
        if *closing.borrow() {
            return;
        }
        tracing::warn!(
            resource = shared.resource(),
            broker = config.describe(),
            "amqp: connection lost; reconnecting"
        );
        shared.link.send_if_modified(|state| match state {
            LinkState::Up(current) if current.generation == link.generation => {
                *state = LinkState::Down;
                true
            }
            _ => false,
        });
        let mut backoff = config.reconnect.clone();
        let mut wait = backoff.next_delay();
        link = loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = raised(&mut closing) => return,
            }
            match connect(&shared, &config).await {
                Ok(link) => break link,
                Err(error) => {
                    wait = backoff.next_delay();
                    tracing::warn!(
                        resource = shared.resource(),
                        "amqp: {}; next attempt in {wait:?}",
                        error_chain(&error)
                    );
                }
            }
        };
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        let published = shared.link.send_if_modified(|state| match state {
            LinkState::Closed => false,
            _ => {
                *state = LinkState::Up(Arc::clone(&link));
                true
            }
        });
        if !published {
            let _ = link.connection.close(200, "OK".into()).await;
            return;
        }
        tracing::info!(
            resource = shared.resource(),
            broker = config.describe(),
            "amqp: reconnected"
        );
    }
}

async fn next_event(
    events: &mut Option<Pin<Box<dyn Stream<Item = Event> + Send>>>,
) -> Option<Event> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}
