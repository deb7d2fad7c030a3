//! The edge's request middleware: the client address and the per-pod limiter ([`per_ip`]), the per-user write
//! limiter ([`user_writes`]), security headers on every response ([`security_headers`]) and CORS ([`cors`]).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::model::address_key;
use super::{Edge, RATELIMIT, RATELIMIT_POLICY, RateLimitHeaders, rejection};
use crate::auth::AuthUser;
use crate::auth::token::TokenKeys;
use crate::catalog::model::input::THEATER_BODY_LIMIT;
use crate::edge::model::Scope;
use crate::error::{ApiError, Problem};

/// Routes the per-pod limiter leaves alone: probes and scrapes must work however busy a client is.
pub const UNLIMITED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The client's address: the TCP peer, or the right-most untrusted `X-Forwarded-For` entry when the peer is a
/// trusted proxy (`BOXOFFICE_TRUSTED_PROXIES`). Set by [`per_ip`] on every request; without it (a router served
/// some other way) the peer address, or `0.0.0.0` when even that is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or_else(|| ClientIp(peer(&parts.extensions).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))))
    }
}

fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())
}

/// Resolves the [`ClientIp`] of every request, then applies the per-pod, per-address limiter to every route but
/// `/healthz`, `/readyz` and `/metrics`: a 429 once the address has spent its quota, and the `RateLimit` fields on
/// every limited response.
pub async fn per_ip(State(edge): State<Arc<Edge>>, mut request: Request, next: Next) -> Response {
    let client = match peer(request.extensions()) {
        Some(peer) => {
            let forwarded = request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
            edge.config.trusted_proxies.client_address(peer, forwarded)
        }
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    request.extensions_mut().insert(ClientIp(client));
    let Some(limiter) = edge.per_ip().filter(|_| !UNLIMITED.contains(&request.uri().path())) else {
        return next.run(request).await;
    };
    let decision = limiter.check(&address_key(client));
    if !decision.allowed {
        return rejection(&decision).into_response();
    }
    let mut response = next.run(request).await;
    RateLimitHeaders(Some(decision)).apply(response.headers_mut());
    response
}

/// The per-user write limiter, shared by every pod (Redis): layer it on the routes that create, pay for or cancel
/// bookings, e.g. `.route_layer(middleware::from_fn_with_state(state, edge::middleware::user_writes::<S>))`, for
/// any state `S` that yields the edge and the token keys. A request without a valid token passes untouched (the
/// handler answers its 401).
pub async fn user_writes<S>(State(state): State<S>, request: Request, next: Next) -> Response
where
    S: Clone + Send + Sync,
    Arc<Edge>: FromRef<S>,
    Arc<TokenKeys>: FromRef<S>,
{
    let (mut parts, body) = request.into_parts();
    let user = AuthUser::from_request_parts(&mut parts, &state).await.ok();
    let request = Request::from_parts(parts, body);
    let Some(user) = user else {
        return next.run(request).await;
    };
    match Arc::<Edge>::from_ref(&state).enforce(Scope::UserWrites, &user.id.to_string()).await {
        Err(refused) => refused.into_response(),
        Ok(headers) => {
            let mut response = next.run(request).await;
            headers.apply(response.headers_mut());
            response
        }
    }
}

/// The request body limit: `default` bytes (`BOXOFFICE_BODY_LIMIT_BYTES`), or [`THEATER_BODY_LIMIT`] for the
/// theater writes, whose schema allows larger bodies. A declared length over it is a 413 before anything is read;
/// a body without one is cut at the limit (its reader then answers 413).
pub async fn limit_body(State(default): State<usize>, request: Request, next: Next) -> Response {
    let limit = body_limit(request.method(), request.uri().path(), default);
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::new(Problem::PayloadTooLarge, "the request body is larger than the limit").into_response();
    }
    next.run(request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit)))).await
}

/// The body limit of `method path`: [`THEATER_BODY_LIMIT`] for `POST /theaters` and `PUT /theaters/{id}` (or
/// `default`, if larger), `default` for everything else.
pub fn body_limit(method: &Method, path: &str, default: usize) -> usize {
    let theater_write = (method == Method::POST && path == "/theaters")
        || (method == Method::PUT
            && path.strip_prefix("/theaters/").is_some_and(|id| !id.is_empty() && !id.contains('/')));
    if theater_write { default.max(THEATER_BODY_LIMIT) } else { default }
}

/// Refuses, with a 400, any request whose path, query or JSON body carries the character U+0000: PostgreSQL cannot
/// store it in a text value and answers such a bound parameter with an error, so it is stopped here for every route
/// at once instead of in each parser. (Percent-encoded `%00` in the path or query; the escape `\u0000` in a body.)
/// Layered inside the body-size limit, so buffering the body here never exceeds it.
pub async fn reject_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if has_encoded_nul(uri.path()) {
        return ApiError::invalid("path", "must not contain the NUL character (%00)").into_response();
    }
    if uri.query().is_some_and(has_encoded_nul) {
        return ApiError::invalid("query", "must not contain the NUL character (%00)").into_response();
    }
    let has_body = request.headers().get(header::CONTENT_LENGTH).is_none_or(|len| len != "0")
        && request.method() != Method::GET
        && request.method() != Method::HEAD;
    if !has_body {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        // The size limit around this middleware cut the body short.
        Err(_) => {
            return ApiError::new(Problem::PayloadTooLarge, "the request body is larger than the limit")
                .into_response();
        }
    };
    if json_has_nul_escape(&bytes) {
        return ApiError::invalid("body", "strings must not contain the NUL character (\\u0000)").into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// `%00` anywhere (case is irrelevant: only digits).
fn has_encoded_nul(s: &str) -> bool {
    s.contains("%00")
}

/// A `\u0000` escape inside a JSON text: a backslash that is not itself escaped (an odd run of backslashes), then
/// `u0000`. A raw NUL byte is not valid JSON and is refused by the JSON parser anyway.
fn json_has_nul_escape(body: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, byte) in body.iter().enumerate() {
        if *byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1 && body[i..].starts_with(b"u0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// The API's `Content-Security-Policy`: JSON needs nothing, so nothing is allowed, and no page may frame it.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `Strict-Transport-Security` when enabled: a year, subdomains included.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Security headers on every response, errors and 429s included: `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, the API's strict `Content-Security-Policy` (a handler
/// that serves a page sets a wider one, see [`super::docs`]), `Cache-Control: no-store` on identity responses (and
/// on any response to a request with credentials that did not choose its own caching), and HSTS when configured.
pub async fn security_headers(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let identity = path == "/users" || path.starts_with("/users/") || path.starts_with("/auth/");
    let credentials = request.headers().contains_key(header::AUTHORIZATION);
    let hsts = edge.config.hsts;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(API_CSP));
    }
    if identity || (credentials && !headers.contains_key(header::CACHE_CONTROL)) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

/// CORS for the configured origins only (`None` without any: no CORS headers at all, browsers then refuse
/// cross-origin calls). Credentials are not allowed: the API authenticates with bearer tokens, not cookies.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                header::HeaderName::from_static("idempotency-key"),
                header::HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::RETRY_AFTER,
                header::LOCATION,
                header::ETAG,
                RATELIMIT.clone(),
                RATELIMIT_POLICY.clone(),
                header::HeaderName::from_static("x-request-id"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_only_where_json_decodes_them_to_nul() {
        for (body, nul) in [
            (r#"{"a":"x\u0000y"}"#, true),
            (r#"{"a":"\u0000"}"#, true),
            (r#"{"a":"\\\u0000"}"#, true),
            (r#"{"a":"\\u0000"}"#, false),
            (r#"{"a":"u0000"}"#, false),
            (r#"{"a":"\u00001"}"#, true),
            (r#"{"a":"\u0001"}"#, false),
            ("", false),
        ] {
            assert_eq!(json_has_nul_escape(body.as_bytes()), nul, "{body}");
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
                assert_eq!(value["a"].as_str().is_some_and(|s| s.contains('\0')), nul, "{body}");
            }
        }
        assert!(has_encoded_nul("city=a%00b") && !has_encoded_nul("city=a%2000"));
    }

    #[test]
    fn only_the_theater_writes_get_the_theater_body_limit() {
        let id = "/theaters/6f9619ff-8b86-d011-b42d-00cf4fc964ff";
        for (method, path, limit) in [
            (Method::POST, "/theaters", THEATER_BODY_LIMIT),
            (Method::PUT, id, THEATER_BODY_LIMIT),
            (Method::PUT, "/theaters", 1024),
            (Method::POST, id, 1024),
            (Method::PUT, &format!("{id}/movies"), 1024),
            (Method::PUT, "/theaters/", 1024),
            (Method::POST, "/movies", 1024),
            (Method::POST, "/bookings", 1024),
        ] {
            assert_eq!(body_limit(&method, path, 1024), limit, "{method} {path}");
        }
        assert_eq!(body_limit(&Method::POST, "/bookings", THEATER_BODY_LIMIT * 2), THEATER_BODY_LIMIT * 2);
    }
}
