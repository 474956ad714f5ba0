//! Router benchmark: the `sse_routes!` router against matchit 0.9.2, on
//! matchit's own 130 GitHub-API routes (its `benches/bench.rs` set) and on a
//! generated 1,000-route set. Every iteration looks up every path; both
//! routers return the route and its params. Run with
//! `cargo bench -p sse-benches --bench router`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sse::routing::{RawMatch, RouteTable};

#[allow(dead_code, unreachable_pub, missing_docs)]
mod github {
    include!("../../sse/tests/support/github_routes.rs");
}

#[allow(dead_code, unreachable_pub, missing_docs, clippy::all)]
mod synthetic {
    include!(concat!(env!("OUT_DIR"), "/synthetic_routes.rs"));
}

fn matchit_router(routes: &[&str]) -> matchit::Router<usize> {
    let mut router = matchit::Router::new();
    for (index, route) in routes.iter().enumerate() {
        router
            .insert(*route, index)
            .expect("matchit takes the route");
    }
    router
}

/// Both routers agree on every path before anything is timed.
fn check(ours: &impl RouteTable, theirs: &matchit::Router<usize>, paths: &[&str]) {
    for (index, path) in paths.iter().enumerate() {
        let found = theirs.at(path).expect("matchit matches its path");
        assert_eq!(*found.value, index, "matchit on {path}");
        match ours.lookup(&http::Method::GET, path) {
            RawMatch::Found { route, params } => {
                assert_eq!(route, index, "ours on {path}");
                let ours: Vec<&str> = params.into_iter().collect();
                let theirs: Vec<&str> = found.params.iter().map(|(_, v)| v).collect();
                assert_eq!(ours, theirs, "params on {path}");
            }
            _ => panic!("ours did not match {path}"),
        }
    }
}

fn group(c: &mut Criterion, name: &str, routes: &[&str], paths: &[&str], ours: impl RouteTable) {
    let theirs = matchit_router(routes);
    check(&ours, &theirs, paths);
    let mut group = c.benchmark_group(name);
    group.bench_function("sse_routes", |b| {
        b.iter(|| {
            for path in black_box(paths) {
                // The same for both routers: the whole result (route and
                // params) is handed to `black_box` by reference, where it
                // was returned, so neither pays for copying it.
                let found = ours.lookup(black_box(&http::Method::GET), path);
                black_box(&found);
            }
        });
    });
    group.bench_function("matchit", |b| {
        b.iter(|| {
            for path in black_box(paths) {
                let found = theirs.at(path);
                black_box(&found);
            }
        });
    });
    group.finish();
}

fn routers(c: &mut Criterion) {
    group(
        c,
        "github-130",
        &github::GITHUB_ROUTES,
        &github::GITHUB_PATHS,
        github::github_router(),
    );
    group(
        c,
        "synthetic-1000",
        &synthetic::SYNTHETIC_ROUTES,
        &synthetic::SYNTHETIC_PATHS,
        synthetic::synthetic_router(),
    );
}

criterion_group!(benches, routers);
criterion_main!(benches);
