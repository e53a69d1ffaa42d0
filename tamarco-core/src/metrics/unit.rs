//! Units of measurement by metric name, as the Python original's meters carried them
//! (`Counter("http_requests", "requests")`). The Carbon, file and stdout reporters put the unit
//! at the end of each path (`…__requests`); Prometheus has no place for it.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

fn units() -> &'static RwLock<HashMap<String, String>> {
    static UNITS: OnceLock<RwLock<HashMap<String, String>>> = OnceLock::new();
    UNITS.get_or_init(Default::default)
}

/// Sets the unit of every meter named `name` (without the service prefix): `requests`,
/// `seconds`, `bytes`... The last one set wins.
pub fn set_unit(name: &str, unit: &str) {
    let mut units = units().write().expect("units lock");
    if units.get(name).map(String::as_str) != Some(unit) {
        units.insert(name.to_owned(), unit.to_owned());
    }
}

/// The unit of the meters named `name`: the one set, else the Prometheus naming convention's
/// (`_seconds`, `_bytes`, `_ratio` ends), else empty.
pub fn unit_of(name: &str) -> String {
    if let Some(unit) = units().read().expect("units lock").get(name) {
        return unit.clone();
    }
    let base = name.strip_suffix("_total").unwrap_or(name);
    ["seconds", "bytes", "ratio"]
        .into_iter()
        .find(|unit| base.ends_with(&format!("_{unit}")))
        .unwrap_or_default()
        .to_owned()
}
