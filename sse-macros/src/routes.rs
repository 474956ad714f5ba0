//! `sse_routes!`: parses the table, checks it with `sse_path` (the same
//! parser and conflict rules the runtime uses), and generates the router.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use sse_path::{Conflict, Template};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Token, braced};

use crate::handler::Errors;
use crate::matcher;

/// The methods a route may name, in the order of `__private::METHODS`.
pub(crate) const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
];

/// A parsed table, before checking.
struct Table {
    entries: Vec<Entry>,
}

enum Entry {
    Route {
        method: Option<Ident>,
        path: PathToken,
        filter: Option<Expr>,
        handler: Expr,
    },
    Group {
        method: Option<Ident>,
        path: PathToken,
        filter: Option<Expr>,
        brace: Span,
        table: Table,
    },
}

/// The path of an entry: a string literal, or whatever else was written
/// there (an error, reported when checking, after the whole table parsed).
enum PathToken {
    Literal(LitStr),
    Other(Expr),
}

impl Parse for Table {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut entries = Vec::new();
        while !input.is_empty() {
            let entry: Entry = input.parse()?;
            let is_group = matches!(entry, Entry::Group { .. });
            entries.push(entry);
            if input.is_empty() {
                break;
            }
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            } else if !is_group {
                // A group's closing brace ends it, as a block ends a match arm.
                return Err(input.error("expected `,` after the route's handler"));
            }
        }
        Ok(Table { entries })
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `GET "/path"`: a method is an identifier followed by the path
        // literal; an identifier followed by anything else is a path that is
        // not a literal (`PATH => ...`), reported when checking.
        let method = if input.peek(Ident) && input.peek2(LitStr) {
            Some(input.parse::<Ident>()?)
        } else {
            None
        };
        let path = if input.peek(LitStr) {
            PathToken::Literal(input.parse()?)
        } else {
            let lookahead = input.lookahead1();
            if input.is_empty() || input.peek(Token![=>]) {
                lookahead.peek(LitStr);
                return Err(lookahead.error());
            }
            PathToken::Other(Expr::parse_without_eager_brace(input)?)
        };
        let filter = if input.peek(Ident) && input.fork().parse::<Ident>()? == "with" {
            input.parse::<Ident>()?;
            Some(Expr::parse_without_eager_brace(input)?)
        } else {
            None
        };
        if !input.peek(Token![=>]) {
            return Err(input.error(
                "expected `=>` and a handler after the route's path (or `with FILTER =>` on a group)",
            ));
        }
        input.parse::<Token![=>]>()?;
        if input.peek(syn::token::Brace) {
            let content;
            let brace = braced!(content in input);
            let table: Table = content.parse()?;
            return Ok(Entry::Group {
                method,
                path,
                filter,
                brace: brace.span.join(),
                table,
            });
        }
        let handler: Expr = input.parse()?;
        Ok(Entry::Route {
            method,
            path,
            filter,
            handler,
        })
    }
}

/// One route of the flattened table.
pub(crate) struct Route {
    /// Index into `METHODS`.
    pub(crate) method: u8,
    /// The full template, group prefixes joined.
    pub(crate) template: Template,
    /// The literal, for spans.
    pub(crate) literal: LitStr,
    pub(crate) handler: Expr,
    /// The filters around it, outermost first (indices into `filters`).
    pub(crate) filters: Vec<usize>,
}

#[derive(Default)]
struct Checker {
    errors: Errors,
    routes: Vec<Route>,
    filters: Vec<Expr>,
}

impl Checker {
    /// Flattens `table` under `prefix` (`None` when the group's own path was
    /// invalid: its routes are still checked on their own).
    fn table(&mut self, table: Table, prefix: Option<&Template>, filters: &[usize]) {
        for entry in table.entries {
            match entry {
                Entry::Route {
                    method,
                    path,
                    filter,
                    handler,
                } => {
                    let method = self.method(method.as_ref());
                    let mut filters = filters.to_vec();
                    if let Some(filter) = filter {
                        filters.push(self.filters.len());
                        self.filters.push(filter);
                    }
                    let Some((literal, template)) = self.path(path, prefix) else {
                        continue;
                    };
                    let (Some(method), Some(template)) = (method, template) else {
                        continue;
                    };
                    self.route(Route {
                        method,
                        template,
                        literal,
                        handler,
                        filters,
                    });
                }
                Entry::Group {
                    method,
                    path,
                    filter,
                    brace,
                    table,
                } => {
                    if let Some(method) = method {
                        self.errors.push(syn::Error::new(
                            method.span(),
                            format!(
                                "a group has no method: put `{method}` on each route inside the group instead"
                            ),
                        ));
                    }
                    if table.entries.is_empty() {
                        self.errors.push(syn::Error::new(
                            brace,
                            "this group has no routes: add routes inside the braces, or remove the group",
                        ));
                    }
                    let mut filters = filters.to_vec();
                    if let Some(filter) = filter {
                        filters.push(self.filters.len());
                        self.filters.push(filter);
                    }
                    let group = match self.path(path, prefix) {
                        Some((literal, Some(template))) if template.has_catch_all() => {
                            self.errors.push(syn::Error::new(
                                literal.span(),
                                format!(
                                    "invalid group path {:?}: it ends with a catch-all, so no route can be nested under it; move the catch-all into the routes",
                                    literal.value()
                                ),
                            ));
                            None
                        }
                        Some((_, template)) => template,
                        None => None,
                    };
                    self.table(table, group.as_ref(), &filters);
                }
            }
        }
    }

    fn method(&mut self, method: Option<&Ident>) -> Option<u8> {
        let Some(method) = method else {
            return Some(0);
        };
        let name = method.to_string();
        if let Some(index) = METHODS.iter().position(|m| *m == name) {
            return Some(index as u8);
        }
        let upper = name.to_ascii_uppercase();
        let message = if METHODS.contains(&upper.as_str()) {
            format!("write the method in capitals: `{upper}`")
        } else {
            format!(
                "unknown HTTP method `{name}`; use one of {} (GET is the default and may be left out)",
                METHODS.join(", ")
            )
        };
        self.errors.push(syn::Error::new(method.span(), message));
        None
    }

    /// Parses a path and joins it to `prefix`. `None` when it is not a
    /// literal; `Some((literal, None))` when it is invalid or its prefix was.
    fn path(
        &mut self,
        path: PathToken,
        prefix: Option<&Template>,
    ) -> Option<(LitStr, Option<Template>)> {
        let literal = match path {
            PathToken::Literal(literal) => literal,
            PathToken::Other(expr) => {
                self.errors.push(syn::Error::new_spanned(
                    expr,
                    "the path must be a string literal such as \"/rooms/{room}\", so that it can be checked at compile time",
                ));
                return None;
            }
        };
        let value = literal.value();
        let template = match Template::parse(&value) {
            Ok(template) => template,
            Err(error) => {
                self.errors.push(syn::Error::new(
                    literal.span(),
                    format!("invalid path {value:?}: {error}"),
                ));
                return Some((literal, None));
            }
        };
        let Some(prefix) = prefix else {
            return Some((literal, Some(template)));
        };
        match prefix.join(&template) {
            Ok(joined) => Some((literal, Some(joined))),
            Err(error) => {
                self.errors.push(syn::Error::new(
                    literal.span(),
                    format!(
                        "invalid path {value:?} under the group {:?}: {error}",
                        prefix.as_str()
                    ),
                ));
                Some((literal, None))
            }
        }
    }

    /// Adds a route unless it conflicts with an earlier one of its method.
    fn route(&mut self, route: Route) {
        let method = METHODS[usize::from(route.method)];
        for earlier in self.routes.iter().filter(|r| r.method == route.method) {
            let Some(conflict) = route.template.conflict_with(&earlier.template) else {
                continue;
            };
            let path = route.template.as_str();
            let message = match conflict {
                Conflict::Duplicate => format!(
                    "duplicate route: {method} `{path}` is already routed by an earlier entry{}; remove one of the two",
                    written_as(&earlier.literal, &earlier.template)
                ),
                Conflict::SameShape => format!(
                    "ambiguous route: {method} `{path}` and the earlier {method} `{}`{} differ only in parameter names, so they match the same paths and this one could never be chosen; keep one of them",
                    earlier.template.as_str(),
                    written_as(&earlier.literal, &earlier.template)
                ),
            };
            self.errors
                .push(syn::Error::new(route.literal.span(), message));
            return;
        }
        self.routes.push(route);
    }
}

/// How an earlier route was written, when a group prefix makes its literal
/// differ from its full path (so the reader can find it).
fn written_as(literal: &LitStr, template: &Template) -> String {
    let value = literal.value();
    if value == template.as_str() {
        String::new()
    } else {
        format!(" (written {value:?} in a group)")
    }
}

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let table: Table = syn::parse2(input)?;
    let mut checker = Checker::default();
    checker.table(table, None, &[]);
    let Checker {
        errors,
        routes,
        filters,
    } = checker;
    let param_checks = param_checks(&routes);
    if !errors.is_empty() {
        let errors = errors.finish().expect_err("not empty").to_compile_error();
        // The param checks still run so that every error shows at once; the
        // value keeps the code that uses the router free of follow-up errors.
        return Ok(quote! {{
            #errors
            #param_checks
            ::sse::__private::InvalidRouter
        }});
    }
    Ok(generate(&routes, &filters, param_checks))
}

/// The const assertions that a route binds exactly the params its
/// `#[sse_handler]` takes (routes whose handler is a plain path).
fn param_checks(routes: &[Route]) -> TokenStream {
    let mut checks = TokenStream::new();
    for (index, route) in routes.iter().enumerate() {
        let Expr::Path(handler) = &route.handler else {
            continue;
        };
        if handler.qself.is_some()
            || !handler.attrs.is_empty()
            || handler
                .path
                .segments
                .iter()
                .any(|segment| !segment.arguments.is_empty())
        {
            continue;
        }
        let handler_path = &handler.path;
        let handler_name = handler_path
            .segments
            .last()
            .map(|segment| segment.ident.to_string())
            .unwrap_or_default();
        let path = route.template.as_str();
        let names: Vec<&str> = route.template.param_names().collect();
        let params = format_ident!("__SSE_PARAMS_{}", index, span = Span::mixed_site());
        let item = quote_spanned! {handler.span()=>
            <#handler_path as ::sse::__private::SseHandlerItem>::PARAMS
        };
        checks.extend(quote! {
            const #params: &[::sse::__private::HandlerParam] = #item;
        });
        for name in &names {
            let message = format!(
                "route `{path}` binds the path parameter `{{{name}}}`, but handler `{handler_name}` takes no argument `{name}`: add `{name}: String` (or another `FromStr` type) to `{handler_name}`, or remove `{{{name}}}` from the path"
            );
            checks.extend(quote_spanned! {route.literal.span()=>
                const _: () = if !::sse::__private::handler_takes(#params, #name) {
                    ::core::panic!("{}", #message)
                };
            });
        }
        // Checking the first unbound handler param; one per route is what a
        // const panic can say, and fixing it reveals the next. The panic
        // starts at the path's first token and ends at its last, so that the
        // error underlines the whole handler path (spans cannot be joined on
        // stable).
        let first = handler_path
            .segments
            .first()
            .map_or_else(Span::call_site, |s| s.ident.span());
        let last = handler_path
            .segments
            .last()
            .map_or_else(Span::call_site, |s| s.ident.span());
        let panic_path = quote_spanned! {first=> ::core::panic };
        let mut panic_args = proc_macro2::Group::new(
            proc_macro2::Delimiter::Parenthesis,
            quote! { "{}", message },
        );
        panic_args.set_span(last);
        checks.extend(quote_spanned! {first=>
            const _: () = if let ::core::option::Option::Some(message) =
                ::sse::__private::first_unbound(#params, &[#(#names),*])
            {
                #panic_path! #panic_args
            };
        });
    }
    checks
}

fn generate(routes: &[Route], filters: &[Expr], param_checks: TokenStream) -> TokenStream {
    let count = routes.len();
    let max_params = routes
        .iter()
        .map(|route| route.template.param_names().count())
        .max()
        .unwrap_or(0);
    let infos = routes.iter().map(|route| {
        let method = Ident::new(METHODS[usize::from(route.method)], Span::call_site());
        let path = route.template.as_str();
        let names = route.template.param_names();
        quote! {
            ::sse::__private::RouteInfo {
                method: ::sse::http::Method::#method,
                path: #path,
                params: &[#(#names),*],
            }
        }
    });
    let paths = routes.iter().map(|route| {
        let path = route.template.as_str();
        quote! { ::std::sync::Arc::<str>::from(#path) }
    });
    let filter_names: Vec<Ident> = (0..filters.len())
        .map(|i| format_ident!("__sse_filter_{}", i, span = Span::mixed_site()))
        .collect();
    let filter_lets = filters.iter().zip(&filter_names).map(|(filter, name)| {
        let check = quote_spanned! {filter.span()=> ::sse::__private::filter };
        quote! { let #name = #check(#filter); }
    });
    let handlers = routes.iter().map(|route| {
        // `(handler)` only marks a handler as not param-checked; the
        // parentheses would be an `unused_parens` warning in the call.
        let expr = match &route.handler {
            Expr::Paren(paren) if paren.attrs.is_empty() => &*paren.expr,
            other => other,
        };
        let check = quote_spanned! {expr.span()=> ::sse::__private::handler };
        let mut handler = quote! { #check(#expr) };
        // Innermost filter first, so the group's outermost filter runs first.
        for &filter in route.filters.iter().rev() {
            let name = &filter_names[filter];
            handler = quote! { ::sse::__private::wrap(&#name, #handler) };
        }
        handler
    });
    let lookup = matcher::generate(routes, max_params);

    quote! {{
        #param_checks

        struct __SseRoutes {
            handlers: [::sse::BoxedHandler; #count],
            paths: [::std::sync::Arc<str>; #count],
        }

        impl __SseRoutes {
            const ROUTES: &'static [::sse::__private::RouteInfo] = &[#(#infos),*];
        }

        impl ::sse::__private::RouteTable for __SseRoutes {
            type Params<'p> = ::sse::__private::RawParams<'p, #max_params>;

            fn routes(&self) -> &'static [::sse::__private::RouteInfo] {
                Self::ROUTES
            }

            #[inline]
            fn lookup<'p>(
                &self,
                method: &::sse::http::Method,
                path: &'p str,
            ) -> ::sse::__private::RawMatch<::sse::__private::RawParams<'p, #max_params>> {
                #lookup
            }
        }

        impl ::sse::SseRouter for __SseRoutes {
            fn match_route(&self, method: &::sse::http::Method, path: &str) -> ::sse::SseRouterMatch {
                match ::sse::__private::RouteTable::lookup(self, method, path) {
                    ::sse::__private::RawMatch::Found { route, params } => ::sse::SseRouterMatch::from_raw(
                        &self.handlers[route],
                        &self.paths[route],
                        Self::ROUTES[route].params.iter().copied(),
                        params,
                    ),
                    ::sse::__private::RawMatch::MethodNotMatched(allowed) => {
                        ::sse::SseRouterMatch::MethodNotMatched { allowed: allowed.to_vec() }
                    }
                    ::sse::__private::RawMatch::Unmatched => ::sse::SseRouterMatch::Unmatched,
                }
            }
        }

        #(#filter_lets)*
        __SseRoutes {
            handlers: [#(#handlers),*],
            paths: [#(#paths),*],
        }
    }}
}
