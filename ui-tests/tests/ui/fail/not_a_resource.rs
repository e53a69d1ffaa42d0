use tamarco::prelude::*;

#[derive(Default)]
struct Db;
impl Resource for Db {}

/// Forgot `impl Resource for Cache`.
#[derive(Default)]
struct Cache;

#[microservice]
#[derive(Default)]
struct Orders {
    #[resource]
    db: Db,
    #[resource]
    cache: Cache,
}

#[microservice]
impl Orders {}

fn main() {}
