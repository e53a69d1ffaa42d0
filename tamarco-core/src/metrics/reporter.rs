//! The reporters that receive samples every `collect_frequency` seconds: Carbon (Graphite
//! plaintext over TCP), a file and stdout, all with the same lines:
//! `<deploy_name>.<service>.<hostname>.<metric>[.<label>_<value>...] <value> <unix time>`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::render::Sample;

/// Turns samples into Graphite plaintext lines under `path_prefix` (which ends in a dot).
/// `service_prefix` (`<service>_`) is taken off metric names: the path already holds it.
pub(crate) fn graphite_lines(
    samples: &[Sample],
    path_prefix: &str,
    service_prefix: &str,
    unix_time: u64,
) -> String {
    let mut out = String::new();
    for sample in samples {
        let name = sample
            .name
            .strip_prefix(service_prefix)
            .unwrap_or(&sample.name);
        out.push_str(path_prefix);
        out.push_str(&segment(name));
        for (key, value) in &sample.labels {
            let _ = write!(out, ".{}_{}", segment(key), segment(value));
        }
        let _ = writeln!(out, " {} {unix_time}", sample.value);
    }
    out
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
    /// Lines on stdout.
    Stdout,
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
            Reporter::Stdout => {
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
            Reporter::Stdout => "stdout",
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
            },
            Sample {
                name: "orders_up".into(),
                labels: vec![],
                value: 1.5,
            },
        ];
        let lines = graphite_lines(&samples, "prod.orders.host1.", "orders_", 1_700_000_000);
        assert_eq!(
            lines,
            "prod.orders.host1.requests_total.route__a_b 3 1700000000\nprod.orders.host1.up 1.5 1700000000\n"
        );
    }
}
