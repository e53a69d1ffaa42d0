//! The exposition text with the service prefix, and its samples for the other reporters.

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
}

/// Renders the registry in the Prometheus text format, each metric name prefixed with
/// `<prefix>_`. Done on the rendered text, so that recording pays nothing for the prefix.
pub(crate) fn exposition(handle: &PrometheusHandle, prefix: &str) -> String {
    handle.run_upkeep();
    prefix_names(&handle.render(), prefix)
}

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
            out.push_str(rest);
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
/// a `quantile` label) besides its `_sum` and `_count`.
pub(crate) fn samples(exposition: &str) -> Vec<Sample> {
    let lines = exposition.lines().map(|line| Ok(line.to_owned()));
    let Ok(scrape) = prometheus_parse::Scrape::parse(lines) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(scrape.samples.len());
    for sample in scrape.samples {
        let mut labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        match sample.value {
            prometheus_parse::Value::Counter(value)
            | prometheus_parse::Value::Gauge(value)
            | prometheus_parse::Value::Untyped(value) => out.push(Sample {
                name: sample.metric,
                labels,
                value,
            }),
            prometheus_parse::Value::Summary(quantiles) => {
                for quantile in quantiles {
                    let mut labels = labels.clone();
                    labels.push(("quantile".to_owned(), quantile.quantile.to_string()));
                    out.push(Sample {
                        name: sample.metric.clone(),
                        labels,
                        value: quantile.count,
                    });
                }
            }
            prometheus_parse::Value::Histogram(buckets) => {
                for bucket in buckets {
                    let mut labels = labels.clone();
                    labels.push(("le".to_owned(), bucket.less_than.to_string()));
                    out.push(Sample {
                        name: format!("{}_bucket", sample.metric),
                        labels,
                        value: bucket.count,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_line_gets_the_prefix() {
        let text = "# HELP hits_total hits\n# TYPE hits_total counter\nhits_total{a=\"1\"} 3\n\nlatency{quantile=\"0.5\"} 0.1\n";
        assert_eq!(
            prefix_names(text, "svc"),
            "# HELP svc_hits_total hits\n# TYPE svc_hits_total counter\nsvc_hits_total{a=\"1\"} 3\n\nsvc_latency{quantile=\"0.5\"} 0.1\n"
        );
    }
}
