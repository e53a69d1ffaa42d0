use tamarco::prelude::*;

#[derive(Default)]
struct Db;
impl Resource for Db {}

#[microservice]
#[derive(Default)]
struct Orders {
    #[resource(name = "orders.db")]
    db: Db,
}

#[microservice]
impl Orders {}

#[microservice(name = "bad name")]
#[derive(Default)]
struct Users {}

#[microservice]
impl Users {}

fn main() {}
