use tamarco::prelude::*;

#[derive(Default)]
struct Db;
impl Resource for Db {}

#[microservice]
#[derive(Default)]
struct Shop {
    #[resource]
    db: Db,
}

#[microservice]
impl Shop {
    #[route(db, GET "/")]
    async fn hello(&self) -> &'static str {
        "Hello world!"
    }
}

fn main() {}
