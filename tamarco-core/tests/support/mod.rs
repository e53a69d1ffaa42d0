//! Test support shared by the messaging test binaries.

pub mod memory;
