//! Booking handlers: parse the request, call [`super::BookingService`], turn the answer into a response.
//!
//! `Idempotency-Key` is optional on `POST /bookings`, `PUT /bookings/{id}/finalize` and `DELETE /bookings/{id}`:
//! without it there is no replay protection (a retried hold may hold twice; a retried payment is still never charged
//! twice, because a booking is charged only from `reserved`). With it, the same key and the same request give the
//! same response (replayed responses carry `Idempotent-Replayed: true`), the same key with another request is a 422,
//! and a key whose first request is still running is a 409. Keys are kept 24 hours.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{Booking, BookingId, IdempotencyKey, SeatKind, SeatSelection, SelectionError, request_hash};
use super::pick::{self, BestRequest, SweetSpot};
use super::service::{Answer, BestCommand, CancelCommand, FinalizeCommand, HoldCommand, Idempotency, StoredResponse};
use super::{BookingError, BookingService};
use crate::auth::AuthUser;
use crate::catalog::CatalogState;
use crate::catalog::model::seatmap::{SeatLayout, TakenSeats};
use crate::error::{ApiError, ApiResult, PROBLEM_JSON, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::ids::ShowtimeId;

/// The `Idempotency-Key` request header, parsed (absent: `None`; malformed: 400).
#[derive(Debug, Clone)]
pub struct IdempotencyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else { return Ok(Self(None)) };
        let text = value.to_str().map_err(|_| ApiError::invalid("header.Idempotency-Key", "must be ASCII"))?;
        IdempotencyKey::parse(text).map(|k| Self(Some(k))).map_err(|e| ApiError::invalid("header.Idempotency-Key", e))
    }
}

/// `POST /bookings` body: either `seatIds` (the seats chosen) or `best` (the service picks), never both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HoldBody {
    showtime_id: ShowtimeId,
    /// Seat labels such as `F12`: 1 to 10 (`BOXOFFICE_MAX_SEATS_PER_BOOKING`), each at most once. Required unless
    /// `best` is given.
    #[schema(value_type = Option<Vec<super::model::SeatLabel>>, min_items = 1, max_items = 10)]
    #[serde(default)]
    seat_ids: Option<Vec<String>>,
    /// Best available: the service picks the seats (side by side in one row, no single seat left stranded, nearest
    /// the hall's sweet spot) and holds them in the same request. Instead of `seatIds`.
    #[serde(default)]
    best: Option<BestBody>,
    /// Optional; the user comes from the token, and this must match it.
    #[serde(default)]
    user_id: Option<Uuid>,
}

/// What a best-available hold asks for.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BestBody {
    /// How many seats: 1 to 10 (`BOXOFFICE_MAX_SEATS_PER_BOOKING`).
    #[schema(minimum = 1, maximum = 10)]
    #[serde(deserialize_with = "crate::extract::integer")]
    count: i64,
    /// Only seats of this kind; `standard` or `premium` (default: either). Wheelchair spaces: `accessible`.
    #[serde(default)]
    kind: Option<BestKind>,
    /// Wheelchair spaces with their companion seats (at least one space, and a companion seat for two or more).
    #[serde(default)]
    accessible: bool,
    /// Whether the seats may be split over rows or blocks when no block has them side by side (default false:
    /// then 409 `no-seats-fit`).
    #[serde(default)]
    allow_split: bool,
}

/// The seat kinds a best-available request may restrict itself to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BestKind {
    /// Ordinary seats.
    Standard,
    /// Premium seats.
    Premium,
}

/// A warning of a hold: it was made, but the client should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldWarning {
    /// `orphan-seats`: the selection leaves these free seats single between it and a taken seat, an aisle or a wall.
    pub code: &'static str,
    /// The seats concerned.
    pub seats: Vec<String>,
}

/// `POST /bookings`'s answer: the booking, and warnings about the selection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldAnswer {
    /// The booking.
    #[serde(flatten)]
    pub booking: Booking,
    /// Present when the hold was made but the selection has a problem a client may want to fix (a manual selection
    /// that strands a seat, as of the seat map the service had when it held). Absent on replays.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<HoldWarning>,
}

/// `POST /bookings`: holds seats for the hold TTL, the ones named in `seatIds` or the best ones (`best`). 201 with
/// the booking and its `Location`; 409 `seats-unavailable` listing `unavailableSeats`, `no-seats-fit` (`reason`);
/// 422 `unknown-seats`, `unknown-showtime`, `too-many-seats`; 409 `showtime-closed`, `seat-limit-exceeded`.
#[utoipa::path(post, path = "/bookings", tag = "bookings", security(("bearer" = [])), request_body = HoldBody,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "1–255 visible ASCII characters; the same key and request give the same response (24 h); without it there is no replay protection")),
    responses(
        (status = 201, description = "Held until `holdExpiresAt` (also a replay: `Idempotent-Replayed: true`); `warnings` lists `orphan-seats` a manual selection strands", body = HoldAnswer,
            headers(("Location" = String, description = "`/bookings/{bookingId}`"))),
        (status = 400, description = "`validation-error`: malformed seat labels, an empty or duplicated list, neither or both of `seatIds` and `best`, a bad `best.count`, a bad Idempotency-Key", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`: missing, invalid or expired token", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: `userId` is not the caller's", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`seats-unavailable` (`unavailableSeats`), `no-seats-fit` (`reason`: `not-enough-seats`, `no-block-fits`, `no-accessible-fit`), `showtime-closed` (`reason`), `seat-limit-exceeded` (`limit`, `alreadyHeld`), `idempotency-key-in-flight`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "`unknown-showtime`, `unknown-seats` (`unknownSeats`), `too-many-seats` (`maxSeats`), `idempotency-key-reused`, `invalid-body`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`: contention or database unavailable; retry with the same key", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn hold(
    State(bookings): State<Arc<BookingService>>,
    State(catalog): State<Arc<CatalogState>>,
    user: AuthUser,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(body): ApiJson<HoldBody>,
) -> ApiResult<Response> {
    if body.user_id.is_some_and(|id| id != user.id.0) {
        return Err(ApiError::new(
            Problem::Forbidden,
            "userId must be the caller's own id (the one in the access token)",
        ));
    }
    let max = bookings.limits().max_seats_per_booking;
    let seat_ids = match (body.seat_ids, body.best) {
        (Some(seat_ids), None) => seat_ids,
        (None, Some(best)) => return hold_best(&bookings, &catalog, user, key, body.showtime_id, best, max).await,
        (Some(_), Some(_)) => return Err(ApiError::invalid("body.best", "give either seatIds or best, not both")),
        (None, None) => return Err(ApiError::invalid("body.seatIds", "required unless best is given")),
    };
    let seats = SeatSelection::parse(&seat_ids, max).map_err(|e| match e {
        SelectionError::TooMany { max, requested } => {
            ApiError::new(Problem::TooManySeats, format!("at most {max} seats per booking; {requested} requested"))
                .with("maxSeats", max)
        }
        other => ApiError::invalid("body.seatIds", other.to_string()),
    })?;
    // The canonical request: parsed and normalised, so that seat order or case does not make two requests differ.
    let canonical = json!({ "showtimeId": body.showtime_id, "seatIds": seats.as_strings() }).to_string();
    let idempotency =
        key.map(|key| Idempotency { request_hash: request_hash("POST", "/bookings", user.id, &canonical), key });
    let labels = seats.as_strings();
    let command = HoldCommand { user: user.id, showtime: body.showtime_id, seats, idempotency, guards: Vec::new() };
    // The map for the warning is read while the hold runs, from the cache only (no query added to a hold).
    let (answer, map) = tokio::join!(bookings.hold(&command), cached_map(&catalog, body.showtime_id));
    let warnings = match (&answer, map) {
        (Ok(Answer::Fresh(_)), Some((layout, taken))) => {
            let positions: Vec<usize> = labels.iter().filter_map(|l| layout.position(l)).collect();
            let stranded = pick::orphans_left(&layout, &taken, &positions);
            if stranded.is_empty() { Vec::new() } else { vec![HoldWarning { code: "orphan-seats", seats: stranded }] }
        }
        _ => Vec::new(),
    };
    Ok(respond_hold(answer?, warnings))
}

/// The layout and the cached availability of a showtime, when both are at hand without a database query for the
/// availability.
async fn cached_map(catalog: &CatalogState, showtime: ShowtimeId) -> Option<(Arc<SeatLayout>, TakenSeats)> {
    let found = catalog.caches.showtime(&catalog.db, showtime).await.ok()??;
    let (layout, _) = catalog.caches.seat_map(&catalog.db, &found).await.ok()?;
    let taken = catalog.caches.seats.peek(&found.record.key(), layout.len()).await?;
    Some((layout, taken))
}

/// `POST /bookings` with `best`.
async fn hold_best(
    bookings: &BookingService,
    catalog: &CatalogState,
    user: AuthUser,
    key: Option<IdempotencyKey>,
    showtime_id: ShowtimeId,
    best: BestBody,
    max: usize,
) -> ApiResult<Response> {
    let count = usize::try_from(best.count).unwrap_or(0);
    if count == 0 {
        return Err(ApiError::invalid("body.best.count", "must be at least 1"));
    }
    if count > max {
        return Err(ApiError::new(
            Problem::TooManySeats,
            format!("at most {max} seats per booking; {count} requested"),
        )
        .with("maxSeats", max));
    }
    if best.accessible && best.kind.is_some() {
        return Err(ApiError::invalid("body.best.kind", "not with accessible: wheelchair spaces have their own kinds"));
    }
    let Some(showtime) = catalog.caches.showtime(&catalog.db, showtime_id).await? else {
        return Err(BookingError::UnknownShowtime.into());
    };
    let (layout, _) = catalog.caches.seat_map(&catalog.db, &showtime).await?;
    let canonical = json!({ "showtimeId": showtime_id, "best": best }).to_string();
    let idempotency =
        key.map(|key| Idempotency { request_hash: request_hash("POST", "/bookings", user.id, &canonical), key });
    let command = BestCommand {
        user: user.id,
        showtime: showtime.record.key(),
        spot: SweetSpot::of(&layout),
        layout,
        request: BestRequest {
            count,
            kind: best.kind.map(|k| match k {
                BestKind::Standard => SeatKind::Standard,
                BestKind::Premium => SeatKind::Premium,
            }),
            accessible: best.accessible,
            allow_split: best.allow_split,
        },
        idempotency,
    };
    Ok(respond_hold(bookings.hold_best(&command).await?, Vec::new()))
}

/// A hold's answer: 201 with `Location` and warnings, or a replay as it was first sent.
fn respond_hold(answer: Answer<Booking>, warnings: Vec<HoldWarning>) -> Response {
    match answer {
        Answer::Fresh(booking) => {
            let id = booking.id.to_string();
            let mut response = (StatusCode::CREATED, Json(HoldAnswer { booking, warnings })).into_response();
            insert_location(&mut response, &id);
            response
        }
        Answer::Replayed(stored) => replay(stored),
    }
}

/// `POST /bookings/{bookingId}/extend`: the owner's live hold runs `BOXOFFICE_HOLD_EXTENSION_SECS` longer, at most
/// `BOXOFFICE_HOLD_EXTENSIONS_MAX` times, never past the showtime's start.
#[utoipa::path(post, path = "/bookings/{bookingId}/extend", tag = "bookings", security(("bearer" = [])),
    params(("bookingId" = uuid::Uuid, Path, description = "The booking")),
    responses(
        (status = 200, description = "Extended: the new `holdExpiresAt`", body = Booking),
        (status = 400, description = "`validation-error`: `bookingId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: an admin extending someone else's hold", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no such booking, or not the caller's", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`hold-extension-refused` (`reason`: `limit-reached` with `limit`, `showtime-starts`), `booking-state-conflict` (paid or canceled), `payment-in-progress`, `showtime-closed`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "`hold-expired`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`: contention or database unavailable", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn extend(
    State(bookings): State<Arc<BookingService>>,
    user: AuthUser,
    ApiPath(booking_id): ApiPath<Uuid>,
) -> ApiResult<Json<Booking>> {
    Ok(Json(bookings.extend(user, BookingId(booking_id)).await?))
}

/// `PUT /bookings/{bookingId}/finalize` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinalizeBody {
    payment: PaymentBody,
}

/// The payment part of a finalize body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// The provider's payment token (sandbox: `tok_visa`, `tok_chargeDeclined`, `tok_timeout`, `tok_error`).
    #[schema(min_length = 1, max_length = 255, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", example = "tok_visa")]
    token: String,
}

/// `PUT /bookings/{bookingId}/finalize`: pays. 200 `paid`; 402 `payment-declined` (the hold continues); 410
/// `hold-expired`; 409 `payment-in-progress`, `showtime-closed` (the showtime was canceled or has started: nothing
/// charged); 504 `payment-timeout` / 502 `payment-provider-error` (the booking stays
/// `payment_pending` until the reconciler resolves it); 503 `payment-unavailable` (circuit open, nothing charged).
#[utoipa::path(put, path = "/bookings/{bookingId}/finalize", tag = "bookings", security(("bearer" = [])),
    request_body = FinalizeBody, params(("bookingId" = uuid::Uuid, Path, description = "The booking"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "1–255 visible ASCII characters; the same key and request give the same response (24 h); without it there is no replay protection")),
    responses(
        (status = 200, description = "Paid: `holdExpiresAt` is null, the seats are held for good", body = Booking),
        (status = 400, description = "`validation-error`: bad id, token or Idempotency-Key", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 402, description = "`payment-declined` (`reason`): the hold continues", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: an admin paying someone else's booking", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no such booking, or not the caller's", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`payment-in-progress`, `booking-state-conflict` (`bookingStatus`), `showtime-closed` (`reason`: the showtime was canceled or has started; nothing charged), `idempotency-key-in-flight`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "`hold-expired`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency-key-reused`, `invalid-body`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 502, description = "`payment-provider-error`: the booking stays `payment_pending` until reconciled", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`payment-unavailable`: circuit open, nothing charged (`Retry-After`)", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 504, description = "`payment-timeout`: the booking stays `payment_pending` until reconciled", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn finalize(
    State(bookings): State<Arc<BookingService>>,
    user: AuthUser,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiPath(booking_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<FinalizeBody>,
) -> ApiResult<Response> {
    let token = body.payment.token;
    if token.is_empty() || token.chars().count() > 255 || token.chars().any(char::is_control) {
        return Err(ApiError::invalid("body.payment.token", "must be 1 to 255 characters"));
    }
    let canonical = json!({ "bookingId": booking_id, "token": token }).to_string();
    let idempotency = key.map(|key| Idempotency {
        request_hash: request_hash("PUT", "/bookings/{bookingId}/finalize", user.id, &canonical),
        key,
    });
    let command = FinalizeCommand { caller: user, booking: BookingId(booking_id), token, idempotency };
    // Spawned: a client that disconnects mid-payment must not cancel the transaction that records the charge.
    let service = bookings;
    let answer = tokio::spawn(async move { service.finalize(&command).await }).await.map_err(ApiError::internal)??;
    Ok(respond(answer, StatusCode::OK))
}

/// `DELETE /bookings/{bookingId}`: cancels (owner or admin). 200 `canceled` (also when it already was); a paid
/// booking is refunded first; 409 `booking-state-conflict` for an expired booking, `payment-in-progress` during a
/// payment.
#[utoipa::path(delete, path = "/bookings/{bookingId}", tag = "bookings", security(("bearer" = [])),
    params(("bookingId" = uuid::Uuid, Path, description = "The booking"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "1–255 visible ASCII characters; the same key and request give the same response (24 h); without it there is no replay protection")),
    responses(
        (status = 200, description = "Canceled (a paid booking was refunded first)", body = Booking),
        (status = 400, description = "`validation-error`: `bookingId` is not a UUID, or a bad Idempotency-Key", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no such booking, or not the caller's (admins may cancel any)", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`booking-state-conflict` (expired), `payment-in-progress`, `idempotency-key-in-flight`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency-key-reused`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 502, description = "`payment-provider-error`: the refund failed; the booking stays paid", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 504, description = "`payment-timeout`: the refund's outcome is unknown; the booking stays paid (retry)", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn cancel(
    State(bookings): State<Arc<BookingService>>,
    user: AuthUser,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiPath(booking_id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let idempotency = key.map(|key| Idempotency {
        request_hash: request_hash("DELETE", "/bookings/{bookingId}", user.id, &booking_id.to_string()),
        key,
    });
    let command = CancelCommand { caller: user, booking: BookingId(booking_id), idempotency };
    let service = bookings;
    let answer = tokio::spawn(async move { service.cancel(&command).await }).await.map_err(ApiError::internal)??;
    Ok(respond(answer, StatusCode::OK))
}

/// `GET /bookings/{bookingId}`: the owner's or, for an admin, anyone's booking; 404 for anyone else.
#[utoipa::path(get, path = "/bookings/{bookingId}", tag = "bookings", security(("bearer" = [])),
    params(("bookingId" = uuid::Uuid, Path, description = "The booking")),
    responses(
        (status = 200, description = "The booking (a lapsed hold reads `expired`)", body = Booking),
        (status = 400, description = "`validation-error`: `bookingId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no such booking, or not the caller's", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn get_booking(
    State(bookings): State<Arc<BookingService>>,
    user: AuthUser,
    ApiPath(booking_id): ApiPath<Uuid>,
) -> ApiResult<Json<Booking>> {
    Ok(Json(bookings.get(user, BookingId(booking_id)).await?))
}

/// `GET /users/me/bookings` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// A page of bookings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingPage {
    /// Bookings, newest first.
    pub items: Vec<Booking>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /users/me/bookings`: the caller's bookings, newest first, cursor-paginated.
#[utoipa::path(get, path = "/users/me/bookings", tag = "bookings", security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "A page of the caller's bookings", body = BookingPage),
        (status = 400, description = "`validation-error`: bad `limit` or `cursor`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn my_bookings(
    State(bookings): State<Arc<BookingService>>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<BookingPage>> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("query.limit", "must be 1 to 100"));
    }
    let after = query
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()
        .map_err(|()| ApiError::invalid("query.cursor", "is not a cursor this API returned"))?;
    let (items, more) = bookings.list(user.id, after, limit).await?;
    let next_cursor = more.then(|| items.last().map(|b| encode_cursor(b.created_at, b.id))).flatten();
    Ok(Json(BookingPage { items, next_cursor }))
}

/// The cursor after a booking: its creation time (Unix nanoseconds) and id. Opaque to clients.
fn encode_cursor(at: OffsetDateTime, id: BookingId) -> String {
    format!("{}_{}", at.unix_timestamp_nanos(), id.0.simple())
}

fn decode_cursor(cursor: &str) -> Result<(OffsetDateTime, BookingId), ()> {
    let (nanos, id) = cursor.split_once('_').ok_or(())?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().map_err(drop)?).map_err(drop)?;
    Ok((at, BookingId(Uuid::parse_str(id).map_err(drop)?)))
}

/// A fresh answer with `status` (and `Location` for a 201), or a replayed one as it was first sent.
fn respond(answer: Answer<Booking>, status: StatusCode) -> Response {
    match answer {
        Answer::Fresh(booking) => {
            let mut response = (status, Json(&booking)).into_response();
            if status == StatusCode::CREATED {
                insert_location(&mut response, &booking.id.to_string());
            }
            response
        }
        Answer::Replayed(stored) => replay(stored),
    }
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let location =
        (status == StatusCode::CREATED).then(|| stored.body.get("id").and_then(Value::as_str).map(str::to_owned));
    let mut response = (status, Json(stored.body)).into_response();
    let headers = response.headers_mut();
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    if status.is_client_error() || status.is_server_error() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    }
    if let Some(Some(id)) = location {
        insert_location(&mut response, &id);
    }
    response
}

fn insert_location(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!("/bookings/{id}")) {
        response.headers_mut().insert(header::LOCATION, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("valid");
        let id = BookingId(Uuid::from_u128(42));
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Ok((at, id)));
        for bad in ["", "abc", "12_nope", "x_00000000000000000000000000000042"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_replayed_problem_keeps_its_status_and_media_type() {
        let response = replay(StoredResponse { status: 402, body: json!({"type": "x"}) });
        assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers()["idempotent-replayed"], "true");
        let response = replay(StoredResponse { status: 201, body: json!({"id": "abc"}) });
        assert_eq!(response.headers()[header::LOCATION], "/bookings/abc");
    }
}
