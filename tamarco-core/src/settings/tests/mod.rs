//! Unit tests of the settings model, its sources, errors and watches, by concept: `layers`
//! (defaults, in-code settings, the per-service override, precedence, environment values),
//! `errors` (what a bad or missing value names, and never shows), `files` (YAML, TOML and JSON
//! files and their errors) and `watches` (watch callbacks, live handles, bad live updates).

mod errors;
mod files;
mod layers;
mod watches;

use serde::Deserialize;
use serde_json::json;

use super::*;
