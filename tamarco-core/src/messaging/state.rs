//! The engine's private state, shared by its declaring, running and supervising parts: the
//! declared inputs, what they run on once started, and the tasks to wait for on stop.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::input::InputTask;
use super::memory::MemoryTransport;
use super::spec::InputOptions;
use super::transport::Transport;
use crate::resource::ResourceContext;

/// The running state, kept for inputs declared after the start.
pub(super) struct Started<Tr: Transport> {
    pub(super) via: Via<Tr>,
    pub(super) cx: ResourceContext,
    pub(super) defaults: InputOptions,
}

/// What the inputs run on: the resource's own transport, or the in-memory broker of a test.
pub(super) enum Via<Tr: Transport> {
    Own(Arc<Tr>),
    Memory(Arc<MemoryTransport<Tr::Meta>>),
}

/// A declared input, as the resource's transport and the in-memory one run it (the same input
/// behind two vtables).
pub(super) struct Declared<Tr: Transport> {
    pub(super) task: Arc<dyn InputTask<Tr>>,
    /// `None` for streams: their deliveries carry the resource's own received type.
    pub(super) memory: Option<Arc<dyn InputTask<MemoryTransport<Tr::Meta>>>>,
}

impl<Tr: Transport> Clone for Declared<Tr> {
    fn clone(&self) -> Self {
        Declared {
            task: Arc::clone(&self.task),
            memory: self.memory.clone(),
        }
    }
}

/// What the engine's handles share: the declared inputs and, while it runs, their loops.
pub(super) struct EngineState<Tr: Transport> {
    pub(super) resource: Mutex<Arc<str>>,
    pub(super) inputs: Mutex<Vec<Declared<Tr>>>,
    pub(super) halt: watch::Sender<bool>,
    pub(super) started: Mutex<Option<Started<Tr>>>,
    /// The input loops, waited for by every `stop`.
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The stream readers, waited for by the `stop` of a stopping service (they read on across
    /// a restart of the resource).
    pub(super) readers: Mutex<Vec<JoinHandle<()>>>,
    /// Halts and releases the inputs when the service begins to stop.
    pub(super) halter: Mutex<Option<JoinHandle<()>>>,
    /// The service's shutdown, once started: a `stop` before it begins is a restart.
    pub(super) shutdown: Mutex<Option<crate::ShutdownHandle>>,
    pub(super) failed: AtomicBool,
}

impl<Tr: Transport> EngineState<Tr> {
    pub(super) fn new() -> Self {
        EngineState {
            resource: Mutex::new(Arc::from("messaging")),
            inputs: Mutex::default(),
            halt: watch::Sender::new(false),
            started: Mutex::new(None),
            tasks: Mutex::default(),
            readers: Mutex::default(),
            halter: Mutex::default(),
            shutdown: Mutex::default(),
            failed: AtomicBool::new(false),
        }
    }

    /// Releases every input: each ends for good once its run in progress does.
    pub(super) fn release(&self) {
        for input in &*self.inputs.lock().expect("inputs lock") {
            input.task.release();
        }
    }
}
