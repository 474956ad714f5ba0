//! Generates the body of `RouteTable::lookup`: the routes as a tree of
//! segments, each node a small fn that the compiler inlines into its parent.
//!
//! The walk is a depth-first search in priority order (static, then param,
//! then catch-all). Ranks compare templates segment by segment from the left
//! with static > param > catch-all, so the first node whose routes match the
//! path is the best-ranked match: the search stops at the first route of the
//! request's method and backtracks only past a child that failed, which is
//! exactly the backtracking the priority rules require. Routes of other
//! methods met on the way are the `MethodNotMatched` list, in rank order
//! (`DynamicRouter` semantics; routes of one node share a rank and keep the
//! order they were written in, as `DynamicRouter` keeps insertion order
//! among equal ranks).
//!
//! Per node, the cheap facts come first: the segment's length selects the
//! candidate static texts, a first-byte switch splits large groups, and the
//! remaining candidates are compared as fixed-size byte slices. Param values
//! are borrowed slices of the path written into a fixed array (the slot of a
//! param is its position among the route's params, the same for every route
//! through a node), so the lookup never allocates.

use std::collections::BTreeMap;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use sse_path::Segment;

use crate::routes::Route;

#[derive(Default)]
struct Node {
    /// Routes ending here, in the order they were written.
    routes: Vec<usize>,
    /// Static children, keyed by text (sorted, for stable output).
    statics: BTreeMap<String, Node>,
    param: Option<Box<Node>>,
    /// Routes ending in a catch-all right after this node.
    catch_all: Vec<usize>,
}

impl Node {
    fn insert(&mut self, segments: &[Segment], route: usize) {
        match segments.split_first() {
            None => self.routes.push(route),
            Some((Segment::Static(text), rest)) => self
                .statics
                .entry(text.clone())
                .or_default()
                .insert(rest, route),
            Some((Segment::Param(_), rest)) => self
                .param
                .get_or_insert_with(Default::default)
                .insert(rest, route),
            Some((Segment::CatchAll(_), _)) => self.catch_all.push(route),
        }
    }
}

struct Generator<'a> {
    routes: &'a [Route],
    fns: Vec<TokenStream>,
}

pub(crate) fn generate(routes: &[Route], max_params: usize) -> TokenStream {
    let mut root = Node::default();
    for (index, route) in routes.iter().enumerate() {
        root.insert(route.template.segments(), index);
    }
    let mut generator = Generator {
        routes,
        fns: Vec::new(),
    };
    let terminal = generator.terminal(&root.routes);
    let children = generator.children(&root, 0);
    let fns = generator.fns;
    quote! {
        #(#fns)*

        #[inline(always)]
        #[allow(unused_variables, unused_mut)]
        fn __sse_root<'p>(
            path: &'p str,
            ps: &mut [(usize, usize); #max_params],
            m: u8,
            al: &mut ::sse::__private::AllowedMethods,
        ) -> ::core::option::Option<usize> {
            let b = path.as_bytes();
            if b.first() != ::core::option::Option::Some(&b'/') {
                return ::core::option::Option::None;
            }
            if b.len() == 1 {
                #terminal
            }
            let start = 1usize;
            #children
            ::core::option::Option::None
        }

        let m = ::sse::__private::method_index(method);
        let mut ps: [(usize, usize); #max_params] = [(0, 0); #max_params];
        let mut al = ::sse::__private::AllowedMethods::default();
        match __sse_root(path, &mut ps, m, &mut al) {
            ::core::option::Option::Some(route) => ::sse::__private::RawMatch::Found {
                route,
                params: ::sse::__private::RawParams::from_bounds(path, ps, Self::ROUTES[route].params.len()),
            },
            ::core::option::Option::None if al.is_empty() => ::sse::__private::RawMatch::Unmatched,
            ::core::option::Option::None => ::sse::__private::RawMatch::MethodNotMatched(al),
        }
    }
}

impl Generator<'_> {
    /// Code that answers for routes that end where the path ends: returns
    /// the route of method `m`, or adds their methods to `al` and returns
    /// `None`.
    fn terminal(&self, routes: &[usize]) -> TokenStream {
        if routes.is_empty() {
            return quote! { return ::core::option::Option::None; };
        }
        let arms = routes.iter().map(|&route| {
            let method = Literal::u8_unsuffixed(self.routes[route].method);
            let route = Literal::usize_unsuffixed(route);
            quote! { #method => return ::core::option::Option::Some(#route), }
        });
        let adds = routes.iter().map(|&route| {
            let method = Literal::u8_unsuffixed(self.routes[route].method);
            quote! { al.add(#method); }
        });
        quote! {
            match m {
                #(#arms)*
                _ => {}
            }
            #(#adds)*
            return ::core::option::Option::None;
        }
    }

    /// Code that tries the children of `node` on the segment starting at
    /// `start` (just past a `/`); `slot` is the param slot of that segment.
    /// Falls through when none matches.
    fn children(&mut self, node: &Node, slot: usize) -> TokenStream {
        let mut code = TokenStream::new();
        if !node.statics.is_empty() {
            // Static text is compared in place, without looking for the
            // segment's end first: the path's bytes select the candidates,
            // and a candidate matches if its text is there followed by `/`
            // or the end of the path.
            let group: Vec<(&[u8], &Node)> = node
                .statics
                .iter()
                .map(|(text, child)| (text.as_bytes(), child))
                .collect();
            code.extend(self.static_switch(&group, 0, slot));
        }
        if let Some(param) = &node.param {
            let child = self.node(param, slot + 1);
            let slot = Literal::usize_unsuffixed(slot);
            code.extend(quote! {
                let end = ::sse::__private::segment_end(b, start);
                if end > start {
                    ps[#slot] = (start, end);
                    if let ::core::option::Option::Some(route) = #child(path, end, ps, m, al) {
                        return ::core::option::Option::Some(route);
                    }
                }
            });
        }
        if !node.catch_all.is_empty() {
            let terminal = self.terminal(&node.catch_all);
            let slot = Literal::usize_unsuffixed(slot);
            code.extend(quote! {
                if start < b.len() {
                    ps[#slot] = (start, b.len());
                    #terminal
                }
            });
        }
        code
    }

    /// Code that finds which of `group` (static texts whose first `depth`
    /// bytes are known to be in the path at `start`) the segment at `start`
    /// is, and tries its child. Large groups switch on the byte at `depth`;
    /// small ones compare the rest of each text. At most one text can be the
    /// segment, so after a failed child the code falls through to the
    /// param and catch-all children.
    fn static_switch(
        &mut self,
        group: &[(&[u8], &Node)],
        depth: usize,
        slot: usize,
    ) -> TokenStream {
        if group.len() <= 3 {
            return self.static_chain(group, depth, slot);
        }
        let mut code = TokenStream::new();
        // A text that ends at `depth` is the segment when the segment ends
        // there too; it cannot also be any longer text.
        let (ended, longer): (Vec<_>, Vec<_>) =
            group.iter().partition(|(text, _)| text.len() == depth);
        if !ended.is_empty() {
            code.extend(self.static_chain(&ended, depth, slot));
        }
        let mut by_byte: BTreeMap<u8, Vec<(&[u8], &Node)>> = BTreeMap::new();
        for (text, child) in longer {
            by_byte.entry(text[depth]).or_default().push((text, child));
        }
        let arms: Vec<TokenStream> = by_byte
            .into_iter()
            .map(|(byte, group)| {
                let byte = Literal::u8_suffixed(byte);
                let body = self.static_switch(&group, depth + 1, slot);
                quote! { ::core::option::Option::Some(#byte) => { #body } }
            })
            .collect();
        let depth = Literal::usize_unsuffixed(depth);
        code.extend(quote! {
            match b.get(start + #depth).copied() {
                #(#arms)*
                _ => {}
            }
        });
        code
    }

    /// `if <text at start> { ... } else if ...` for a few static children
    /// whose first `depth` bytes are already known to match.
    fn static_chain(&mut self, group: &[(&[u8], &Node)], depth: usize, slot: usize) -> TokenStream {
        let mut chain = Vec::new();
        for (text, child) in group {
            let child = self.node(child, slot);
            let rest = Literal::byte_string(&text[depth..]);
            let depth = Literal::usize_unsuffixed(depth);
            let len = Literal::usize_unsuffixed(text.len());
            chain.push(quote! {
                if ::sse::__private::static_at(b, start + #depth, #rest) {
                    if let ::core::option::Option::Some(route) = #child(path, start + #len, ps, m, al) {
                        return ::core::option::Option::Some(route);
                    }
                }
            });
        }
        // Only one text can be the segment: chain with `else`.
        let mut iter = chain.into_iter();
        let first = iter.next().expect("a group is not empty");
        iter.fold(first, |code, next| quote! { #code else #next })
    }

    /// Emits the fn for `node` (reached after a segment that ended at `at`,
    /// with `slot` params bound before its children) and returns its name.
    fn node(&mut self, node: &Node, slot: usize) -> proc_macro2::Ident {
        let name = format_ident!("__sse_node_{}", self.fns.len());
        // Reserve the index before the children take theirs.
        self.fns.push(TokenStream::new());
        let index = self.fns.len() - 1;
        let terminal = self.terminal(&node.routes);
        let has_children =
            !node.statics.is_empty() || node.param.is_some() || !node.catch_all.is_empty();
        let children = if has_children {
            let children = self.children(node, slot);
            quote! {
                // `b[at]` is the `/` that `segment_end` stopped at.
                let start = at + 1;
                #children
                ::core::option::Option::None
            }
        } else {
            quote! { ::core::option::Option::None }
        };
        let max = self.max_params();
        self.fns[index] = quote! {
            #[inline(always)]
            #[allow(unused_variables, unused_mut)]
            fn #name<'p>(
                path: &'p str,
                at: usize,
                ps: &mut [(usize, usize); #max],
                m: u8,
                al: &mut ::sse::__private::AllowedMethods,
            ) -> ::core::option::Option<usize> {
                let b = path.as_bytes();
                if at == b.len() {
                    #terminal
                }
                #children
            }
        };
        name
    }

    fn max_params(&self) -> usize {
        self.routes
            .iter()
            .map(|route| route.template.param_names().count())
            .max()
            .unwrap_or(0)
    }
}
