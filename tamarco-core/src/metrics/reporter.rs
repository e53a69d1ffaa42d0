//! The reporters that receive samples every `collect_frequency` seconds: Carbon (Graphite
//! plaintext over TCP), a file and stdout, all with the same lines, `<path> <value> <unix time>`.
//! The path follows one of two schemes ([`PathScheme`]):
//!
//! - `original` (the default), the Python original's, so that existing Graphite dashboards
//!   keep working: `<deploy_name>.<service>.<hostname>.<id>_<type>_<labels>__<unit>`, where
//!   `<type>` is `counter`, `gauge` or `summary`, `<labels>` is `<key>_<value>` pairs joined by
//!   dots (a summary's quantile is the label `quantile`), and `<unit>` the meter's unit;
//! - `tamarco`: `<deploy_name>.<service>.<hostname>.<metric>[.<label>_<value>...]`, every part
//!   reduced to letters, digits, `_` and `-`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::render::Sample;
use super::unit::unit_of;

/// How samples become Graphite paths: `system.resources.metrics.path_scheme`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PathScheme {
    /// The Python original's `<id>_<type>_<labels>__<unit>`.
    #[default]
    Original,
    /// One path segment per label.
    Tamarco,
}

/// Turns samples into Graphite plaintext lines under `path_prefix` (which ends in a dot, or is
/// empty). `service_prefix` (`<service>_`) is taken off metric names: the path already holds it.
pub(crate) fn graphite_lines(
    samples: &[Sample],
    path_prefix: &str,
    service_prefix: &str,
    unix_time: u64,
    scheme: PathScheme,
) -> String {
    let mut out = String::new();
    for sample in samples {
        let name = sample
            .name
            .strip_prefix(service_prefix)
            .unwrap_or(&sample.name);
        out.push_str(path_prefix);
        match scheme {
            PathScheme::Original => {
                // A summary's `_sum` and `_count` are the original's ids too; the unit is
                // the summary's.
                let base = ["_sum", "_count"]
                    .iter()
                    .find_map(|end| name.strip_suffix(end))
                    .filter(|_| sample.kind == "summary")
                    .unwrap_or(name);
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(key, value)| format!("{}_{}", no_space(key), no_space(value)))
                    .collect();
                let _ = write!(
                    out,
                    "{}_{}_{}__{}",
                    no_space(name),
                    sample.kind,
                    labels.join("."),
                    no_space(&unit_of(base))
                );
            }
            PathScheme::Tamarco => {
                out.push_str(&segment(name));
                for (key, value) in &sample.labels {
                    let _ = write!(out, ".{}_{}", segment(key), segment(value));
                }
            }
        }
        let _ = writeln!(out, " {} {unix_time}", sample.value);
    }
    out
}

/// Whitespace would end the path in the plaintext protocol: it becomes `_`. The original
/// changed nothing else, so neither does the `original` scheme.
fn no_space(text: &str) -> String {
    text.replace(char::is_whitespace, "_")
}

/// A Graphite path segment: anything but letters, digits, `_` and `-` becomes `_`.
pub(crate) fn segment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Where the lines go.
#[derive(Debug)]
pub(crate) enum Reporter {
    /// Graphite plaintext over TCP; reconnects on the next collection after a failure.
    Carbon {
        address: String,
        stream: Option<TcpStream>,
    },
    /// Lines appended to a file.
    File { path: PathBuf },
    /// Lines on stdout; with `prefix`, their paths start with it instead.
    Stdout { prefix: Option<String> },
}

impl Reporter {
    /// Sends one collection's lines. A failure is returned for logging; the next call retries.
    pub(crate) async fn send(&mut self, lines: &str) -> std::io::Result<()> {
        match self {
            Reporter::Carbon { address, stream } => {
                if stream.is_none() {
                    let connect = tokio::time::timeout(
                        Duration::from_secs(5),
                        TcpStream::connect(address.as_str()),
                    );
                    let connected = connect.await.map_err(|_| {
                        std::io::Error::other(format!(
                            "connecting to carbon at {address} timed out"
                        ))
                    })?;
                    *stream = Some(connected.map_err(|e| {
                        std::io::Error::new(e.kind(), format!("carbon at {address}: {e}"))
                    })?);
                }
                let written = match stream.as_mut() {
                    Some(connection) => connection.write_all(lines.as_bytes()).await,
                    None => Ok(()),
                };
                if let Err(error) = written {
                    *stream = None;
                    return Err(std::io::Error::new(
                        error.kind(),
                        format!("carbon at {address}: {error}"),
                    ));
                }
                Ok(())
            }
            Reporter::File { path } => {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&*path)?;
                file.write_all(lines.as_bytes())
            }
            Reporter::Stdout { .. } => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(lines.as_bytes())?;
                stdout.flush()
            }
        }
    }

    /// The reporter's name, for logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Reporter::Carbon { .. } => "carbon",
            Reporter::File { .. } => "file",
            Reporter::Stdout { .. } => "stdout",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_path_prefix_labels_and_time() {
        let samples = vec![
            Sample {
                name: "orders_requests_total".into(),
                labels: vec![("route".into(), "/a b".into())],
                value: 3.0,
                kind: "counter".into(),
            },
            Sample {
                name: "orders_up".into(),
                labels: vec![],
                value: 1.5,
                kind: "gauge".into(),
            },
        ];
        let lines = graphite_lines(
            &samples,
            "prod.orders.host1.",
            "orders_",
            1_700_000_000,
            PathScheme::Tamarco,
        );
        assert_eq!(
            lines,
            "prod.orders.host1.requests_total.route__a_b 3 1700000000\nprod.orders.host1.up 1.5 1700000000\n"
        );
    }

    #[test]
    fn original_paths_carry_id_type_labels_and_unit() {
        super::super::unit::set_unit("reporter_test_requests", "requests");
        super::super::unit::set_unit("reporter_test_latency", "seconds");
        let sample = |name: &str, labels: &[(&str, &str)], value: f64, kind: &str| Sample {
            name: format!("orders_{name}"),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
            kind: kind.into(),
        };
        let samples = vec![
            sample(
                "reporter_test_requests",
                &[("method", "GET"), ("path", "/a")],
                3.0,
                "counter",
            ),
            sample("reporter_test_gauge", &[], 1.5, "gauge"),
            sample(
                "reporter_test_latency",
                &[("quantile", "0.5")],
                0.25,
                "summary",
            ),
            sample("reporter_test_latency_sum", &[], 2.5, "summary"),
            sample("reporter_test_latency_count", &[], 10.0, "summary"),
        ];
        let lines = graphite_lines(
            &samples,
            "prod.orders.host1.",
            "orders_",
            1_700_000_000,
            PathScheme::Original,
        );
        assert_eq!(
            lines.lines().collect::<Vec<_>>(),
            [
                "prod.orders.host1.reporter_test_requests_counter_method_GET.path_/a__requests 3 1700000000",
                "prod.orders.host1.reporter_test_gauge_gauge___ 1.5 1700000000",
                "prod.orders.host1.reporter_test_latency_summary_quantile_0.5__seconds 0.25 1700000000",
                "prod.orders.host1.reporter_test_latency_sum_summary___seconds 2.5 1700000000",
                "prod.orders.host1.reporter_test_latency_count_summary___seconds 10 1700000000",
            ]
        );
    }
}
