//! Compile-fail and pass tests of `#[microservice]`; the cases live in `tests/ui/`.
