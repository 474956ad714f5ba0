//! `DynamicRouter` on a fuzzed route table and request path: building it
//! never panics (bad or conflicting routes are errors), and a match is one
//! of the routes added, whose template matches the path.
#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use sse::routing::DynamicRouter;
use sse::{Request, SseResponse, SseRouter, SseRouterMatch};
use sse_path::Template;

fn ok(_request: Request) -> std::future::Ready<SseResponse> {
    std::future::ready(SseResponse::ok(|_sse| async {}))
}

fuzz_target!(|input: (Vec<(bool, &str)>, bool, &str)| {
    let (table, post, path) = input;
    let mut router = DynamicRouter::new();
    let mut added: Vec<(Method, String)> = Vec::new();
    for (is_post, template) in table.into_iter().take(16) {
        let method = if is_post { Method::POST } else { Method::GET };
        let attempt = std::mem::take(&mut router).route(method.clone(), template, ok);
        match attempt {
            Ok(next) => {
                router = next;
                added.push((method, template.to_owned()));
            }
            Err(_) => {
                router = added.iter().fold(DynamicRouter::new(), |r, (m, t)| {
                    r.route(m.clone(), t, ok).expect("accepted before")
                });
            }
        }
    }
    let method = if post { Method::POST } else { Method::GET };
    if let SseRouterMatch::Matched(found) = router.match_route(&method, path) {
        let template = Template::parse(&found.route).expect("a route that was added");
        assert!(
            added
                .iter()
                .any(|(m, t)| *m == method && *t == *found.route)
        );
        assert!(template.match_path(path, &mut Vec::new()));
    }
});
