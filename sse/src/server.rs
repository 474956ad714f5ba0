//! The hyper 1 server (work in progress).
