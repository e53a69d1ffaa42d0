//! Tasks, timers (string and integer intervals, `one_shot`, `autostart = false`), threads and
//! lifecycle hooks.

use std::time::Duration;

use tamarco::prelude::*;
use tamarco::task::TaskKind;
use tamarco::TaskSet;

#[microservice]
#[derive(Default)]
struct Worker {}

#[microservice]
impl Worker {
    #[task]
    async fn listen(&self) {}

    #[task(name = "drainer")]
    async fn drain(&self, cx: TaskContext) -> Result<(), BoxError> {
        cx.stopping().await;
        Ok(())
    }

    #[task_timer(interval = "250ms")]
    async fn quick(&self) {}

    #[task_timer(interval = 500, one_shot)]
    async fn once(&self) -> Result<(), BoxError> {
        Ok(())
    }

    #[task_timer(interval = "2s", autostart = false)]
    async fn lazy(&self) {}

    #[thread]
    fn crunch(&self, stop: ShutdownHandle) {
        while !stop.wait_timeout(Duration::from_millis(100)) {}
    }

    #[thread(name = "idle")]
    fn idle_thread(&self) {}

    async fn start(&self, stage: Stage) -> Result<(), BoxError> {
        stage.run().await?;
        Ok(())
    }

    async fn post_stop(&self, stage: Stage) -> Result<(), BoxError> {
        stage.run().await?;
        Ok(())
    }

    /// Not a task and not a hook: left alone.
    fn helper(&self) -> u8 {
        1
    }
}

fn main() {
    let tasks = Worker::tasks();
    let names: Vec<&str> = tasks.iter().map(|task| task.name).collect();
    assert_eq!(
        names,
        ["listen", "drainer", "quick", "once", "lazy", "crunch", "idle"]
    );
    let timers: Vec<(Duration, bool, bool)> = tasks
        .iter()
        .filter_map(|task| match task.kind {
            TaskKind::Timer {
                interval,
                one_shot,
                autostart,
                ..
            } => Some((interval, one_shot, autostart)),
            _ => None,
        })
        .collect();
    assert_eq!(
        timers,
        [
            (Duration::from_millis(250), false, false),
            (Duration::from_millis(500), true, false),
            (Duration::from_secs(2), false, false),
        ]
    );
    let threads = tasks
        .iter()
        .filter(|task| matches!(task.kind, TaskKind::Thread { .. }))
        .count();
    assert_eq!(threads, 2);
    let hooks = Worker::hooks();
    assert!(hooks.start.is_some() && hooks.post_stop.is_some());
    assert!(hooks.pre_start.is_none() && hooks.stop.is_none());
    assert_eq!(Worker::default().helper(), 1);
}
