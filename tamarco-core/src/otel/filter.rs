//! What the OpenTelemetry layer sees: its own filter, not the log level. Framework spans are
//! exported while the log level is `warning`, and with tracing off the layer sees nothing (every
//! callsite's interest is `never` for it, so a span costs it nothing).
//!
//! While tracing is on it sees spans and events at `info` and above, except those made while an
//! unsampled request or message is polled ([`super::sampling`]).

use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};

/// The most verbose level exported.
const EXPORTED: Level = Level::INFO;

/// The per-layer filter of the OpenTelemetry layer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExportFilter;

impl<S> Filter<S> for ExportFilter {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        super::enabled() && *meta.level() <= EXPORTED && !super::sampling::in_unsampled()
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        // `sometimes`: whether a request is sampled is known only when its span is made.
        match super::enabled() && *meta.level() <= EXPORTED {
            true => Interest::sometimes(),
            false => Interest::never(),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match super::enabled() {
            true => LevelFilter::from_level(EXPORTED),
            false => LevelFilter::OFF,
        })
    }
}
