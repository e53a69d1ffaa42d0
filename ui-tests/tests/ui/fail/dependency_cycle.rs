use tamarco::prelude::*;

#[derive(Default)]
struct Db;
impl Resource for Db {}

#[microservice]
#[derive(Default)]
struct Pair {
    #[resource(depends_on = [b])]
    a: Db,
    #[resource(depends_on = [a])]
    b: Db,
}

#[microservice]
impl Pair {}

#[microservice]
#[derive(Default)]
struct Triangle {
    #[resource(depends_on = [z])]
    x: Db,
    #[resource(depends_on = [x])]
    y: Db,
    #[resource(depends_on = [y])]
    z: Db,
}

#[microservice]
impl Triangle {}

fn main() {}
