use tamarco::prelude::*;

struct Pool;

impl Resource for Pool {}

/// `main` runs `Svc::default()`, but `Svc` is not `Default`.
#[microservice(main)]
struct Svc {
    #[resource]
    pool: Pool,
}

#[microservice]
impl Svc {}
