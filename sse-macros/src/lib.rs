//! The macros of the [`sse`](https://docs.rs/sse) toolkit: `#[sse_handler]`
//! and `sse_routes!`. Use them through the `sse` crate, which re-exports
//! them; the generated code refers to `::sse`.
//!
//! Both check their input at compile time with the `sse_path` crate, the
//! same path parser and conflict rules the runtime router uses.

mod handler;
mod matcher;
mod routes;

use proc_macro::TokenStream;

/// Marks an async fn as an SSE handler.
#[proc_macro_attribute]
pub fn sse_handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match handler::expand(attr.into(), item.clone()) {
        Ok(expanded) => expanded.into(),
        // The item as written goes along with the errors, so that its
        // imports are used and code naming it does not fail a second time.
        Err(error) => {
            let mut output = error.into_compile_error();
            output.extend(item);
            output.into()
        }
    }
}

/// Declares a route table.
#[proc_macro]
pub fn sse_routes(input: TokenStream) -> TokenStream {
    routes::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
