//! Logs and the per-request middleware: request span, latency histogram, the one error log line, and the
//! guarantee that every error response is problem+json.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{Config, LogFormat};
use crate::error::{ApiError, ErrorReport, PROBLEM_JSON, Problem, problem_for_status};

/// Installs the global subscriber (JSON lines or pretty), once; later calls are ignored.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // tokio-postgres logs every statement's bound parameters at debug: password hashes, emails, phone numbers.
    // Capped at info whatever the filter says, so that `BOXOFFICE_LOG=debug` never writes credentials or PII.
    let filter = match "tokio_postgres::query=info".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_span_events(FmtSpan::NONE);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The longest client-chosen `X-Request-Id` kept (a UUID is 36 bytes; tracing systems use up to 64).
pub const REQUEST_ID_MAX_LEN: usize = 128;

/// Drops a client's `X-Request-Id` unless it is 1 to [`REQUEST_ID_MAX_LEN`] bytes of ASCII letters, digits and
/// `-_.:`, so the id that is echoed, put in the request span and logged is short and plain; the layer after it
/// then gives the request a fresh UUID. (A 3,000-character id used to be echoed and logged as sent.)
pub fn drop_unfit_request_id<B>(mut request: axum::http::Request<B>) -> axum::http::Request<B> {
    let fit = |id: &[u8]| {
        (1..=REQUEST_ID_MAX_LEN).contains(&id.len())
            && id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    if request.headers().get("x-request-id").is_some_and(|id| !fit(id.as_bytes())) {
        request.headers_mut().remove("x-request-id");
    }
    request
}

/// The request middleware: a span with method, route template and request id; the latency histogram; one log
/// line per error response (with its cause, if any); and a problem+json body for any error response that does
/// not have one yet (axum's 405, tower's 408/413, ...), keeping its headers (`Allow`, `Retry-After`).
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // A reference count each, not a copy: the route template (an `Arc<str>`) and the URI (shared bytes), the
    // latter only read for the problem detail of an error.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let uri = request.uri().clone();
    let route_str = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    // The fields are evaluated only when the span is enabled (not at `warn`): nothing is copied for a disabled span.
    let span = tracing::info_span!(
        "request",
        %method,
        route = route_str,
        request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default(),
    );
    async move {
        let response = next.run(request).await;
        let response = ensure_problem_body(response, &method, uri.path());
        let status = response.status();
        let route_str = route.as_ref().map_or("unmatched", MatchedPath::as_str);
        record_latency(&method, route_str, status, started.elapsed().as_secs_f64());
        let report = response.extensions().get::<ErrorReport>().map(|r| r.0.clone());
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                elapsed_ms,
                error = report.as_deref().map(String::as_str),
                "request failed"
            );
        } else if status == axum::http::StatusCode::TOO_MANY_REQUESTS {
            // Counted in boxoffice_rate_limited_total; a line per refusal would let a flood fill the logs.
            tracing::debug!(
                status = status.as_u16(),
                elapsed_ms,
                error = report.as_deref().map(String::as_str),
                "request refused"
            );
        } else if status.is_client_error() {
            tracing::info!(
                status = status.as_u16(),
                elapsed_ms,
                error = report.as_deref().map(String::as_str),
                "request refused"
            );
        } else {
            tracing::debug!(status = status.as_u16(), elapsed_ms, "request served");
        }
        response
    }
    .instrument(span)
    .await
}

/// A cached series of the latency histogram: method, status code and the recorder's handle.
type Series = (axum::http::Method, u16, metrics::Histogram);

/// The most (method, status) series of one route kept by [`record_latency`]'s cache of each thread; beyond it
/// (a client inventing methods) the recorder is asked every time, as it was for every request before the cache.
const SERIES_PER_ROUTE: usize = 64;

thread_local! {
    /// This thread's handles of `http_server_request_duration_seconds`, by route, method and status: a handle is
    /// an `Arc` to the recorder's series, so a request records without building, hashing and looking up a labelled
    /// key (three `String`s per request before; a visible share of the static route's profile). Routes are
    /// templates (a bounded set); methods and statuses are bounded by [`SERIES_PER_ROUTE`].
    static HISTOGRAMS: RefCell<HashMap<Box<str>, Vec<Series>>> = RefCell::default();
}

/// Records `seconds` in the latency histogram of (method, route, status), through this thread's cache of handles.
fn record_latency(method: &axum::http::Method, route: &str, status: axum::http::StatusCode, seconds: f64) {
    let make = || {
        metrics::histogram!(
            "http_server_request_duration_seconds",
            "method" => method.as_str().to_owned(),
            "route" => route.to_owned(),
            "status" => status.as_str().to_owned(),
        )
    };
    HISTOGRAMS.with_borrow_mut(|cache| {
        if !cache.contains_key(route) {
            cache.insert(route.into(), Vec::new());
        }
        let Some(series) = cache.get_mut(route) else { return };
        if let Some((_, _, histogram)) = series.iter().find(|(m, s, _)| *s == status.as_u16() && m == method) {
            histogram.record(seconds);
        } else if series.len() < SERIES_PER_ROUTE {
            let histogram = make();
            histogram.record(seconds);
            series.push((method.clone(), status.as_u16(), histogram));
        } else {
            make().record(seconds);
        }
    });
}

fn ensure_problem_body(response: Response, method: &axum::http::Method, path: &str) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let detail = match status.as_u16() {
        404 => format!("no route for {method} {path}"),
        // axum adds the `Allow` header after this middleware has run, so the detail points at it.
        405 => format!("{method} is not allowed on {path}; the Allow header lists the methods that are"),
        408 | 503 => "the request took too long to process".to_owned(),
        413 => "the request body is larger than the limit".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let (parts, _) = response.into_parts();
    let mut problem = match status.as_u16() {
        // Our own 503s are problem+json already: a bare one can only be the timeout layer's.
        408 | 503 => ApiError::new(Problem::Timeout, detail).with_status(status).into_response(),
        _ => problem_for_status(status, detail),
    };
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// A panic inside a handler becomes a logged 500 problem instead of a dropped connection.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    let mut response = ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
