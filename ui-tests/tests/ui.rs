//! The macros' compile errors, with their exact compiler output
//! (`fail/*.rs` + `.stderr`), and programs using the whole grammar that
//! must compile and run (`pass/*.rs`).
//!
//! Regenerate the `.stderr` files after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p sse-ui-tests`, then read each one: the
//! message must say what is wrong and point at the right token. The output
//! depends on the rustc version.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*.rs");
    cases.pass("pass/*.rs");
}
