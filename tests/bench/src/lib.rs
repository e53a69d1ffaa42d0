//! What the benchmark binaries (`src/bin`, run by `tests/bench/*.sh`) share.

pub mod cpu;
pub mod kafka_consume;
pub mod stats;
