//! The keys of `system.logging`: those read, and those of the Python original that are not.

/// Where the logging settings are.
pub(crate) const ROOT: &str = "system.logging";

/// Every key read under `system.logging`, for the unknown-key check (`settings::check_known`).
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "profile",
    "default_level",
    "extra_loggers_names",
    "levels.*",
    "stdout",
    "stdout_format",
    "file_path",
    "file_max_bytes",
    "file_max_files",
    "file_format",
    "queue_size",
    "secret_fields",
    "drop_warning_seconds",
    "flush_timeout_seconds",
    "version",
    "logstash.enabled",
    "logstash.host",
    "logstash.port",
    "logstash.fqdn",
    "logstash.version",
    "logstash.queue_size",
    "redis.enabled",
    "redis.host",
    "redis.port",
    "redis.db",
    "redis.username",
    "redis.password",
    "redis.ssl",
    "redis.version",
    "redis.queue_size",
    "http.enabled",
    "http.url",
    "http.user",
    "http.password",
    "http.max_records",
    "http.max_time_seconds",
    "http.timeout_seconds",
    "http.version",
    "http.queue_size",
];

/// Logging keys of the Python original's docs and code that tamarco does not read.
pub(crate) const LEGACY_KEYS: &[crate::settings::LegacyKey] = &[
    crate::settings::LegacyKey::no_effect(
        "file",
        "the file sink is on when `system.logging.file_path` is set, as in the original's code",
    ),
    crate::settings::LegacyKey::no_effect(
        "elasticsearch",
        "tamarco has no Elasticsearch sink; ship through Logstash (`logstash`, `redis` or `http`)",
    ),
];
