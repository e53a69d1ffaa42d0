//! The compiler output users see for `#[microservice]`, good and bad.
//!
//! Each file in `tests/ui/fail/` makes one mistake and has a `.stderr` next to it with the
//! exact diagnostics; each file in `tests/ui/pass/` must compile. After an intended change to
//! a diagnostic, re-bless with
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p tamarco-ui-tests
//! ```
//!
//! and read every changed `.stderr` before committing it.

/// `.stderr` files are recorded with rustc 1.95; other compilers word errors differently.
/// CI passes `--include-ignored`, so a toolchain bump shows up as a diff, not a silent skip.
#[rustversion::attr(
    not(stable(1.95)),
    ignore = "ui snapshots are recorded with rustc 1.95"
)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
