use sse::sse_routes;

fn main() {
    let _app = sse_routes! {
        "/admin" => {},
    };
}
