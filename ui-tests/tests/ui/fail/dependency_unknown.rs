use tamarco::prelude::*;

#[derive(Default)]
struct Db;
impl Resource for Db {}

#[microservice]
#[derive(Default)]
struct Orders {
    #[resource(depends_on = [nothing])]
    db: Db,
}

#[microservice]
impl Orders {}

fn main() {}
