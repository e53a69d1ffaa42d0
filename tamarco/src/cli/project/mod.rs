//! `tamarco start_project` (alias `tamarco new`): the questions, their flags and defaults, and
//! the checked answers ([`ProjectOptions`]) that [`generate`] turns into a project.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use tamarco_core::BoxError;

use super::prompt::Prompter;

mod names;
mod render;

use names::{check_line, check_version};
pub use names::{check_name, check_slug};
pub use render::{files, generate};

/// The default project name, offered in a terminal.
pub const DEFAULT_NAME: &str = "my_service";

/// `tamarco start_project [NAME]`: each question as a flag, for scripts.
#[derive(Debug, Default, Args)]
pub struct ProjectArgs {
    /// The project name: the directory and the Cargo package (`orders`, `price-feed`).
    pub name: Option<String>,
    /// The short name: the Rust crate and the service's name (default: the name with `_` for
    /// `-`).
    #[arg(long)]
    pub slug: Option<String>,
    /// The author's full name.
    #[arg(long)]
    pub author: Option<String>,
    /// The author's email.
    #[arg(long)]
    pub email: Option<String>,
    /// The project's first version.
    #[arg(long = "project-version", value_name = "VERSION")]
    pub version: Option<String>,
    /// A one-line description, for Cargo.toml and the README.
    #[arg(long)]
    pub description: Option<String>,
    /// The resources, comma-separated (`http,postgres`), or `none`.
    #[arg(long, value_name = "LIST")]
    pub resources: Option<String>,
    /// Where the service reads its settings: a YAML file, or etcd (then the file seeds etcd).
    #[arg(long, value_enum)]
    pub settings: Option<SettingsSource>,
    /// Points the generated Cargo.toml at a local checkout of tamarco (the workspace root).
    #[arg(long, value_name = "DIR", conflicts_with = "tamarco_git")]
    pub tamarco_path: Option<PathBuf>,
    /// Points the generated Cargo.toml at a git repository of tamarco.
    #[arg(long, value_name = "URL")]
    pub tamarco_git: Option<String>,
    /// The branch, tag or commit of `--tamarco-git` (default: its default branch).
    #[arg(long, value_name = "REV", requires = "tamarco_git")]
    pub tamarco_rev: Option<String>,
    /// The directory to create the project in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Takes the default for every question no flag answers, even in a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Where a generated service reads its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SettingsSource {
    /// `settings.yml`, compiled in; a file named by `TAMARCO_YML_FILE` overrides it.
    #[default]
    File,
    /// etcd too (`TAMARCO_ETCD_HOST`, feature `etcd`), seeded with `tamarco etcd write-yml`.
    Etcd,
}

/// A resource the generated service can hold: each is a cargo feature of `tamarco`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum ResourceKind {
    /// An HTTP server with a route.
    Http,
    /// AMQP (RabbitMQ): an output and an input on one queue.
    Amqp,
    /// Kafka: an output and an input on one topic.
    Kafka,
    /// PostgreSQL, pooled.
    Postgres,
    /// Redis.
    Redis,
    /// InfluxDB 1.x: a point writer.
    Influxdb,
}

impl ResourceKind {
    /// Every kind, in the order of the questions.
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::Http,
        ResourceKind::Amqp,
        ResourceKind::Kafka,
        ResourceKind::Postgres,
        ResourceKind::Redis,
        ResourceKind::Influxdb,
    ];

    /// Its name in flags, in the cargo feature of `tamarco` and in the templates.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Http => "http",
            ResourceKind::Amqp => "amqp",
            ResourceKind::Kafka => "kafka",
            ResourceKind::Postgres => "postgres",
            ResourceKind::Redis => "redis",
            ResourceKind::Influxdb => "influxdb",
        }
    }

    /// The Debian packages its cargo feature needs to build (the README's table).
    pub fn build_packages(self) -> &'static [&'static str] {
        match self {
            ResourceKind::Http | ResourceKind::Amqp | ResourceKind::Postgres => &[],
            ResourceKind::Kafka => &["gcc", "make", "zlib1g-dev"],
            ResourceKind::Redis | ResourceKind::Influxdb => &["gcc"],
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses `http,postgres` (or `none`, or nothing): an unknown name is an error listing the
/// known ones.
pub fn parse_resources(list: &str) -> Result<BTreeSet<ResourceKind>, String> {
    let list = list.trim();
    if list.is_empty() || list == "none" {
        return Ok(BTreeSet::new());
    }
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            ResourceKind::from_str(item, true).map_err(|_| {
                let known: Vec<&str> = ResourceKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown resource `{item}`: choose from {}, or `none`",
                    known.join(", ")
                )
            })
        })
        .collect()
}

/// Where the generated Cargo.toml finds tamarco.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TamarcoSource {
    /// crates.io, this command's own version.
    Registry,
    /// A local checkout: the workspace root, which holds `tamarco/`.
    Path(PathBuf),
    /// A git repository, at a branch, tag or commit.
    Git {
        /// The repository.
        url: String,
        /// The branch, tag or commit.
        rev: Option<String>,
    },
}

/// Every answer, checked: what [`generate`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectOptions {
    /// The project name: directory and Cargo package.
    pub name: String,
    /// The Rust crate and service name.
    pub slug: String,
    /// The author's full name.
    pub author: String,
    /// The author's email.
    pub email: String,
    /// The first version.
    pub version: String,
    /// The one-line description.
    pub description: String,
    /// The resources the service holds.
    pub resources: BTreeSet<ResourceKind>,
    /// Where it reads its settings.
    pub settings: SettingsSource,
    /// Where its Cargo.toml finds tamarco.
    pub tamarco: TamarcoSource,
    /// The directory the project is created in.
    pub parent: PathBuf,
}

impl ProjectOptions {
    /// The defaults for project `name`, created in `parent`, with nothing asked.
    pub fn new(name: &str, parent: impl Into<PathBuf>) -> Result<Self, BoxError> {
        ProjectArgs {
            name: Some(name.to_owned()),
            dir: parent.into(),
            yes: true,
            ..ProjectArgs::default()
        }
        .resolve(&mut Prompter::none())
    }

    /// The directory the project is written to.
    pub fn dir(&self) -> PathBuf {
        self.parent.join(&self.name)
    }
}

impl ProjectArgs {
    /// Answers every question: a flag's value, else the prompter's answer (in a terminal),
    /// else the default. Errors say which answer is wrong and what a valid one is.
    pub fn resolve(self, prompt: &mut Prompter) -> Result<ProjectOptions, BoxError> {
        if self.yes {
            prompt.stop_asking();
        }
        let name = match self.name {
            Some(name) => name,
            None if prompt.is_interactive() => prompt.ask("Project name", DEFAULT_NAME, |v| {
                check_name(v).map(|()| v.to_owned())
            })?,
            None if self.yes => DEFAULT_NAME.to_owned(),
            None => {
                return Err(
                    "no project name: give it (`tamarco new NAME`), or run in a terminal \
                            to be asked"
                        .into(),
                );
            }
        };
        check_name(&name)?;
        let slug_default = name.replace('-', "_").to_ascii_lowercase();
        let slug = answer(prompt, self.slug, "Project slug", &slug_default, check_slug)?;
        let author = answer(prompt, self.author, "Full name", "Your Name", |v| {
            check_line("author", v)
        })?;
        let email = answer(prompt, self.email, "Email", "you@example.com", |v| {
            check_line("email", v)
        })?;
        let version = answer(prompt, self.version, "Version", "0.1.0", check_version)?;
        let description = answer(
            prompt,
            self.description,
            "Project short description",
            "A tamarco microservice.",
            |v| check_line("description", v),
        )?;
        let resources = match self.resources {
            Some(list) => parse_resources(&list)?,
            None => prompt.ask(
                "Resources (http, amqp, kafka, postgres, redis, influxdb; comma-separated, or none)",
                "http",
                parse_resources,
            )?,
        };
        let settings = match self.settings {
            Some(settings) => settings,
            None => prompt.ask("Settings source (file, etcd)", "file", |v| {
                SettingsSource::from_str(v.trim(), true)
                    .map_err(|_| format!("unknown settings source `{v}`: choose file or etcd"))
            })?,
        };
        let tamarco = match (self.tamarco_path, self.tamarco_git) {
            (Some(path), _) => TamarcoSource::Path(checkout(&path)?),
            (None, Some(url)) => TamarcoSource::Git {
                url,
                rev: self.tamarco_rev,
            },
            (None, None) => TamarcoSource::Registry,
        };
        Ok(ProjectOptions {
            name,
            slug,
            author,
            email,
            version,
            description,
            resources,
            settings,
            tamarco,
            parent: self.dir,
        })
    }
}

/// A flag's value (checked), else the question's answer.
fn answer(
    prompt: &mut Prompter,
    given: Option<String>,
    question: &str,
    default: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<String, BoxError> {
    match given {
        Some(value) => {
            check(&value)?;
            Ok(value)
        }
        None => Ok(prompt.ask(question, default, |v| check(v).map(|()| v.to_owned()))?),
    }
}

/// The absolute path of a tamarco checkout, which must hold `tamarco/Cargo.toml`.
fn checkout(path: &Path) -> Result<PathBuf, BoxError> {
    let path = std::fs::canonicalize(path)
        .map_err(|e| format!("--tamarco-path `{}`: {e}", path.display()))?;
    if !path.join("tamarco").join("Cargo.toml").is_file() {
        return Err(format!(
            "--tamarco-path `{}` is not a tamarco checkout: it has no tamarco/Cargo.toml",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// Tells the user where the project is and its two commands.
pub fn print_next_steps(
    options: &ProjectOptions,
    dir: &Path,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "created {} in {}", options.name, dir.display())?;
    writeln!(out, "  cd {}", dir.display())?;
    writeln!(
        out,
        "  cargo run      # the service; /status on 127.0.0.1:5747"
    )?;
    writeln!(
        out,
        "  cargo test     # its tests (see README.md for what they need)"
    )
}

#[cfg(test)]
mod tests;
