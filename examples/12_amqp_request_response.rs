//! 12 — AMQP request/response: a handler method answers requests on
//! `request_response.quotes` by returning the reply, and a task of the same service asks and
//! gets typed replies. A request nobody answers ends in a timeout error
//! (100 s by default; 1 s here). The service then stops by itself. Needs the cargo feature
//! `amqp` of `tamarco` and a RabbitMQ on 127.0.0.1:5672 (guest/guest).
//!
//! ```text
//! cargo run --example amqp_request_response --features amqp
//! ```

use std::time::Duration;

use tamarco::amqp::{Amqp, Message, RequestOutput};
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
#[derive(Default)]
struct Quotes {
    #[resource]
    amqp: Amqp,
    #[output(amqp, request = "quotes")]
    quotes: RequestOutput<QuoteRequest, Quote>,
    /// Requests to a queue that nobody serves.
    #[output(amqp, request = "nobody_answers")]
    nobody: RequestOutput<QuoteRequest, Quote>,
    cx: ServiceContext,
}

#[microservice]
impl Quotes {
    /// Answers requests: the returned quote is the reply; an error is retried, then the
    /// requester gets it.
    #[input(amqp, request = "quotes")]
    async fn on_quote(&self, request: Message<QuoteRequest>) -> Result<Quote, BoxError> {
        let asked = request.value();
        Ok(Quote {
            item: asked.item.clone(),
            total_cents: 250 * u64::from(asked.quantity),
        })
    }

    #[task]
    async fn ask(&self) -> Result<(), BoxError> {
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
        let impatient = self.nobody.with_timeout(Duration::from_secs(1));
        match impatient.request(&asked).await {
            Ok(quote) => warn!(?quote, "someone answered after all"),
            Err(error) => info!("as expected: {error}"),
        }
        self.cx.stop_gracefully();
        Ok(())
    }
}

fn main() -> ExitStatus {
    Quotes::default().run()
}
