//! The log levels, as the filter of the logging layer alone: what is exported as traces (feature
//! `tracing-otel`) has a filter of its own, so a span is exported at any log level. The spans
//! made only for the exporter (target [`UNLOGGED_TARGET`](crate::otel::UNLOGGED_TARGET)) are
//! left out at every level.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, Filter};

/// The current levels; [`LevelsFilter::set`] replaces them at once for every callsite.
#[derive(Clone, Debug)]
pub(crate) struct LevelsFilter(Arc<ArcSwap<Targets>>);

impl LevelsFilter {
    pub(crate) fn new(levels: Targets) -> Self {
        LevelsFilter(Arc::new(ArcSwap::from_pointee(levels)))
    }

    pub(crate) fn set(&self, levels: Targets) {
        self.0.store(Arc::new(levels));
        // Each callsite cached what the old levels said about it.
        tracing::callsite::rebuild_interest_cache();
    }
}

impl<S> Filter<S> for LevelsFilter {
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        logged(meta) && Filter::<S>::enabled(&**self.0.load(), meta, cx)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        match logged(meta) {
            true => Filter::<S>::callsite_enabled(&**self.0.load(), meta),
            false => Interest::never(),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&**self.0.load())
    }
}

/// Whether the callsite is for logs at all: not a span made only for the exporter.
#[cfg(feature = "tracing-otel")]
fn logged(meta: &Metadata<'_>) -> bool {
    meta.target() != crate::otel::UNLOGGED_TARGET
}

#[cfg(not(feature = "tracing-otel"))]
fn logged(_: &Metadata<'_>) -> bool {
    true
}
