//! Compile-error tests for the `sse` macros; see `tests/ui.rs`.
