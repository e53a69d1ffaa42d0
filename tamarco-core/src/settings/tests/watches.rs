//! Watches and live handles: callbacks on change and delete, the last good value kept, a
//! panicking or writing callback, and a bad live update logged without its value.

use super::*;

#[test]
fn watch_fires_on_change_and_delete_with_the_override() {
    use std::sync::{Arc, Mutex};
    let settings = Settings::new("dog");
    settings
        .set_internal("system.resources.db.port", 1)
        .unwrap();
    type Calls = Arc<Mutex<Vec<(String, Option<Value>)>>>;
    let seen: Calls = Arc::default();
    let sink = Arc::clone(&seen);
    settings.watch("system.resources.db.port", move |key, value| {
        sink.lock().unwrap().push((key.to_owned(), value.cloned()));
    });
    settings
        .set_internal("system.resources.db.host", "h")
        .unwrap(); // another key: no call
    settings
        .set_internal("system.resources.db.port", 2)
        .unwrap();
    settings
        .set_internal("system.microservices.dog.resources.db.port", 3)
        .unwrap();
    settings
        .set_internal("system.microservices.cat.resources.db.port", 4)
        .unwrap(); // not us
    settings
        .delete_internal("system.microservices.dog")
        .unwrap();
    settings
        .delete_internal("system.resources.db.port")
        .unwrap();
    let key = "system.resources.db.port".to_owned();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (key.clone(), Some(json!(2))),
            (key.clone(), Some(json!(3))),
            (key.clone(), Some(json!(2))),
            (key, None)
        ]
    );
}

#[test]
fn live_handles_follow_changes_and_keep_the_last_good_value() {
    let settings = Settings::new("dog");
    settings
        .set_internal("system.resources.db.pool", 5)
        .unwrap();
    let pool = settings.resource_view("db").live::<u32>("pool").unwrap();
    assert_eq!(*pool.get(), 5);
    settings
        .set_internal("system.resources.db.pool", 8)
        .unwrap();
    assert_eq!(**pool.load(), 8);
    settings
        .set_internal("system.resources.db.pool", "many")
        .unwrap();
    assert_eq!(*pool.get(), 8, "a bad value is skipped");
    let missing = settings
        .live::<u32>("system.resources.db.missing")
        .unwrap_err();
    assert_eq!(
        missing,
        SettingsError::Missing {
            key: "system.resources.db.missing".into()
        }
    );
    let timeout = settings
        .live_or("system.resources.db.timeout", 30u32)
        .unwrap();
    assert_eq!(*timeout.get(), 30);
    settings
        .set_internal("system.resources.db.timeout", 10)
        .unwrap();
    assert_eq!(*timeout.get(), 10);
    settings
        .delete_internal("system.resources.db.timeout")
        .unwrap();
    assert_eq!(*timeout.get(), 30, "back to the default when deleted");
}

#[test]
fn a_panicking_watch_callback_neither_poisons_settings_nor_stops_other_watchers() {
    let settings = Settings::new("dog");
    settings.watch("system.a", |_, _| panic!("a watcher bug"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    settings.watch("system.b", move |_, value| {
        record.lock().unwrap().push(value.cloned());
    });
    // The panic stays in the callback: the change is made and `set_internal` returns.
    settings.set_internal("system.a", 1).unwrap();
    assert_eq!(settings.get::<u32>("system.a").unwrap(), 1);
    settings.set_internal("system.b", 2).unwrap();
    settings.set_internal("system.a", 3).unwrap();
    settings.set_internal("system.b", 4).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [Some(json!(2)), Some(json!(4))],
        "later changes still reach the other watchers"
    );
}

#[test]
fn a_watch_callback_that_writes_settings_does_not_deadlock() {
    let settings = Settings::new("dog");
    let writer = settings.clone();
    settings.watch("system.a", move |_, value| {
        let doubled = value.and_then(Value::as_u64).unwrap_or(0) * 2;
        writer.set_internal("system.b", doubled).unwrap();
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    settings.watch("system.b", move |_, value| {
        record.lock().unwrap().push(value.cloned());
    });
    let (done, finished) = std::sync::mpsc::channel();
    let changer = settings.clone();
    std::thread::spawn(move || {
        changer.set_internal("system.a", 21).unwrap();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("set_internal returns: a callback writing settings must not deadlock");
    assert_eq!(settings.get::<u64>("system.b").unwrap(), 42);
    assert_eq!(*seen.lock().unwrap(), [Some(json!(42))]);
}

/// What `tracing` logged while `work` ran on this thread, as text: each event's fields as
/// they were recorded, nothing scrubbed, so that a value that reached a log line shows here.
fn logged(work: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, SubscriberExt};

    #[derive(Default)]
    struct Raw(Arc<Mutex<String>>);
    struct Fields<'a>(&'a mut String);
    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Raw {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut line = event.metadata().level().to_string();
            event.record(&mut Fields(&mut line));
            let mut text = self.0.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    }
    let text = Arc::new(Mutex::new(String::new()));
    let subscriber = tracing_subscriber::registry().with(Raw(Arc::clone(&text)));
    tracing::subscriber::with_default(subscriber, work);
    text.lock().unwrap().clone()
}

#[test]
fn a_bad_live_update_is_logged_with_its_key_and_source_but_never_its_value() {
    let settings = Settings::new("dog");
    settings
        .set_internal("system.resources.db.password", 12345678)
        .unwrap();
    settings
        .set_internal("system.resources.db.port", 1)
        .unwrap();
    let db = settings.resource_view("db");
    let password = db.live::<crate::Secret>("password").unwrap();
    let port = db.live::<u16>("port").unwrap();
    assert_eq!(password.get().expose(), "12345678");
    let log = logged(|| {
        settings
            .set_internal("system.resources.db.password", json!({"pin": 55443322}))
            .unwrap();
        sources::load_env(
            &settings,
            [
                ("TAMARCO__SYSTEM__RESOURCES__DB__PASSWORD", "87654321"),
                ("TAMARCO__SYSTEM__RESOURCES__DB__PORT", "87654321"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .unwrap();
    });
    assert_eq!(password.get().expose(), "87654321", "the environment wins");
    assert_eq!(*port.get(), 1, "a port out of range is skipped");
    assert!(
        log.contains("system.resources.db.port")
            && log.contains("TAMARCO__SYSTEM__RESOURCES__DB__PORT"),
        "{log}"
    );
    assert!(
        log.contains("system.resources.db.password") && log.contains("in-code"),
        "{log}"
    );
    for value in ["87654321", "12345678", "55443322"] {
        assert!(!log.contains(value), "{value} in {log}");
    }
}
