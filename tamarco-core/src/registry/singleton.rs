//! Cluster singletons: a task that runs only while this instance leads its election, and is
//! cancelled the moment the lead is lost (see the fencing rule in [`super`]).

use std::future::Future;

use crate::shutdown::ShutdownHandle;

/// This instance's candidacy for one singleton.
pub(crate) enum Candidate {
    /// No etcd: this instance always leads.
    Local,
    /// An etcd election.
    #[cfg(feature = "etcd")]
    Etcd(Box<super::etcd::Election>),
}

/// A won election.
pub(crate) enum Lead {
    /// Local: never lost.
    Local,
    /// On an etcd lease.
    #[cfg(feature = "etcd")]
    Etcd(Box<super::etcd::Term>),
}

impl Candidate {
    /// Waits until this instance leads.
    pub(crate) async fn lead(&mut self) -> Lead {
        match self {
            Candidate::Local => Lead::Local,
            #[cfg(feature = "etcd")]
            Candidate::Etcd(election) => Lead::Etcd(Box::new(election.lead().await)),
        }
    }
}

impl Lead {
    /// Completes when this instance must stop acting.
    pub(crate) async fn lost(&mut self) {
        match self {
            Lead::Local => std::future::pending().await,
            #[cfg(feature = "etcd")]
            Lead::Etcd(term) => term.lost().await,
        }
    }

    /// Gives the lead up, so that another instance takes over at once.
    pub(crate) async fn resign(self) {
        match self {
            Lead::Local => {}
            #[cfg(feature = "etcd")]
            Lead::Etcd(term) => term.resign().await,
        }
    }
}

/// Runs `work` (a task, or a timer's loop) whenever this instance leads the singleton `task`,
/// cancelling it when the lead is lost and campaigning again, until the service stops. Work
/// that finishes by itself (a one-shot timer) keeps the lead until the stop, so that it runs
/// once, not once per instance.
pub(crate) async fn run<F, W>(
    task: &'static str,
    mut candidate: Candidate,
    shutdown: ShutdownHandle,
    mut work: F,
) where
    F: FnMut() -> W,
    W: Future<Output = ()>,
{
    loop {
        let mut lead = tokio::select! {
            lead = candidate.lead() => lead,
            () = shutdown.stopping() => return,
        };
        tracing::info!(task, "this instance leads the singleton");
        tokio::select! {
            () = work() => {
                shutdown.stopping().await;
                lead.resign().await;
                return;
            }
            () = lead.lost() => {
                tracing::warn!(
                    task,
                    "lost the lead of the singleton (etcd lease at risk); cancelled its run"
                );
                lead.resign().await;
            }
        }
    }
}
