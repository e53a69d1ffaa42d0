//! Benchmark of a log call (written with the logging sinks).

fn main() {}
