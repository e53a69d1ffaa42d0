//! HTTP (`system.logging.http`): a POST of a JSON array of documents when `max_records` are
//! queued or `max_time_seconds` passed since the first; optional basic auth.

use std::time::Duration;

use super::super::config::HttpConfig;
use super::super::document::{self, DocContext};
use super::super::record::Record;
use super::super::sink::{Batch, Sink, Transport};
use crate::secret::Secret;

const KEY: &str = "system.logging.http";

struct Http {
    client: reqwest::Client,
    url: reqwest::Url,
    user: Option<String>,
    password: Option<Secret<String>>,
    cx: DocContext,
}

pub(super) fn start(config: &HttpConfig, cx: &DocContext) -> Result<Sink, String> {
    let problem =
        |what: String| format!("logging: setting `{KEY}.url`: {what}; the http sink is off");
    let url = reqwest::Url::parse(&config.url).map_err(|e| problem(format!("{e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(problem(format!(
            "{:?} is not an http or https URL",
            url.scheme()
        )));
    }
    // reqwest needs a provider to build a client, even for plain http.
    super::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(2)))
        .build()
        .map_err(|e| problem(format!("cannot build the client: {e}")))?;
    let http = Http {
        client,
        url,
        user: config.user.clone(),
        password: config.password.clone(),
        cx: cx.for_sink(config.version, "record"),
    };
    let batch = Batch::Timed {
        max_records: config.max_records,
        max_time: config.max_time,
    };
    super::spawn("http", KEY, config.queue_size, batch, http)
}

impl Http {
    /// The URL without credentials, for messages.
    fn describe(&self) -> String {
        let mut url = self.url.clone();
        let _ = url.set_password(None);
        let _ = url.set_username("");
        url.to_string()
    }
}

impl Transport for Http {
    fn render(&self, record: &Record) -> String {
        document::json(record, &self.cx)
    }

    async fn connect(&mut self) -> Result<(), String> {
        // Connections are made per request; failures show on `send`.
        Ok(())
    }

    async fn send(&mut self, batch: Vec<String>) -> Result<(), String> {
        let mut body = String::with_capacity(2 + batch.iter().map(|d| d.len() + 1).sum::<usize>());
        body.push('[');
        for (index, doc) in batch.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            body.push_str(doc);
        }
        body.push(']');
        let mut request = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .body(body);
        if let Some(user) = &self.user {
            request = request.basic_auth(user, self.password.as_ref().map(Secret::expose));
        }
        // The error's text may hold the URL: print ours, without credentials.
        let response = request.send().await.map_err(|e| {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "failed"
            };
            format!("POST to {} {kind}", self.describe())
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("POST to {} answered {status}", self.describe()))
        }
    }
}
