//! The gateway's request middleware: the client address and the per-pod limiter ([`per_ip`]), the per-user write
//! limiter ([`user_writes`]), security headers on every response ([`security_headers`]) and CORS ([`cors`]).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::model::address_key;
use super::{RATELIMIT, RATELIMIT_POLICY, RateLimitHeaders, rejection};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::gateway::model::Scope;

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
pub async fn per_ip(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let gateway = &state.gateway;
    let client = match peer(request.extensions()) {
        Some(peer) => {
            let forwarded = request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
            gateway.config.trusted_proxies.client_address(peer, forwarded)
        }
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    request.extensions_mut().insert(ClientIp(client));
    let Some(limiter) = gateway.per_ip().filter(|_| !UNLIMITED.contains(&request.uri().path())) else {
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

/// The per-user write limiter, shared by every pod (Redis): layer it on the routes that create or pay for holds,
/// e.g. `.route_layer(middleware::from_fn_with_state(state, gateway::middleware::user_writes))`. A request without a
/// valid token passes untouched (the handler answers its 401).
pub async fn user_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let user = AuthUser::from_request_parts(&mut parts, &state).await.ok();
    let request = Request::from_parts(parts, body);
    let Some(user) = user else {
        return next.run(request).await;
    };
    match state.gateway.enforce(Scope::UserWrites, &user.id.to_string()).await {
        Err(refused) => refused.into_response(),
        Ok(headers) => {
            let mut response = next.run(request).await;
            headers.apply(response.headers_mut());
            response
        }
    }
}

/// The API's `Content-Security-Policy`: JSON needs nothing, so nothing is allowed, and no page may frame it.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `Strict-Transport-Security` when enabled: a year, subdomains included.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Security headers on every response, errors and 429s included: `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, the API's strict `Content-Security-Policy` (a handler
/// that serves a page sets a wider one, see [`super::docs`]), `Cache-Control: no-store` on identity responses (and
/// on any response to a request with credentials that did not choose its own caching), and HSTS when configured.
pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let identity = path == "/users" || path.starts_with("/users/") || path.starts_with("/auth/");
    let credentials = request.headers().contains_key(header::AUTHORIZATION);
    let hsts = state.gateway.config.hsts;
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
