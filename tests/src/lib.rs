//! End-to-end tests of the `sse` toolkit; see the `tests/` folder.
