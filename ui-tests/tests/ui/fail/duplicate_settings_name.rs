use tamarco::prelude::*;

#[derive(Default)]
struct Cache;
impl Resource for Cache {}

#[microservice]
#[derive(Default)]
struct Orders {
    #[resource(name = "cache")]
    primary: Cache,
    #[resource(name = "cache")]
    secondary: Cache,
}

#[microservice]
impl Orders {}

#[microservice]
#[derive(Default)]
struct Users {
    #[resource]
    cache: Cache,
    #[resource(name = "cache")]
    sessions: Cache,
}

#[microservice]
impl Users {}

fn main() {}
