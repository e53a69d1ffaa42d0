//! `GET /loggers` and `POST /loggers/{target}`: the effective level of the root and of each
//! configured target, changed at run time. See [`crate::logging::set_level`] for which wins
//! among a run-time change, `RUST_LOG` and the settings.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::logging;

/// The body of `POST /loggers/{target}`: `{"level": "debug"}`, or `{"level": null}` to go back
/// to what the settings or `RUST_LOG` say.
#[derive(Debug, Deserialize)]
pub(crate) struct Change {
    level: Option<String>,
}

/// `GET /loggers`.
pub(crate) async fn list() -> Json<Value> {
    Json(document())
}

/// `POST /loggers/{target}`: answers with the new list, or 400 naming what was wrong.
pub(crate) async fn change(
    Path(target): Path<String>,
    Json(change): Json<Change>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let bad = |error: logging::LevelError| (StatusCode::BAD_REQUEST, error.to_string());
    let level = change
        .level
        .as_deref()
        .map(logging::parse_level)
        .transpose()
        .map_err(bad)?;
    logging::set_level(&target, level).map_err(bad)?;
    tracing::info!(
        target: logging::TARGET,
        logger = %target,
        level = change.level.as_deref().unwrap_or("reset"),
        "logger level changed at run time"
    );
    Ok(Json(document()))
}

fn document() -> Value {
    json!({
        "loggers": logging::levels(),
        "levels": ["off", "error", "warn", "info", "debug", "trace"],
        "precedence": ["runtime", "rust_log", "settings"],
    })
}
