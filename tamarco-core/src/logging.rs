//! Logging set-up on `tracing`: a stdout subscriber whose level follows
//! `system.logging.profile` (DEVELOP and TESTING: debug; PRODUCTION: info). `RUST_LOG`, when
//! set, wins. Records from crates that use the `log` crate arrive too.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::Settings;

/// Installs the stdout subscriber, unless the program installed one already.
pub(crate) fn init(settings: &Settings) {
    let profile: String = settings
        .get_or("system.logging.profile", "PRODUCTION".to_owned())
        .unwrap_or_else(|_| "PRODUCTION".to_owned());
    let (level, known) = match profile.to_ascii_uppercase().as_str() {
        "DEVELOP" | "TESTING" => ("debug", true),
        "PRODUCTION" => ("info", true),
        _ => ("info", false),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init()
        .is_ok();
    if installed && !known {
        tracing::warn!(
            "setting `system.logging.profile`: unknown profile {profile:?} (expected DEVELOP, PRODUCTION or TESTING); using PRODUCTION"
        );
    }
}
