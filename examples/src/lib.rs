//! The numbered examples live beside this crate; see `README.md`.
