use sse::sse_routes;

fn main() {
    let _app = sse_routes! {
        "/answer" => (42),
    };
}
