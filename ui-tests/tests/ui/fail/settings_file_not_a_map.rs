use tamarco::prelude::*;

/// `settings_file_not_a_map.yml` is a list: settings are a map of keys.
#[microservice(settings = "settings_file_not_a_map.yml")]
#[derive(Default)]
struct Svc {}

#[microservice]
impl Svc {}

fn main() {}
