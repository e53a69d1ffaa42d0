//! Sending: waiting for a live connection, publishing with a confirm, and sending again on
//! the next connection when the first one dies under the message.

use std::time::Duration;

use lapin::BasicProperties;
use tokio::time::Instant;

use tamarco_core::error_chain;

use super::connection::{Link, PublishFailure};
use super::target::Target;
use super::{AmqpState, Error, LinkState};
use std::sync::Arc;

impl AmqpState {
    pub(crate) fn publish_deadline(&self) -> Instant {
        let timeout = self
            .config()
            .map_or(Duration::from_secs(30), |c| c.publish_timeout);
        Instant::now() + timeout
    }

    /// The live connection, waiting for it until `deadline` while it is down.
    pub(crate) async fn wait_link(&self, deadline: Instant) -> Result<Arc<Link>, Error> {
        if let LinkState::Up(link) = &*self.link.borrow() {
            return Ok(Arc::clone(link));
        }
        let started = Instant::now();
        let mut states = self.link.subscribe();
        let waited = tokio::time::timeout_at(
            deadline,
            states.wait_for(|s| matches!(s, LinkState::Up(_) | LinkState::Closed)),
        )
        .await;
        match waited {
            Ok(Ok(state)) => match &*state {
                LinkState::Up(link) => Ok(Arc::clone(link)),
                _ => Err(self.stopped()),
            },
            Ok(Err(_)) => Err(self.stopped()),
            Err(_) => Err(Error::NotConnected {
                resource: self.resource().to_owned(),
                waited: started.elapsed(),
            }),
        }
    }

    /// Waits until the connection `generation` was replaced (or the resource stopped).
    pub(crate) async fn wait_new_link(
        &self,
        generation: u64,
        deadline: Instant,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut states = self.link.subscribe();
        let waited = tokio::time::timeout_at(
            deadline,
            states.wait_for(|s| match s {
                LinkState::Up(link) => link.generation != generation,
                LinkState::Closed => true,
                LinkState::Idle | LinkState::Down => false,
            }),
        )
        .await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(self.stopped()),
            Err(_) => Err(Error::NotConnected {
                resource: self.resource().to_owned(),
                waited: started.elapsed(),
            }),
        }
    }

    /// Publishes with a confirm; across a reconnection, sends again on the new connection.
    pub(crate) async fn publish(
        &self,
        target: &Target,
        body: &[u8],
        properties: BasicProperties,
        deadline: Instant,
    ) -> Result<(), Error> {
        #[cfg(feature = "tracing-otel")]
        let (properties, _span) = super::trace::producer(&target.label, properties);
        if self.publish_in_memory(target, body, &properties) {
            return Ok(());
        }
        loop {
            let link = self.wait_link(deadline).await?;
            // The deadline bounds the confirm too: a broker that stops confirming (a memory
            // alarm blocks publishers) fails the send instead of hanging it.
            let published =
                tokio::time::timeout_at(deadline, link.publish_once(target, body, &properties))
                    .await
                    .unwrap_or_else(|_| {
                        Err(PublishFailure::Final(Error::Unconfirmed {
                            target: target.label.clone(),
                        }))
                    });
            match published {
                Ok(()) => return Ok(()),
                Err(PublishFailure::Final(error)) => return Err(error),
                Err(PublishFailure::Retry(error)) => {
                    tracing::debug!(
                        resource = self.resource(),
                        "amqp: {}; sending again after reconnecting",
                        error_chain(&error)
                    );
                    link.suspect.notify_one();
                    if Instant::now() >= deadline {
                        return Err(error);
                    }
                    self.wait_new_link(link.generation, deadline).await?;
                }
            }
        }
    }
}
