//! Items the macros' generated code uses; not a public API (work in progress).
