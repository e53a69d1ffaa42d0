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
use tamarco::tracing::info;

#[message]
#[derive(Debug)]
struct QuoteRequest {
    item: String,
    quantity: u32,
}

#[message]
#[derive(Debug)]
struct Quote {
    total_cents: u64,
}

#[microservice(name = "amqp_request_response", main)]
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
        let total_cents = 250 * u64::from(request.value().quantity);
        Ok(Quote { total_cents })
    }

    /// Two requests that get quotes, then one to the queue nobody serves, which gives up
    /// after its own timeout.
    #[task]
    async fn ask(&self) -> Result<(), BoxError> {
        let impatient = self.nobody.with_timeout(Duration::from_secs(1));
        for (to, item, quantity) in [
            (&self.quotes, "tea", 2),
            (&self.quotes, "coffee", 5),
            (&impatient, "unicorn", 1),
        ] {
            let asked = QuoteRequest {
                item: item.to_owned(),
                quantity,
            };
            match to.request(&asked).await {
                Ok(quote) => info!(item, total_cents = quote.total_cents, "quoted"),
                Err(error) => info!(item, "no quote: {error}"),
            }
        }
        self.cx.stop_gracefully();
        Ok(())
    }
}
