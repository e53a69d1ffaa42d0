//! [`Profile`]: the logging profile, with the original's names.

use std::fmt;
use std::str::FromStr;

use tracing::Level;

/// A logging profile: the level of the service's own records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// `DEVELOP`: debug and above.
    Develop,
    /// `PRODUCTION`: info and above (the default).
    Production,
    /// `TESTING`: debug and above.
    Testing,
}

impl Profile {
    /// The level of records the profile lets through.
    pub fn level(self) -> Level {
        match self {
            Profile::Develop | Profile::Testing => Level::DEBUG,
            Profile::Production => Level::INFO,
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "DEVELOP" => Ok(Profile::Develop),
            "PRODUCTION" => Ok(Profile::Production),
            "TESTING" => Ok(Profile::Testing),
            _ => Err(format!(
                "unknown profile {s:?} (expected DEVELOP, PRODUCTION or TESTING)"
            )),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Develop => "DEVELOP",
            Profile::Production => "PRODUCTION",
            Profile::Testing => "TESTING",
        })
    }
}
