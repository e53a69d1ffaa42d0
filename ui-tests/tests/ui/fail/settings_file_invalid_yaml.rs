use tamarco::prelude::*;

/// `settings_file_invalid_yaml.yml` has an unclosed `[` on line 4.
#[microservice(settings = "settings_file_invalid_yaml.yml")]
#[derive(Default)]
struct Svc {}

#[microservice]
impl Svc {}

fn main() {}
