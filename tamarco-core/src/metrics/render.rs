//! The exposition text with the service prefix, and its samples for the other reporters.

#[cfg(feature = "prometheus")]
use metrics_exporter_prometheus::PrometheusHandle;

/// One sample of the exposition: a name, its labels and a value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// The metric name, prefixed with `<service>_`; a summary's quantiles keep the summary's
    /// name with a `quantile` label, its totals end in `_sum` and `_count`.
    pub name: String,
    /// The labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// The family's type from the exposition: `counter`, `gauge`, `summary`, `histogram` or
    /// `untyped`.
    pub kind: String,
}

/// Renders the registry in the Prometheus text format, each metric name prefixed with
/// `<prefix>_`. Done on the rendered text, so that recording pays nothing for the prefix.
#[cfg(feature = "prometheus")]
pub(crate) fn exposition(handle: &PrometheusHandle, prefix: &str) -> String {
    handle.run_upkeep();
    prefix_names(&handle.render(), prefix)
}

/// Counters whose values are fractions: recorded as gauges (the exporter's counters hold whole
/// numbers) and exported with the type `counter`.
#[cfg(feature = "prometheus")]
const FRACTIONAL_COUNTERS: &[&str] = &["process_cpu_seconds_total"];

#[cfg(feature = "prometheus")]
fn prefix_names(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            out.push_str(&line[..7]);
            out.push_str(prefix);
            out.push('_');
            match rest.strip_suffix(" gauge") {
                Some(name) if line.starts_with("# TYPE") && FRACTIONAL_COUNTERS.contains(&name) => {
                    out.push_str(name);
                    out.push_str(" counter");
                }
                _ => out.push_str(rest),
            }
        } else if line.is_empty() || line.starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(prefix);
            out.push('_');
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The samples of an exposition text, in order; a summary gives one sample per quantile (with
/// a `quantile` label) besides its `_sum` and `_count`. The text is the exporter's own, so a
/// line that does not parse is skipped rather than reported.
pub(crate) fn samples(exposition: &str) -> Vec<Sample> {
    let mut kinds: Vec<(&str, &str)> = Vec::new();
    let mut out = Vec::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                kinds.push((name, kind.trim()));
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, mut labels, value)) = sample_line(line) else {
            continue;
        };
        labels.sort();
        let family = |name: &str| kinds.iter().rev().find(|(n, _)| *n == name).map(|k| k.1);
        let kind = family(name)
            .or_else(|| {
                ["_sum", "_count", "_bucket"]
                    .iter()
                    .find_map(|suffix| family(name.strip_suffix(suffix)?))
            })
            .unwrap_or("untyped");
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
            kind: kind.to_owned(),
        });
    }
    out
}

/// A sample's labels as written, unescaped.
type Labels = Vec<(String, String)>;

/// `name{label="value",...} value [timestamp]`.
fn sample_line(line: &str) -> Option<(&str, Labels, f64)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        loop {
            let (start, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &inner[start + 1..];
                    break;
                }
                ',' | ' ' => continue,
                _ => {}
            }
            let eq = inner[start..].find('=')? + start;
            let key = inner[start..eq].to_owned();
            while chars.next()?.0 < eq {}
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            labels.push((key, value));
        }
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "prometheus")]
    #[test]
    fn every_metric_line_gets_the_prefix() {
        let text = "# HELP hits_total hits\n# TYPE hits_total counter\nhits_total{a=\"1\"} 3\n\nlatency{quantile=\"0.5\"} 0.1\n";
        assert_eq!(
            prefix_names(text, "svc"),
            "# HELP svc_hits_total hits\n# TYPE svc_hits_total counter\nsvc_hits_total{a=\"1\"} 3\n\nsvc_latency{quantile=\"0.5\"} 0.1\n"
        );
    }

    #[test]
    fn samples_carry_labels_unescaped_and_the_family_type() {
        let text = "# TYPE svc_hits_total counter\nsvc_hits_total{route=\"/a \\\"b\\\"\",z=\"1\"} 3\n# TYPE svc_lat summary\nsvc_lat{quantile=\"0.5\"} 0.25\nsvc_lat_sum 1.5\nsvc_lat_count 4\nsvc_up +Inf\n";
        let got = samples(text);
        let brief: Vec<(&str, &str, f64)> = got
            .iter()
            .map(|s| (s.name.as_str(), s.kind.as_str(), s.value))
            .collect();
        assert_eq!(
            brief,
            [
                ("svc_hits_total", "counter", 3.0),
                ("svc_lat", "summary", 0.25),
                ("svc_lat_sum", "summary", 1.5),
                ("svc_lat_count", "summary", 4.0),
                ("svc_up", "untyped", f64::INFINITY),
            ]
        );
        assert_eq!(
            got[0].labels,
            [
                ("route".to_owned(), "/a \"b\"".to_owned()),
                ("z".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(got[1].labels, [("quantile".to_owned(), "0.5".to_owned())]);
    }
}
