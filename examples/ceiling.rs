//! `ceiling`: the HTTP ceiling of this machine for the load harness (issue #18): a bare axum server, built from this
//! repository's dependencies, that answers `GET /loadtest/static?bytes=N` with the same bytes as the service's route
//! of that name (`{"data":"xxx…"}` of exactly N bytes, `application/json`), from memory, and does nothing else: no
//! layers, no state, `axum::serve`. The service's static route and seat map are compared with it (loadtest/run.sh).
//!
//! `ceiling [ADDR]` (default `127.0.0.1:18090`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

/// The bodies served so far, by size.
type Bodies = Arc<RwLock<HashMap<usize, Bytes>>>;

/// `{"data":"xxx…"}` of exactly `n` bytes, as the service's `static_body`.
fn body(n: usize) -> Bytes {
    let mut body = Vec::with_capacity(n);
    body.extend_from_slice(br#"{"data":""#);
    body.resize(n - 2, b'x');
    body.extend_from_slice(br#""}"#);
    Bytes::from(body)
}

async fn serve_static(State(bodies): State<Bodies>, RawQuery(query): RawQuery) -> Response {
    let n = query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("bytes=")))
        .map_or(Some(1024), |n| n.parse::<usize>().ok())
        .filter(|n| (16..=1 << 20).contains(n));
    let Some(n) = n else { return (StatusCode::BAD_REQUEST, "bytes: 16 to 1048576").into_response() };
    let cached = bodies.read().ok().and_then(|b| b.get(&n).cloned());
    let body = match cached {
        Some(body) => body,
        None => {
            let fresh = body(n);
            if let Ok(mut bodies) = bodies.write() {
                bodies.insert(n, fresh.clone());
            }
            fresh
        }
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let app = Router::new().route("/loadtest/static", get(serve_static)).with_state(Bodies::default());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("ceiling: serving on {addr}");
    axum::serve(listener, app).await
}
