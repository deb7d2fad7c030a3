//! `ApiError`: the one place where errors become HTTP responses, as RFC 9457 problem+json bodies.
//!
//! Every error response has a stable `type` URI (`https://boxoffice.dev/problems/<slug>`), a `title` fixed per type,
//! the `status`, a `detail` for this occurrence, and extension members where a client can act on them (for example
//! `unavailableSeats`, `errors`). Internal causes are kept on the error for the log line written by
//! [`crate::telemetry`]'s request middleware and never reach the client.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

pub mod doc;

pub use doc::{AdminOnly, BadJson, ProblemDocument};

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://boxoffice.dev/problems/";

/// The kinds of problem the API reports. Each has one status, one slug (the end of its `type` URI) and one title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// 400: a parameter or field is missing, malformed or out of bounds; `errors` lists them.
    Validation,
    /// 400: the body is not well-formed JSON.
    MalformedJson,
    /// 401: no credentials, or credentials that are invalid or expired.
    Unauthorized,
    /// 403: authenticated, but the role does not allow this.
    Forbidden,
    /// 404: no such resource (or one the caller may not see).
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the email address already has an account.
    EmailTaken,
    /// 409: a conflict with the current state of the resource.
    Conflict,
    /// 409: another scheduled showtime occupies the screen at that time; `overlappingShowtimeId` names it.
    ShowtimeOverlap,
    /// 409: the screen has showtimes, so its seat layout is frozen and it cannot be removed; `screenNumber` names it.
    LayoutInUse,
    /// 413: the body is larger than the configured limit.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: the JSON is well-formed but a field has the wrong type or an unknown field is present.
    InvalidBody,
    /// 429: too many requests; `Retry-After` says when to come back.
    RateLimited,
    /// 429: too many login attempts for this account (from this address, or from everywhere); `Retry-After` says
    /// when to come back. The same for an account that does not exist.
    LoginThrottled,
    /// 500: a fault on our side; the response carries nothing more.
    Internal,
    /// 503: a dependency is unavailable or contention did not resolve in time; retry after `Retry-After`.
    ServiceUnavailable,
    /// 503: the request took longer than the server allows.
    Timeout,
    /// 409: some requested seats are held or sold; `unavailableSeats` lists them.
    SeatsUnavailable,
    /// 422: the showtime's screen has no such seats; `unknownSeats` lists them.
    UnknownSeats,
    /// 422: the body names a showtime that does not exist.
    UnknownShowtime,
    /// 409: the showtime takes no bookings (`reason`: `started` or `canceled`).
    ShowtimeClosed,
    /// 422: more seats than one booking may hold (`maxSeats`).
    TooManySeats,
    /// 409: the hold would give the user more live seats on the showtime than allowed (`limit`, `alreadyHeld`).
    SeatLimitExceeded,
    /// 410: the booking's hold lapsed; its seats may be someone else's now.
    HoldExpired,
    /// 409: the booking's status does not allow this (`bookingStatus`).
    BookingStateConflict,
    /// 409: a payment for this booking is under way or its outcome is not known yet; retry later.
    PaymentInProgress,
    /// 402: the payment was declined (`reason`); the hold continues.
    PaymentDeclined,
    /// 504: the payment provider did not answer in time; the booking stays `payment_pending` until reconciled.
    PaymentTimeout,
    /// 502: the payment provider failed; the booking stays `payment_pending` until reconciled.
    PaymentProviderError,
    /// 503: payments are paused after repeated provider failures; retry after `Retry-After`.
    PaymentUnavailable,
    /// 422: this Idempotency-Key was used for a different request.
    IdempotencyKeyReused,
    /// 409: the first request with this Idempotency-Key is still running; retry after `Retry-After`.
    IdempotencyKeyInFlight,
    /// 400: the scanned token is not a ticket of ours: forged, tampered with, or signed with an unknown key.
    TicketInvalid,
    /// 409: the ticket was admitted already; `admission` says when, by which scanner, at which theater.
    TicketAlreadyAdmitted,
    /// 409: the ticket is for another showtime or theater than the scanner's door (`showtimeId`).
    TicketWrongShowtime,
    /// 410: the ticket's booking was canceled: it admits no one.
    TicketCanceled,
    /// 409: no seats fit a best-available request (`reason`: `not-enough-seats`, `no-block-fits`,
    /// `no-accessible-fit`).
    NoSeatsFit,
    /// 409: the hold cannot be extended (`reason`: `limit-reached` with `limit`, or `showtime-starts`).
    HoldExtensionRefused,
}

impl Problem {
    /// HTTP status of this problem.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Validation | Self::MalformedJson => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken | Self::Conflict => StatusCode::CONFLICT,
            Self::ShowtimeOverlap | Self::LayoutInUse => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidBody => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited | Self::LoginThrottled => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable | Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::SeatsUnavailable
            | Self::ShowtimeClosed
            | Self::SeatLimitExceeded
            | Self::BookingStateConflict
            | Self::PaymentInProgress
            | Self::IdempotencyKeyInFlight
            | Self::NoSeatsFit
            | Self::HoldExtensionRefused => StatusCode::CONFLICT,
            Self::UnknownSeats | Self::UnknownShowtime | Self::TooManySeats | Self::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::HoldExpired | Self::TicketCanceled => StatusCode::GONE,
            Self::TicketInvalid => StatusCode::BAD_REQUEST,
            Self::TicketAlreadyAdmitted | Self::TicketWrongShowtime => StatusCode::CONFLICT,
            Self::PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            Self::PaymentTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::PaymentProviderError => StatusCode::BAD_GATEWAY,
            Self::PaymentUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable last segment of the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Validation => "validation-error",
            Self::MalformedJson => "malformed-json",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::EmailTaken => "email-taken",
            Self::Conflict => "conflict",
            Self::ShowtimeOverlap => "showtime-overlap",
            Self::LayoutInUse => "layout-in-use",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::InvalidBody => "invalid-body",
            Self::RateLimited => "rate-limited",
            Self::LoginThrottled => "login-throttled",
            Self::Internal => "internal-error",
            Self::ServiceUnavailable => "service-unavailable",
            Self::Timeout => "timeout",
            Self::SeatsUnavailable => "seats-unavailable",
            Self::UnknownSeats => "unknown-seats",
            Self::UnknownShowtime => "unknown-showtime",
            Self::ShowtimeClosed => "showtime-closed",
            Self::TooManySeats => "too-many-seats",
            Self::SeatLimitExceeded => "seat-limit-exceeded",
            Self::HoldExpired => "hold-expired",
            Self::BookingStateConflict => "booking-state-conflict",
            Self::PaymentInProgress => "payment-in-progress",
            Self::PaymentDeclined => "payment-declined",
            Self::PaymentTimeout => "payment-timeout",
            Self::PaymentProviderError => "payment-provider-error",
            Self::PaymentUnavailable => "payment-unavailable",
            Self::IdempotencyKeyReused => "idempotency-key-reused",
            Self::IdempotencyKeyInFlight => "idempotency-key-in-flight",
            Self::TicketInvalid => "ticket-invalid",
            Self::TicketAlreadyAdmitted => "ticket-already-admitted",
            Self::TicketWrongShowtime => "ticket-wrong-showtime",
            Self::TicketCanceled => "ticket-canceled",
            Self::NoSeatsFit => "no-seats-fit",
            Self::HoldExtensionRefused => "hold-extension-refused",
        }
    }

    /// Short, fixed summary of the problem type.
    pub fn title(self) -> &'static str {
        match self {
            Self::Validation => "Invalid request",
            Self::MalformedJson => "Malformed JSON body",
            Self::Unauthorized => "Authentication required",
            Self::Forbidden => "Not allowed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::EmailTaken => "Email already registered",
            Self::Conflict => "Conflict",
            Self::ShowtimeOverlap => "Showtime overlaps another on the same screen",
            Self::LayoutInUse => "Seat layout in use",
            Self::PayloadTooLarge => "Request body too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::InvalidBody => "Invalid request body",
            Self::RateLimited => "Too many requests",
            Self::LoginThrottled => "Too many login attempts",
            Self::Internal => "Internal server error",
            Self::ServiceUnavailable => "Service unavailable",
            Self::Timeout => "Request timed out",
            Self::SeatsUnavailable => "Seats unavailable",
            Self::UnknownSeats => "Unknown seats",
            Self::UnknownShowtime => "Unknown showtime",
            Self::ShowtimeClosed => "Showtime closed for booking",
            Self::TooManySeats => "Too many seats",
            Self::SeatLimitExceeded => "Seat limit exceeded",
            Self::HoldExpired => "Hold expired",
            Self::BookingStateConflict => "Booking state conflict",
            Self::PaymentInProgress => "Payment in progress",
            Self::PaymentDeclined => "Payment declined",
            Self::PaymentTimeout => "Payment provider timeout",
            Self::PaymentProviderError => "Payment provider error",
            Self::PaymentUnavailable => "Payments unavailable",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::IdempotencyKeyInFlight => "Request with this idempotency key in progress",
            Self::TicketInvalid => "Invalid ticket",
            Self::TicketAlreadyAdmitted => "Ticket already admitted",
            Self::TicketWrongShowtime => "Ticket for another showtime",
            Self::TicketCanceled => "Ticket canceled",
            Self::NoSeatsFit => "No seats fit the request",
            Self::HoldExtensionRefused => "Hold cannot be extended",
        }
    }

    /// The problem a bare error status stands for, used for responses produced outside our handlers (axum's
    /// fallbacks, tower layers) so that every error body is problem+json.
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::Validation,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            408 | 504 => Self::Timeout,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::InvalidBody,
            429 => Self::RateLimited,
            503 => Self::ServiceUnavailable,
            _ => Self::Internal,
        }
    }
}

/// Lists every variant once: [`Problem::ALL`] for the OpenAPI document, and an exhaustive `match` so that a variant
/// missing from the list does not compile.
macro_rules! every_problem {
    ($($variant:ident),* $(,)?) => {
        impl Problem {
            /// Every problem type (the OpenAPI document's `x-problem-types`). A new variant goes in the
            /// `every_problem!` list below the enum, or the build fails.
            pub const ALL: &[Problem] = &[$(Problem::$variant),*];
        }
        const _: fn(Problem) = |problem| match problem {
            $(Problem::$variant)|* => {}
        };
    };
}

every_problem!(
    Validation,
    MalformedJson,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    EmailTaken,
    Conflict,
    ShowtimeOverlap,
    LayoutInUse,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidBody,
    RateLimited,
    LoginThrottled,
    Internal,
    ServiceUnavailable,
    Timeout,
    SeatsUnavailable,
    UnknownSeats,
    UnknownShowtime,
    ShowtimeClosed,
    TooManySeats,
    SeatLimitExceeded,
    HoldExpired,
    BookingStateConflict,
    PaymentInProgress,
    PaymentDeclined,
    PaymentTimeout,
    PaymentProviderError,
    PaymentUnavailable,
    IdempotencyKeyReused,
    IdempotencyKeyInFlight,
    TicketInvalid,
    TicketAlreadyAdmitted,
    TicketWrongShowtime,
    TicketCanceled,
    NoSeatsFit,
    HoldExtensionRefused,
);

/// One invalid input, reported in the `errors` extension of a validation problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// Where the input came from and its name: `query.limit`, `body.email`, `path.showtimeId`.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// An error on its way to becoming a problem+json response.
#[derive(Debug)]
pub struct ApiError {
    problem: Problem,
    status: StatusCode,
    detail: String,
    extensions: Map<String, Value>,
    retry_after_secs: Option<u64>,
    source: Option<anyhow::Error>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Attached to error responses so the request middleware can log the cause once, inside the request span.
#[derive(Debug, Clone)]
pub struct ErrorReport(pub Arc<String>);

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error of `problem` with a detail for this occurrence.
    pub fn new(problem: Problem, detail: impl Into<String>) -> Self {
        Self {
            problem,
            status: problem.status(),
            detail: detail.into(),
            extensions: Map::new(),
            retry_after_secs: None,
            source: None,
            headers: Vec::new(),
        }
    }

    /// A 400 for one bad field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldError { field: field.into(), message: message.into() }])
    }

    /// A 400 listing every bad field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        Self::new(Problem::Validation, detail).with("errors", errors)
    }

    /// A 404 for `what` (e.g. "showtime 9b2…").
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(Problem::NotFound, format!("{what} was not found"))
    }

    /// A 500 hiding `cause` from the client; the cause is logged once by the request middleware.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(Problem::Internal, "an internal error occurred; it has been logged").caused_by(cause)
    }

    /// A 503 asking the client to retry after `secs`.
    pub fn unavailable(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(Problem::ServiceUnavailable, detail).retry_after(retry_after_secs)
    }

    /// Adds an extension member (camelCase name).
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.extensions.insert(name.to_owned(), value);
        self
    }

    /// Sets `Retry-After`.
    #[must_use]
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Adds a response header (appended: list-valued fields such as `RateLimit` may carry several members).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Overrides the status (for problems shared by several statuses, e.g. a timeout reported as 408).
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Keeps the underlying cause for the log.
    #[must_use]
    pub fn caused_by(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.source = Some(cause.into());
        self
    }

    /// The problem kind.
    pub fn problem(&self) -> Problem {
        self.problem
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The detail text.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The problem document, as sent.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), Value::from(format!("{PROBLEM_BASE}{}", self.problem.slug())));
        body.insert("title".into(), Value::from(self.problem.title()));
        body.insert("status".into(), Value::from(self.status.as_u16()));
        body.insert("detail".into(), Value::from(self.detail.clone()));
        for (k, v) in &self.extensions {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        // A JSON parser's message can quote the rejected value (a password sent as a number, say): the client may
        // read its own input back, the logs must not keep it.
        let logged_detail = match self.problem {
            Problem::InvalidBody | Problem::MalformedJson => {
                "the JSON body was refused (detail withheld: it may quote the input)"
            }
            _ => self.detail.as_str(),
        };
        let report = match &self.source {
            Some(source) => format!("{logged_detail}: {source:#}"),
            None => logged_detail.to_owned(),
        };
        response.extensions_mut().insert(ErrorReport(Arc::new(report)));
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => Self::new(Problem::MalformedJson, e.body_text()),
            JsonRejection::JsonDataError(e) => {
                Self::new(Problem::InvalidBody, plain_expectations(&redact_values(&e.body_text())))
            }
            JsonRejection::MissingJsonContentType(_) => {
                Self::new(Problem::UnsupportedMediaType, "the body must be JSON with Content-Type: application/json")
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(Problem::PayloadTooLarge, "the request body is larger than the limit")
            }
            other => Self::new(Problem::for_status(other.status()), other.body_text()).with_status(other.status()),
        }
    }
}

/// Drops the offending value from serde's "invalid type: integer `123`, expected ..." and "invalid value: ..."
/// messages, keeping the field name and what was expected: the message reaches the log, and the value might be a
/// secret sent with the wrong type (a numeric password, say).
fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) =
        ["invalid type: ", "invalid value: "].iter().filter_map(|p| rest.find(p).map(|i| (i, p.len()))).min()
    {
        let (start, len) = at;
        out.push_str(&rest[..start + len]);
        rest = &rest[start + len..];
        let Some(end) = rest.find(", expected") else { break };
        let unexpected = &rest[..end];
        // "integer `5`", "string \"abc\"", "char 'c'", "unit value", "map": the kind, then maybe a quoted value.
        let kind = unexpected.find(['`', '"', '\'']).map_or(unexpected, |q| unexpected[..q].trim_end());
        out.push_str(kind);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Says what serde expected in JSON's words, not Rust's: "expected struct HoldBody" (a body of `null`, say) becomes
/// "expected a JSON object", "expected u32" "expected an integer", "expected a sequence" "expected an array". A
/// client reads the message; our type names are none of its business.
fn plain_expectations(message: &str) -> String {
    const MARK: &str = "expected ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at + MARK.len()]);
        rest = &rest[at + MARK.len()..];
        let word_end = |s: &str| s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
        let mut words = rest;
        let mut kind = &words[..word_end(words)];
        // "tuple struct X", "newtype struct X", "unit struct X": the kind is the last word before the name.
        if matches!(kind, "tuple" | "newtype" | "unit") && words[kind.len()..].starts_with(" struct ") {
            words = &words[kind.len() + 1..];
            kind = "struct";
        }
        let (plain, used) = match kind {
            "struct" | "enum" => {
                let after = &words[kind.len()..];
                let name = after.strip_prefix(' ').map_or(0, |n| 1 + word_end(n));
                let plain = if kind == "struct" { "a JSON object" } else { "one of the documented values" };
                (plain, rest.len() - words.len() + kind.len() + name)
            }
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => {
                ("an integer", kind.len())
            }
            "f32" | "f64" => ("a number", kind.len()),
            "char" => ("a single character", kind.len()),
            _ if rest.starts_with("a sequence") => ("an array", "a sequence".len()),
            _ if rest.starts_with("a map") => ("a JSON object", "a map".len()),
            _ => ("", 0),
        };
        out.push_str(plain);
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        // serde_urlencoded says which field failed; keep its words.
        Self::invalid("query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(e) => Self::invalid("path", e.body_text()),
            other => Self::internal(anyhow::anyhow!(other.body_text())),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::unavailable("the database is unavailable; retry shortly", 2).caused_by(err)
    }
}

impl From<tokio_postgres::Error> for ApiError {
    /// A node lost mid-request (a primary switch, a reset connection: [`crate::db::retry::node_lost`]) is a 503 the
    /// client may retry; any other database error is a 500.
    fn from(err: tokio_postgres::Error) -> Self {
        if crate::db::retry::node_lost(&err).is_some() {
            return Self::unavailable("the database is unavailable; retry shortly", 1).caused_by(err);
        }
        Self::internal(err)
    }
}

/// Builds a problem response for a status produced outside our handlers (see [`Problem::for_status`]).
pub fn problem_for_status(status: StatusCode, detail: impl Into<String>) -> Response {
    ApiError::new(Problem::for_status(status), detail).with_status(status).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_round_trips_its_status_and_has_a_distinct_slug() {
        let all = [
            Problem::Validation,
            Problem::MalformedJson,
            Problem::Unauthorized,
            Problem::Forbidden,
            Problem::NotFound,
            Problem::MethodNotAllowed,
            Problem::EmailTaken,
            Problem::Conflict,
            Problem::ShowtimeOverlap,
            Problem::LayoutInUse,
            Problem::PayloadTooLarge,
            Problem::UnsupportedMediaType,
            Problem::InvalidBody,
            Problem::RateLimited,
            Problem::LoginThrottled,
            Problem::Internal,
            Problem::ServiceUnavailable,
            Problem::Timeout,
            Problem::SeatsUnavailable,
            Problem::UnknownSeats,
            Problem::UnknownShowtime,
            Problem::ShowtimeClosed,
            Problem::TooManySeats,
            Problem::SeatLimitExceeded,
            Problem::HoldExpired,
            Problem::BookingStateConflict,
            Problem::PaymentInProgress,
            Problem::PaymentDeclined,
            Problem::PaymentTimeout,
            Problem::PaymentProviderError,
            Problem::PaymentUnavailable,
            Problem::IdempotencyKeyReused,
            Problem::IdempotencyKeyInFlight,
        ];
        let mut slugs: Vec<_> = all.iter().map(|p| p.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), all.len());
        for p in all {
            assert!(p.status().is_client_error() || p.status().is_server_error(), "{p:?}");
        }
    }

    #[test]
    fn all_lists_every_problem_once() {
        let mut slugs: Vec<_> = Problem::ALL.iter().map(|p| p.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), Problem::ALL.len());
    }

    #[test]
    fn json_data_errors_name_the_field_but_not_the_value() {
        for (message, expected) in [
            (
                "Failed to deserialize the JSON body into the target type: password: invalid type: integer `987654321`, expected a string at line 1 column 40",
                "Failed to deserialize the JSON body into the target type: password: invalid type: integer, expected a string at line 1 column 40",
            ),
            ("x: invalid type: string \"s3cret\", expected u32", "x: invalid type: string, expected u32"),
            ("x: invalid value: character 'q', expected a digit", "x: invalid value: character, expected a digit"),
            ("x: invalid type: map, expected a string", "x: invalid type: map, expected a string"),
            (
                "unknown field `role`, expected one of `name`, `email`",
                "unknown field `role`, expected one of `name`, `email`",
            ),
            ("missing field `email`", "missing field `email`"),
        ] {
            assert_eq!(redact_values(message), expected);
        }
    }

    #[test]
    fn json_data_errors_say_what_was_expected_in_json_words_not_rust_type_names() {
        for (message, expected) in [
            (
                "Failed to deserialize the JSON body into the target type: invalid type: null, expected struct HoldBody at line 1 column 4",
                "Failed to deserialize the JSON body into the target type: invalid type: null, expected a JSON object at line 1 column 4",
            ),
            (
                "seatIds: invalid type: map, expected a sequence at line 1",
                "seatIds: invalid type: map, expected an array at line 1",
            ),
            ("n: invalid type: string, expected u32", "n: invalid type: string, expected an integer"),
            ("x: invalid type: string, expected f64", "x: invalid type: string, expected a number"),
            ("x: invalid type: null, expected tuple struct Pair", "x: invalid type: null, expected a JSON object"),
            (
                "x: unknown variant `gold`, expected enum SeatKind",
                "x: unknown variant `gold`, expected one of the documented values",
            ),
            ("x: invalid type: integer, expected a map", "x: invalid type: integer, expected a JSON object"),
            ("x: invalid type: integer, expected a string", "x: invalid type: integer, expected a string"),
            (
                "unknown field `role`, expected one of `name`, `email`",
                "unknown field `role`, expected one of `name`, `email`",
            ),
            ("x: expected struct", "x: expected a JSON object"),
        ] {
            assert_eq!(plain_expectations(message), expected);
        }
    }

    #[test]
    fn the_body_is_rfc9457_with_extensions_and_no_internal_detail() {
        let err = ApiError::internal(anyhow::anyhow!("password=hunter2 in a connection string"));
        let body = err.body();
        assert_eq!(body["type"], "https://boxoffice.dev/problems/internal-error");
        assert_eq!(body["status"], 500);
        assert!(!body.to_string().contains("hunter2"));

        let body = ApiError::invalid("query.limit", "must be at most 100").body();
        assert_eq!(body["errors"][0]["field"], "query.limit");
        assert_eq!(body["title"], "Invalid request");
    }
}
