//! Start order follows dependencies, stop order is its reverse, hooks wrap the framework's
//! work, and a failed start stops what had started and names the resource and phase.

use std::time::Duration;

use tamarco::prelude::*;
use tamarco::{Error, Phase, ResourceError};
use tamarco_tests::{EventLog, RecordingResource, quiet_settings};

/// Declared in an order that differs from the dependency order.
#[microservice]
struct Shop {
    #[resource(depends_on = [cache, db])]
    web: RecordingResource,
    #[resource(depends_on = [db])]
    cache: RecordingResource,
    #[resource]
    db: RecordingResource,
    log: EventLog,
}

#[microservice]
impl Shop {
    async fn start(&self, stage: Stage) -> Result<(), BoxError> {
        self.log.push("hook:start:before");
        stage.run().await?;
        self.log.push("hook:start:after");
        Ok(())
    }

    async fn stop(&self, stage: Stage) -> Result<(), BoxError> {
        self.log.push("hook:stop:before");
        stage.run().await?;
        self.log.push("hook:stop:after");
        Ok(())
    }

    /// Never calls `stage.run()`: the framework's work must still happen, after the hook.
    async fn post_stop(&self, _stage: Stage) {
        self.log.push("hook:post_stop:body");
    }
}

fn shop(log: &EventLog, failing: Option<(&str, Phase)>) -> Shop {
    let resource = |name: &str| {
        let resource = RecordingResource::new(log);
        match failing {
            Some((target, phase)) if target == name => resource.failing_in(phase),
            _ => resource,
        }
    };
    Shop {
        web: resource("web"),
        cache: resource("cache"),
        db: resource("db"),
        log: log.clone(),
    }
}

#[tokio::test]
async fn start_follows_dependencies_and_stop_is_the_reverse() {
    let log = EventLog::default();
    let runtime = shop(&log, None)
        .runtime()
        .with_settings(quiet_settings())
        .unwrap()
        .handle_signals(false);
    let running = runtime.start().await.expect("the service starts");
    assert!(
        running
            .statuses()
            .iter()
            .all(|(_, status)| *status == ResourceStatus::Started)
    );
    running.stop().await.expect("a clean stop");

    assert_eq!(log.who("start"), ["db", "cache", "web"]);
    assert_eq!(log.who("pre_start"), ["db", "cache", "web"]);
    assert_eq!(log.who("stop"), ["web", "cache", "db"]);
    assert_eq!(log.who("post_stop"), ["web", "cache", "db"]);

    let events = log.events();
    let at = |event: &str| {
        events
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("no {event}: {events:?}"))
    };
    assert!(at("hook:start:before") < at("db:start") && at("web:start") < at("hook:start:after"));
    assert!(at("hook:stop:before") < at("web:stop") && at("db:stop") < at("hook:stop:after"));
    assert!(
        at("hook:post_stop:body") < at("web:post_stop"),
        "unrun work runs after the hook"
    );
}

#[tokio::test]
async fn a_failed_start_stops_what_started_and_names_resource_and_phase() {
    let log = EventLog::default();
    let runtime = shop(&log, Some(("cache", Phase::Start)))
        .runtime()
        .with_settings(quiet_settings())
        .unwrap()
        .handle_signals(false);
    let error = runtime.start().await.expect_err("the start fails");

    match &error {
        Error::Resource(ResourceError {
            resource, phase, ..
        }) => {
            assert_eq!((resource.as_str(), *phase), ("cache", Phase::Start));
        }
        other => panic!("unexpected error: {other:?}"),
    }
    assert_eq!(
        tamarco::error_chain(&error),
        "resource `cache` failed in start: cache was told to fail in start"
    );
    assert_eq!(ExitStatus::of(&Err(error)).code(), 1);
    // db had started: it is stopped. cache failed: not stopped. web never started.
    assert_eq!(log.who("start"), ["db", "cache"]);
    assert_eq!(log.who("stop"), ["db"]);
    assert_eq!(log.who("post_stop"), ["db"]);
}

#[tokio::test]
async fn a_failure_in_post_start_also_stops_everything_started() {
    let log = EventLog::default();
    let runtime = shop(&log, Some(("web", Phase::PostStart)))
        .runtime()
        .with_settings(quiet_settings())
        .unwrap()
        .handle_signals(false);
    let error = runtime.start().await.expect_err("post_start fails");
    assert!(tamarco::error_chain(&error).starts_with("resource `web` failed in post_start"));
    assert_eq!(log.who("stop"), ["cache", "db"]);
}

#[tokio::test]
async fn a_stop_handle_stops_the_service_cleanly() {
    let log = EventLog::default();
    let runtime = shop(&log, None)
        .runtime()
        .with_settings(quiet_settings())
        .unwrap()
        .handle_signals(false);
    let running = runtime.start().await.unwrap();
    let handle = running.shutdown().clone();
    let waiter = tokio::spawn(running.wait());
    handle.stop_gracefully();
    let outcome = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(log.who("stop"), ["web", "cache", "db"]);
}

#[test]
fn microservice_context_starts_and_stops_resources_without_a_service() {
    let log = EventLog::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut cx = MicroserviceContext::new("script");
        cx.add_after("b", &["a"], RecordingResource::new(&log));
        cx.add("a", RecordingResource::new(&log));
        cx.start().await.unwrap();
        assert_eq!(cx.status("a"), Some(ResourceStatus::Started));
        assert_eq!(
            cx.status("tamarco_http_report_server"),
            None,
            "no default resources"
        );
        cx.stop().await.unwrap();
    });
    assert_eq!(log.who("start"), ["a", "b"]);
    assert_eq!(log.who("stop"), ["b", "a"]);
}

/// Hooks and tasks may take `self: Arc<Self>`, to hand the service to handlers or spawned work.
#[microservice]
#[derive(Default)]
struct ArcSelfService {
    log: EventLog,
}

#[microservice]
impl ArcSelfService {
    async fn pre_start(self: std::sync::Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let service = std::sync::Arc::clone(&self);
        tokio::spawn(async move { service.log.push("spawned:with-the-service") }).await?;
        stage.run().await?;
        Ok(())
    }

    #[task]
    async fn owner(self: std::sync::Arc<Self>, cx: TaskContext) {
        self.log.push("task:owns-the-service");
        cx.stopping().await;
    }
}

#[tokio::test]
async fn hooks_and_tasks_can_take_the_shared_service() {
    let running = ArcSelfService::default()
        .runtime()
        .with_settings(quiet_settings())
        .unwrap()
        .handle_signals(false);
    let running = running.start().await.unwrap();
    let log = running.service().log.clone();
    let task_ran = async {
        while !log.events().iter().any(|e| e == "task:owns-the-service") {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), task_ran)
        .await
        .expect("the task runs");
    running.stop().await.unwrap();
    assert!(
        log.events()
            .contains(&"spawned:with-the-service".to_owned())
    );
}
