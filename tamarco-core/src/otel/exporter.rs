//! The span exporter: each batch the SDK's batch thread hands over is encoded there, straight
//! into OTLP protobuf ([`super::protobuf`]), and posted to the collector by reqwest on the
//! service's runtime. Nothing of it runs on the task of a request.

use std::fmt;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::protobuf;

/// Posts spans to a collector's OTLP/HTTP traces URL as protobuf.
pub(crate) struct OtlpHttp {
    url: reqwest::Url,
    client: reqwest::Client,
    /// The SDK's batch thread is not a tokio thread: each post is spawned here.
    runtime: tokio::runtime::Handle,
    /// The provider's `Resource` message, encoded once.
    resource: Vec<u8>,
    schema_url: String,
}

impl fmt::Debug for OtlpHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpHttp")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl OtlpHttp {
    /// An exporter to `url` (the full `.../v1/traces` URL); an error says what is wrong with it.
    pub(crate) fn new(url: &str, runtime: tokio::runtime::Handle) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| format!("system.tracing.endpoint `{url}`: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "system.tracing.endpoint `{url}`: not an http or https URL"
            ));
        }
        // reqwest needs a crypto provider to build a client, even for plain http.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("system.tracing: HTTP client: {e}"))?;
        Ok(OtlpHttp {
            url: parsed,
            client,
            runtime,
            resource: Vec::new(),
            schema_url: String::new(),
        })
    }
}

impl SpanExporter for OtlpHttp {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let body = protobuf::request(&self.resource, &self.schema_url, &batch);
        drop(batch);
        let post = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body);
        let sent = self.runtime.spawn(async move {
            post.send().await?.error_for_status()?;
            Ok::<_, reqwest::Error>(())
        });
        async move {
            match sent.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(OTelSdkError::InternalFailure(format!("posting spans: {e}"))),
                Err(e) => Err(OTelSdkError::InternalFailure(format!("posting spans: {e}"))),
            }
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = protobuf::resource(resource);
        self.schema_url = resource.schema_url().unwrap_or_default().to_owned();
    }
}
