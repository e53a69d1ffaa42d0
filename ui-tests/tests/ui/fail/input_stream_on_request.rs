use tamarco::amqp::{Amqp, InputStream, Message};
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Quotes {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Quotes {
    #[input(amqp, request = "quotes", stream)]
    async fn quotes(&self, asks: InputStream<String>) -> Result<(), BoxError> {
        drop(asks);
        Ok(())
    }

    #[input(amqp, pull = "orders", stream = true)]
    async fn orders(&self, order: Message<String>) -> Result<(), BoxError> {
        drop(order);
        Ok(())
    }
}

fn main() {}
