use tamarco::prelude::*;

/// In-code settings from `settings_file.yml`, next to this file, embedded at compile time.
#[microservice(settings = "settings_file.yml")]
#[derive(Default)]
struct SettingsFile {}

#[microservice]
impl SettingsFile {}

fn main() {
    assert_eq!(
        <SettingsFile as Microservice>::SETTINGS.map(|s| s.file),
        Some("settings_file.yml")
    );
    let runtime = SettingsFile::default().runtime();
    let greeting: String = runtime
        .settings()
        .get("system.microservices.settings_file.greeting")
        .unwrap();
    assert_eq!(greeting, "hello from the embedded file");
}
