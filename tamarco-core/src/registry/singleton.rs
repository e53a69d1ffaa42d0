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

    /// Whether an instance of the cluster already completed the work (never, locally).
    async fn is_done(&mut self) -> bool {
        match self {
            Candidate::Local => false,
            #[cfg(feature = "etcd")]
            Candidate::Etcd(election) => election.is_done().await,
        }
    }

    /// Records that the work completed, for as long as this instance lives.
    async fn mark_done(&mut self) {
        match self {
            Candidate::Local => {}
            #[cfg(feature = "etcd")]
            Candidate::Etcd(election) => election.mark_done().await,
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
/// cancelling it when the lead is lost and campaigning again, until the service stops.
///
/// Work that completes by itself (a one-shot timer, a task that returns) is done for the
/// cluster: the instance marks it done, then gives the lead up, and an instance that leads
/// later finds the mark and does not run it again. The mark lives on the leases of the
/// instances that saw it, so it lasts while any of them runs; a cluster started afresh runs
/// the work again.
pub(crate) async fn run<F, W>(
    task: &'static str,
    mut candidate: Candidate,
    shutdown: ShutdownHandle,
    mut work: F,
) where
    F: FnMut() -> W,
    W: Future<Output = ()>,
{
    let completed = async {
        loop {
            if candidate.is_done().await {
                candidate.mark_done().await;
                return;
            }
            let mut lead = candidate.lead().await;
            if candidate.is_done().await {
                candidate.mark_done().await;
                lead.resign().await;
                return;
            }
            tracing::info!(task, "this instance leads the singleton");
            tokio::select! {
                () = work() => {
                    candidate.mark_done().await;
                    lead.resign().await;
                    tracing::info!(task, "the singleton's work completed; lead given up");
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
    };
    tokio::select! {
        () = completed => {}
        () = shutdown.stopping() => return,
    }
    // Done: the candidacy, held until the stop, keeps this instance's done mark.
    let _held = candidate;
    shutdown.stopping().await;
}
