use sse::{Request, SseResponse, sse_routes};

fn main() {
    let ok = |_request: Request| async { SseResponse::ok(|_sse| async {}) };
    let _app = sse_routes! {
        "" => (ok),
        "/rooms/{room" => (ok),
        "/rooms/room}" => (ok),
        "/rooms/" => (ok),
        "/a//b" => (ok),
        "/files/{*path}/raw" => (ok),
        "/{id}/{id}" => (ok),
        "/{}" => (ok),
        "/{1st}" => (ok),
        "/{type}" => (ok),
        "/{id}.json" => (ok),
        "/caf\u{e9}" => (ok),
        "/a b" => (ok),
        "/100%" => (ok),
        "/search?q" => (ok),
        "/../etc" => (ok),
    };
}
