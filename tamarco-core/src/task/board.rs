//! The service's tasks as the operations endpoints show them (`GET /tasks`, the dashboard):
//! name, kind and whether each is still running.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::task::AbortHandle;

/// The tasks of one service; filled when they are spawned.
#[derive(Clone, Default)]
pub(crate) struct TaskBoard(Arc<Mutex<Vec<Row>>>);

struct Row {
    name: &'static str,
    kind: &'static str,
    handle: AbortHandle,
}

/// One task as shown.
#[derive(Debug, Serialize)]
pub(crate) struct TaskState {
    pub(crate) name: &'static str,
    /// `task`, `timer` or `thread`.
    pub(crate) kind: &'static str,
    /// `running` or `finished` (ended, failed or stopped; failures are counted in metrics).
    pub(crate) state: &'static str,
}

impl std::fmt::Debug for TaskBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskBoard")
    }
}

impl TaskBoard {
    /// Adds a spawned task.
    pub(crate) fn add(&self, name: &'static str, kind: &'static str, handle: AbortHandle) {
        let row = Row { name, kind, handle };
        self.0.lock().expect("task board lock").push(row);
    }

    /// Every task, in declaration order.
    pub(crate) fn states(&self) -> Vec<TaskState> {
        let rows = self.0.lock().expect("task board lock");
        rows.iter()
            .map(|row| TaskState {
                name: row.name,
                kind: row.kind,
                state: match row.handle.is_finished() {
                    true => "finished",
                    false => "running",
                },
            })
            .collect()
    }
}
