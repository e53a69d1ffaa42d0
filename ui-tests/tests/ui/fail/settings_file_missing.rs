use tamarco::prelude::*;

/// The settings file is looked for next to this source file, like `include_str!` does.
#[microservice(settings = "no_such_settings.yml")]
#[derive(Default)]
struct Svc {}

#[microservice]
impl Svc {}

fn main() {}
