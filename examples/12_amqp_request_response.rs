//! 12 — AMQP request/response: a handler method answers requests on
//! `request_response.quotes` through the request's response handle, and a task of the same
//! service asks and gets typed replies. A request nobody answers ends in a timeout error
//! (100 s by default; 1 s here). The service then stops by itself. Needs the cargo feature
//! `amqp` of `tamarco` and a RabbitMQ on 127.0.0.1:5672 (guest/guest).
//!
//! ```text
//! cargo run --example amqp_request_response --features amqp
//! ```

use std::sync::Arc;
use std::time::Duration;

use tamarco::amqp::{Amqp, Request, RequestOutput};
use tamarco::codec::Json;
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::tracing::{info, warn};

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct QuoteRequest {
    item: String,
    quantity: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Quote {
    item: String,
    total_cents: u64,
}

#[microservice(name = "amqp_request_response")]
struct Quotes {
    #[resource]
    amqp: Amqp,
    quotes: RequestOutput<QuoteRequest, Quote>,
    /// Requests to a queue that nobody serves.
    nobody: RequestOutput<QuoteRequest, Quote>,
}

#[microservice]
impl Quotes {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.amqp
            .request_input("quotes", Json)
            .handle_with(&self, Self::on_quote)?;
        stage.run().await?;
        Ok(())
    }

    /// Answers through the request's response handle; the request is acked once this
    /// returns `Ok`.
    async fn on_quote(
        self: Arc<Self>,
        request: Request<QuoteRequest, Quote>,
    ) -> Result<(), BoxError> {
        let asked = request.value();
        let quote = Quote {
            item: asked.item.clone(),
            total_cents: 250 * u64::from(asked.quantity),
        };
        request.respond(&quote).await?;
        Ok(())
    }

    #[task]
    async fn ask(&self, cx: TaskContext) -> Result<(), BoxError> {
        for (item, quantity) in [("tea", 2), ("coffee", 5)] {
            let asked = QuoteRequest {
                item: item.to_owned(),
                quantity,
            };
            let quote = self.quotes.request(&asked).await?;
            info!(item = %quote.item, total_cents = quote.total_cents, "quoted");
        }
        let asked = QuoteRequest {
            item: "unicorn".to_owned(),
            quantity: 1,
        };
        match self.nobody.request(&asked).await {
            Ok(quote) => warn!(?quote, "someone answered after all"),
            Err(error) => info!("as expected: {error}"),
        }
        cx.shutdown().stop_gracefully();
        Ok(())
    }
}

fn main() -> ExitStatus {
    let amqp = Amqp::new();
    let quotes = amqp.request_output("quotes", Json);
    let nobody = amqp
        .request_output("nobody_answers", Json)
        .with_timeout(Duration::from_secs(1));
    Quotes {
        amqp,
        quotes,
        nobody,
    }
    .run()
}
