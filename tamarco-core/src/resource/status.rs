use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// The status of a resource, with the codes `/status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ResourceStatus {
    /// Not started yet (code 0).
    NotStarted = 0,
    /// Starting, or reconnecting after a lost connection (code 1).
    Connecting = 1,
    /// Running (code 2).
    Started = 2,
    /// Stopping (code 3).
    Stopping = 3,
    /// Stopped (code 4).
    Stopped = 4,
    /// Failed (code 5).
    Failed = 5,
}

impl ResourceStatus {
    /// The numeric code, 0 to 5.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The name used in `/status` (`STARTED`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::NotStarted => "NOT_STARTED",
            ResourceStatus::Connecting => "CONNECTING",
            ResourceStatus::Started => "STARTED",
            ResourceStatus::Stopping => "STOPPING",
            ResourceStatus::Stopped => "STOPPED",
            ResourceStatus::Failed => "FAILED",
        }
    }

    /// The status with this code, if any.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => ResourceStatus::NotStarted,
            1 => ResourceStatus::Connecting,
            2 => ResourceStatus::Started,
            3 => ResourceStatus::Stopping,
            4 => ResourceStatus::Stopped,
            5 => ResourceStatus::Failed,
            _ => return None,
        })
    }
}

impl fmt::Display for ResourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shared, lock-free cell holding one resource's status.
#[derive(Clone, Default)]
pub struct StatusCell(Arc<AtomicU8>);

impl StatusCell {
    /// The current status.
    pub fn get(&self) -> ResourceStatus {
        ResourceStatus::from_code(self.0.load(Ordering::Acquire)).unwrap_or(ResourceStatus::Failed)
    }

    /// Sets the status.
    pub fn set(&self, status: ResourceStatus) {
        self.0.store(status.code(), Ordering::Release);
    }
}

impl fmt::Debug for StatusCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCell({})", self.get())
    }
}
