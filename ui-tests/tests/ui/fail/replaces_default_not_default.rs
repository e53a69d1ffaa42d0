use tamarco::prelude::*;

#[derive(Default)]
struct Db;
impl Resource for Db {}

#[microservice]
#[derive(Default)]
struct Orders {
    #[resource(replaces_default)]
    db: Db,
}

#[microservice]
impl Orders {}

fn main() {}
