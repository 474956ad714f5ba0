//! The macros of the `sse` toolkit (work in progress).

use proc_macro::TokenStream;

/// Marks an async fn as an SSE handler (work in progress).
#[proc_macro_attribute]
pub fn sse_handler(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Declares a route table (work in progress).
#[proc_macro]
pub fn sse_routes(_input: TokenStream) -> TokenStream {
    "compile_error!(\"sse_routes! is not implemented yet\")".parse().expect("tokens")
}
