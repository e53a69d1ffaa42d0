//! The project's files: templates embedded at compile time (`tamarco/templates/project/`),
//! rendered with minijinja from the answers, and written to a new directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use tamarco_core::BoxError;

use super::{ProjectOptions, ResourceKind, SettingsSource, TamarcoSource};

/// Each file of a project: its path in the project, and its template.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../templates/project/Cargo.toml.jinja"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../templates/project/src/lib.rs.jinja"),
    ),
    (
        "src/main.rs",
        include_str!("../../../templates/project/src/main.rs.jinja"),
    ),
    (
        "settings.yml",
        include_str!("../../../templates/project/settings.yml.jinja"),
    ),
    (
        "tests/service.rs",
        include_str!("../../../templates/project/tests/service.rs.jinja"),
    ),
    (
        "README.md",
        include_str!("../../../templates/project/README.md.jinja"),
    ),
    (
        "Dockerfile",
        include_str!("../../../templates/project/Dockerfile.jinja"),
    ),
    (
        "deploy/kubernetes.yml",
        include_str!("../../../templates/project/deploy/kubernetes.yml.jinja"),
    ),
    (
        ".github/workflows/ci.yml",
        include_str!("../../../templates/project/.github/workflows/ci.yml.jinja"),
    ),
    (
        ".gitignore",
        include_str!("../../../templates/project/gitignore.jinja"),
    ),
];

/// What the templates see.
#[derive(Debug, Serialize)]
struct Context<'a> {
    name: &'a str,
    slug: &'a str,
    struct_name: String,
    k8s_name: String,
    author: &'a str,
    email: &'a str,
    version: &'a str,
    description: &'a str,
    http: bool,
    amqp: bool,
    kafka: bool,
    postgres: bool,
    redis: bool,
    influxdb: bool,
    etcd: bool,
    any_resource: bool,
    /// `path = "..."`, `git = "..."` or `version = "..."`.
    tamarco_dep: String,
    /// `"http", "postgres"`: the features of `tamarco`.
    features: String,
    /// `http and postgres`, for prose.
    resources_list: String,
    /// The servers the service needs (`PostgreSQL and Redis`), or empty.
    needs: String,
    /// The servers its tests need (CI's service containers): AMQP and Kafka run on the
    /// harness's in-memory broker.
    test_needs: String,
    /// What runs on in-memory brokers in the tests (`AMQP and Kafka`), or empty.
    in_memory: String,
    /// Debian packages for the build, space-separated.
    build_packages: String,
}

impl<'a> Context<'a> {
    fn new(options: &'a ProjectOptions) -> Self {
        let has = |kind| options.resources.contains(&kind);
        let etcd = options.settings == SettingsSource::Etcd;
        let mut features: Vec<&str> = options.resources.iter().map(|k| k.name()).collect();
        let mut packages: BTreeSet<&str> = options
            .resources
            .iter()
            .flat_map(|k| k.build_packages().iter().copied())
            .collect();
        if etcd {
            features.push("etcd");
            packages.extend(["protobuf-compiler", "libprotobuf-dev"]);
        }
        let servers: Vec<&str> = options
            .resources
            .iter()
            .filter_map(|kind| match kind {
                ResourceKind::Http => None,
                ResourceKind::Amqp => Some("RabbitMQ"),
                ResourceKind::Kafka => Some("Kafka"),
                ResourceKind::Postgres => Some("PostgreSQL"),
                ResourceKind::Redis => Some("Redis"),
                ResourceKind::Influxdb => Some("InfluxDB"),
            })
            .collect();
        let names: Vec<&str> = options.resources.iter().map(|k| k.name()).collect();
        Context {
            name: &options.name,
            slug: &options.slug,
            struct_name: camel_case(&options.slug),
            k8s_name: options.name.replace('_', "-").to_ascii_lowercase(),
            author: &options.author,
            email: &options.email,
            version: &options.version,
            description: &options.description,
            http: has(ResourceKind::Http),
            amqp: has(ResourceKind::Amqp),
            kafka: has(ResourceKind::Kafka),
            postgres: has(ResourceKind::Postgres),
            redis: has(ResourceKind::Redis),
            influxdb: has(ResourceKind::Influxdb),
            etcd,
            any_resource: !options.resources.is_empty(),
            tamarco_dep: dependency(&options.tamarco),
            features: features
                .iter()
                .map(|f| format!("\"{f}\""))
                .collect::<Vec<_>>()
                .join(", "),
            resources_list: and_list(&names),
            needs: and_list(&servers),
            test_needs: and_list(
                &servers
                    .iter()
                    .copied()
                    .filter(|server| !["RabbitMQ", "Kafka"].contains(server))
                    .collect::<Vec<_>>(),
            ),
            in_memory: and_list(
                &[(ResourceKind::Amqp, "AMQP"), (ResourceKind::Kafka, "Kafka")]
                    .into_iter()
                    .filter(|(kind, _)| has(*kind))
                    .map(|(_, name)| name)
                    .collect::<Vec<_>>(),
            ),
            build_packages: packages.into_iter().collect::<Vec<_>>().join(" "),
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `price_feed` → `PriceFeed`.
fn camel_case(slug: &str) -> String {
    slug.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The generated Cargo.toml's way to tamarco, without `features`.
fn dependency(source: &TamarcoSource) -> String {
    match source {
        TamarcoSource::Registry => format!("version = \"{}\"", env!("CARGO_PKG_VERSION")),
        TamarcoSource::Path(root) => {
            format!(
                "path = {}",
                toml_string(&root.join("tamarco").to_string_lossy())
            )
        }
        TamarcoSource::Git { url, rev: None } => format!("git = {}", toml_string(url)),
        TamarcoSource::Git {
            url,
            rev: Some(rev),
        } => {
            format!("git = {}, rev = {}", toml_string(url), toml_string(rev))
        }
    }
}

/// A TOML basic string: quotes and backslashes escaped.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Every file of the project, rendered: its path in the project and its text.
pub fn files(options: &ProjectOptions) -> Result<Vec<(&'static str, String)>, BoxError> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let context = Context::new(options);
    TEMPLATES
        .iter()
        .map(|&(path, source)| {
            let template = env
                .template_from_named_str(path, source)
                .map_err(|e| format!("template `{path}`: {e}"))?;
            let text = template
                .render(&context)
                .map_err(|e| format!("template `{path}`: {e}"))?;
            Ok((path, text))
        })
        .collect()
}

/// Writes the project to a new directory, `options.dir()`, and returns it. Refuses to touch
/// an existing directory.
pub fn generate(options: &ProjectOptions) -> Result<PathBuf, BoxError> {
    let files = files(options)?;
    let dir = options.dir();
    std::fs::create_dir_all(&options.parent)
        .map_err(|e| format!("cannot create `{}`: {e}", options.parent.display()))?;
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!(
                "`{}` already exists: choose another project name or directory (--dir), or \
                 remove it",
                dir.display()
            )
            .into());
        }
        Err(e) => return Err(format!("cannot create `{}`: {e}", dir.display()).into()),
    }
    for (path, text) in files {
        write(&dir, path, &text)?;
    }
    Ok(dir)
}

fn write(dir: &Path, path: &str, text: &str) -> Result<(), BoxError> {
    let target = dir.join(path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
    }
    std::fs::write(&target, text)
        .map_err(|e| format!("cannot write `{}`: {e}", target.display()))?;
    Ok(())
}
