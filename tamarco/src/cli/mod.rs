//! The `tamarco` command line (feature `cli`).
//!
//! ```text
//! tamarco start_project                   # asks the questions, writes ./<project name>
//! tamarco new orders --resources http,postgres --settings file
//! tamarco etcd write-yml settings.yml     # with feature `etcd` too: settings in etcd
//! ```
//!
//! `start_project` needs nothing but the Rust toolchain to build; the `etcd` subcommands need
//! the feature `etcd` (and so `protoc`), and say so when it is off.

use std::io::Write;

use clap::{Parser, Subcommand};
use tamarco_core::BoxError;

#[cfg(feature = "etcd")]
pub mod etcd;
pub mod project;
pub mod prompt;

/// `tamarco`: tools for tamarco services.
#[derive(Debug, Parser)]
#[command(name = "tamarco", version, about = "Tools for tamarco services")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The tool's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes a new service project: asks for what no flag gives (in a terminal), else takes
    /// the defaults.
    #[command(name = "start_project", visible_alias = "new")]
    StartProject(Box<project::ProjectArgs>),
    /// Settings stored in etcd.
    #[cfg(feature = "etcd")]
    Etcd(etcd::EtcdArgs),
    /// Settings stored in etcd: not in this build (install the `tamarco` command with the
    /// cargo features `cli,etcd`, which need `protoc`).
    #[cfg(not(feature = "etcd"))]
    Etcd {
        /// Ignored: the subcommand is not in this build.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<String>,
    },
}

#[cfg(not(feature = "etcd"))]
const NO_ETCD: &str = "`tamarco etcd` is not in this build: install the `tamarco` command with \
                       the cargo features `cli,etcd` (they need protoc)";

/// Runs `cli`, printing results to `out`. Errors name the file, key, directory or endpoints at
/// fault.
pub async fn run(cli: Cli, out: &mut (dyn Write + Send)) -> Result<(), BoxError> {
    match cli.command {
        Command::StartProject(args) => {
            let options = (*args).resolve(&mut prompt::Prompter::from_stdin())?;
            let dir = project::generate(&options)?;
            project::print_next_steps(&options, &dir, out)?;
            Ok(())
        }
        #[cfg(feature = "etcd")]
        Command::Etcd(args) => etcd::run(args, out).await,
        #[cfg(not(feature = "etcd"))]
        Command::Etcd { .. } => Err(NO_ETCD.into()),
    }
}
