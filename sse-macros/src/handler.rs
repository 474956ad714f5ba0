//! `#[sse_handler]`: an async fn becomes a handler fn plus a same-named type
//! that tells `sse_routes!` which path params it takes.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

/// What an argument after the connection receives.
enum ArgKind {
    /// A path param parsed with `FromStr`.
    PathParam,
    /// The whole request (type written `Request`).
    Request,
    /// The `Last-Event-ID` header (type written `LastEventId`).
    LastEventId,
}

struct Arg {
    /// The name; `None` for `_`.
    name: Option<Ident>,
    ty: Type,
    kind: ArgKind,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.push(syn::Error::new_spanned(
            &attr,
            "`#[sse_handler]` takes no arguments; the route's path goes in `sse_routes!`",
        ));
    }
    let function: ItemFn = syn::parse2(item).map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`#[sse_handler]` goes on an `async fn`: {error}"),
        )
    })?;
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "an `#[sse_handler]` fn must be `async`: its body runs as the consumer once the client is connected; write `async fn`",
        ));
    }
    if let Some(token) = &sig.constness {
        errors.push(syn::Error::new(
            token.span,
            "an `#[sse_handler]` fn cannot be `const`",
        ));
    }
    if let Some(token) = &sig.unsafety {
        errors.push(syn::Error::new(
            token.span,
            "an `#[sse_handler]` fn cannot be `unsafe`",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "an `#[sse_handler]` fn cannot have an `extern` ABI",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "an `#[sse_handler]` fn cannot be generic: the router needs one concrete handler; use concrete types (`String`, `u64`, ...)",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "an `#[sse_handler]` fn cannot be variadic",
        ));
    }

    let mut inputs = sig.inputs.iter();
    // The connection: `ident: Type` (or `_: Type`); its type is checked by
    // the compiler against `ConnectionArg`, spanned at the type.
    let connection_ty = match inputs.next() {
        None => {
            errors.push(syn::Error::new(
                sig.paren_token.span.join(),
                "an `#[sse_handler]` fn takes the connection as its first argument: write `sse: SseHandle`",
            ));
            None
        }
        Some(FnArg::Receiver(receiver)) => {
            errors.push(receiver_error(receiver));
            None
        }
        Some(FnArg::Typed(typed)) => {
            match &*typed.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {}
                Pat::Wild(_) => {}
                other => errors.push(pattern_error(other, "the connection")),
            }
            Some((*typed.ty).clone())
        }
    };

    let mut args = Vec::new();
    let mut request_arg: Option<Span> = None;
    for input in inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                errors.push(receiver_error(receiver));
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let name = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                Some(pat.ident.clone())
            }
            Pat::Wild(_) => None,
            other => {
                errors.push(pattern_error(other, "a path parameter"));
                continue;
            }
        };
        let ty = (*typed.ty).clone();
        let kind = match type_name(&ty).as_deref() {
            Some("Request") => {
                if let Some(_first) = request_arg {
                    errors.push(syn::Error::new_spanned(
                        &ty,
                        "the request is taken by value, so only one argument can receive it; remove this one",
                    ));
                    continue;
                }
                request_arg = Some(ty.span());
                ArgKind::Request
            }
            Some("LastEventId") => ArgKind::LastEventId,
            Some("SseHandle") => {
                errors.push(syn::Error::new_spanned(
                    &ty,
                    "the connection must be the first argument of an `#[sse_handler]` fn; move this argument first",
                ));
                continue;
            }
            _ => {
                if let Type::Reference(reference) = &ty {
                    errors.push(syn::Error::new_spanned(
                        reference,
                        "a path parameter is parsed into an owned value (the stream outlives the request); write `String` instead of `&str`, or another `FromStr` type",
                    ));
                    continue;
                }
                if let Type::ImplTrait(_) = &ty {
                    errors.push(syn::Error::new_spanned(
                        &ty,
                        "a path parameter needs a concrete type (an `#[sse_handler]` fn cannot be generic); write `String`, `u64`, ...",
                    ));
                    continue;
                }
                if name.is_none() {
                    errors.push(syn::Error::new_spanned(
                        &typed.pat,
                        "a path parameter needs a name, the one its route binds (`{name}`); `_` cannot be routed",
                    ));
                    continue;
                }
                ArgKind::PathParam
            }
        };
        args.push(Arg { name, ty, kind });
    }
    errors.finish()?;
    let connection_ty = connection_ty.expect("errors returned above");

    let name = &sig.ident;
    let vis = &function.vis;
    let name_str = name.to_string();

    // cfg goes on every item emitted; docs and `deprecated` describe the
    // handler value; any other attribute (allow, instrument, ...) is about
    // the body, so it stays on the consumer fn.
    let mut cfgs = Vec::new();
    let mut outer_attrs = Vec::new();
    let mut inner_attrs = Vec::new();
    for attr in &function.attrs {
        let path = attr.path();
        if path.is_ident("cfg") {
            cfgs.push(attr);
        } else if path.is_ident("doc") || path.is_ident("deprecated") {
            outer_attrs.push(attr);
        } else {
            inner_attrs.push(attr);
        }
    }

    let params: Vec<TokenStream> = args
        .iter()
        .filter(|arg| matches!(arg.kind, ArgKind::PathParam))
        .map(|arg| {
            let param = arg.name.as_ref().expect("path params are named").to_string();
            let unbound = format!(
                "handler `{name_str}` takes the path parameter `{param}`, but this route does not bind it: add a `{{{param}}}` segment to the path, or remove the argument `{param}` from `{name_str}`"
            );
            quote! { ::sse::__private::HandlerParam { name: #param, unbound: #unbound } }
        })
        .collect();

    let request = Ident::new("request", Span::mixed_site());
    let handle = Ident::new("sse", Span::mixed_site());
    let consumer = Ident::new("__sse_consumer", Span::mixed_site());
    let mut reads = Vec::new();
    let mut take_request = None;
    let mut values = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let value = format_ident!("__sse_arg_{}", i, span = Span::mixed_site());
        let ty = &arg.ty;
        match arg.kind {
            ArgKind::PathParam => {
                let param = arg
                    .name
                    .as_ref()
                    .expect("path params are named")
                    .to_string();
                let type_str = type_string(ty);
                let read = quote_spanned! {ty.span()=> ::sse::__private::path_param::<#ty> };
                reads.push(quote! {
                    let #value: #ty = match #read(&#request, #param, #type_str) {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(refusal) => return ::core::future::ready(refusal),
                    };
                });
            }
            ArgKind::LastEventId => {
                let read = quote_spanned! {ty.span()=> ::sse::__private::last_event_id_arg::<#ty> };
                reads.push(quote! { let #value: #ty = #read(&#request); });
            }
            ArgKind::Request => {
                // Moved last, after every read that borrows the request.
                let read = quote_spanned! {ty.span()=> ::sse::__private::request_arg::<#ty> };
                take_request = Some(quote! { let #value: #ty = #read(#request); });
            }
        }
        values.push(value);
    }
    if take_request.is_none() {
        // The handler fn takes the request either way.
        take_request = Some(quote! { let _ = #request; });
    }

    let connection =
        quote_spanned! {connection_ty.span()=> ::sse::__private::connection_arg::<#connection_ty> };
    // What the body returns is checked at the return type.
    let finish = match &sig.output {
        ReturnType::Default => quote! { ::sse::__private::finish::<()> },
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=> ::sse::__private::finish::<#ty> },
    };
    // A body that is not `Send` is reported at the fn's name.
    let stream = quote_spanned! {sig.ident.span()=>
        ::sse::__private::stream(move |#handle: ::sse::SseHandle| async move {
            #finish(#consumer(#connection(#handle), #(#values),*).await, #name_str)
        })
    };

    // The user's fn, renamed and kept as written: its body is the consumer.
    let mut inner_sig = sig.clone();
    inner_sig.ident = consumer.clone();
    let block = &function.block;

    let doc_struct =
        format!("The path parameters `#[sse_handler] {name_str}` takes, for `sse_routes!`.");
    Ok(quote! {
        #(#cfgs)*
        #[doc = #doc_struct]
        #[doc(hidden)]
        #[allow(non_camel_case_types, unreachable_pub, dead_code)]
        #vis struct #name {}

        #(#cfgs)*
        impl ::sse::__private::SseHandlerItem for #name {
            const NAME: &'static str = #name_str;
            const PARAMS: &'static [::sse::__private::HandlerParam] = &[#(#params),*];
        }

        #(#cfgs)*
        #(#outer_attrs)*
        #vis fn #name(#request: ::sse::Request) -> ::core::future::Ready<::sse::SseResponse> {
            #(#inner_attrs)*
            #inner_sig #block

            #(#reads)*
            #take_request
            ::core::future::ready(#stream)
        }
    })
}

fn receiver_error(receiver: &syn::Receiver) -> syn::Error {
    syn::Error::new_spanned(
        receiver,
        "an `#[sse_handler]` fn cannot take `self`: write it as a free fn (use a closure or a handler type for state)",
    )
}

fn pattern_error(pat: &Pat, what: &str) -> syn::Error {
    syn::Error::new_spanned(
        pat,
        format!(
            "{what} must be written `name: Type`: `#[sse_handler]` binds path parameters by argument name, so patterns are not supported"
        ),
    )
}

/// The last path segment's name of a type written as a path.
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string()),
        Type::Paren(inner) => type_name(&inner.elem),
        Type::Group(inner) => type_name(&inner.elem),
        _ => None,
    }
}

/// The type as written, for "is not a valid u64" messages.
fn type_string(ty: &Type) -> String {
    quote!(#ty).to_string().replace(' ', "")
}

/// Collects errors so that all of them are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}
