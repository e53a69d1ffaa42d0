//! `tamarco etcd ...` (features `cli` and `etcd`): settings in etcd, with the same key mapping
//! and YAML reading as a service.
//!
//! ```text
//! tamarco etcd write-yml settings.yml     # every leaf of the file to etcd (merged); or write_yml
//! tamarco etcd read system.resources.db   # a leaf or a subtree, as YAML
//! tamarco etcd delete system.resources.db # a key and everything under it
//! ```
//!
//! etcd is found through the same environment as a service (`TAMARCO_ETCD_HOST`,
//! `TAMARCO_ETCD_PORT`, `TAMARCO_ETCD_ENDPOINTS`, `TAMARCO_ETCD_USER`/`PASSWORD`,
//! `TAMARCO_ETCD_PREFIX`, TLS...), or `--endpoints` and `--prefix`. Every YAML scalar round
//! trips: `'123'` and `'true'` stay strings, `123`, `1.5`, `true`, `null` and lists keep
//! their types.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use tamarco_core::BoxError;
use tamarco_core::settings::etcd::{
    ENDPOINTS_VAR, EtcdConfig, EtcdStore, HOST_VAR, PORT_VAR, PREFIX_VAR,
};
use tamarco_core::settings::{SettingsError, sources};

/// `tamarco etcd ...`: where etcd is, and what to do there.
#[derive(Debug, Args)]
pub struct EtcdArgs {
    /// etcd endpoints, comma-separated (`127.0.0.1:2379`); default: from TAMARCO_ETCD_HOST,
    /// TAMARCO_ETCD_PORT and TAMARCO_ETCD_ENDPOINTS, else 127.0.0.1:2379 as the original tool.
    #[arg(long, global = true, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// The etcd host, as the Python original's `--host` (with `--port`, default 2379).
    #[arg(long, global = true, conflicts_with = "endpoints")]
    pub host: Option<String>,
    /// The etcd port, as the Python original's `--port`.
    #[arg(long, global = true, conflicts_with = "endpoints")]
    pub port: Option<u16>,
    /// Prefix of every etcd key; default: TAMARCO_ETCD_PREFIX, or none.
    #[arg(long, global = true)]
    pub prefix: Option<String>,
    /// The operation.
    #[command(subcommand)]
    pub command: EtcdCommand,
}

/// Operations on settings in etcd.
#[derive(Debug, Subcommand)]
pub enum EtcdCommand {
    /// Writes every leaf of a YAML (or JSON) file to etcd, keeping other keys. `write_yml`,
    /// the Python original's name, works too.
    #[command(visible_alias = "write_yml")]
    WriteYml {
        /// The file.
        file: PathBuf,
    },
    /// Prints the value at a dotted key (a leaf, or a subtree as a map) as YAML.
    Read {
        /// The dotted key (`system.resources.db`).
        key: String,
    },
    /// Deletes a dotted key and everything under it.
    Delete {
        /// The dotted key.
        key: String,
    },
}

/// Runs `tamarco etcd ...`, printing results to `out`. Errors name the file and line, the key,
/// or the etcd endpoints.
pub async fn run(args: EtcdArgs, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    let store = EtcdStore::connect(config(&args)?).await?;
    match args.command {
        EtcdCommand::WriteYml { file } => {
            let document = sources::read_document(&file)?;
            let count = store.write_document(&document).await?;
            writeln!(
                out,
                "wrote {count} keys from {} to {}",
                file.display(),
                store.describe()
            )?;
        }
        EtcdCommand::Read { key } => match store.get(&key).await? {
            Some(value) => write!(out, "{}", serde_yaml_ng::to_string(&value)?)?,
            None => return Err(SettingsError::Missing { key }.into()),
        },
        EtcdCommand::Delete { key } => {
            let (deleted, _) = store.delete(&key).await?;
            writeln!(out, "deleted {deleted} keys at and under `{key}`")?;
        }
    }
    Ok(())
}

/// The etcd configuration: the environment's, with `--endpoints` (or `--host`/`--port`) and
/// `--prefix` taking over; with none of them, 127.0.0.1:2379, the original tool's default.
fn config(args: &EtcdArgs) -> Result<EtcdConfig, SettingsError> {
    let endpoints = args.endpoints.join(",");
    let port = args.port.map(|port| port.to_string());
    let config = EtcdConfig::from_vars(|name| match name {
        HOST_VAR if !endpoints.is_empty() => None,
        HOST_VAR if args.host.is_some() => args.host.clone(),
        PORT_VAR if port.is_some() => port.clone(),
        ENDPOINTS_VAR if !endpoints.is_empty() => Some(endpoints.clone()),
        ENDPOINTS_VAR if args.host.is_some() => None,
        PREFIX_VAR if args.prefix.is_some() => args.prefix.clone(),
        _ => std::env::var(name).ok(),
    })?;
    match config {
        Some(config) => Ok(config),
        None => EtcdConfig::from_vars(|name| match name {
            HOST_VAR => Some("127.0.0.1".to_owned()),
            PORT_VAR => port.clone().or_else(|| std::env::var(name).ok()),
            ENDPOINTS_VAR => None,
            PREFIX_VAR if args.prefix.is_some() => args.prefix.clone(),
            _ => std::env::var(name).ok(),
        })?
        .ok_or_else(|| SettingsError::Source {
            source_name: "etcd".into(),
            message: format!(
                "no endpoints: pass --endpoints, or set {HOST_VAR} or {ENDPOINTS_VAR}"
            ),
        }),
    }
}
