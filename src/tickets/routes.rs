//! Ticket handlers: parse, call [`super::TicketService`], respond.
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{Admission, Scan};
use super::store::TicketRow;
use super::token::{PublicKey, TicketClaims, TicketKeys};
use super::{CheckIn, TicketService};
use crate::auth::{AuthUser, StaffUser};
use crate::booking::model::BookingId;
use crate::booking::{BookingError, BookingService};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath};

/// A ticket: one seat of a paid booking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// Its booking.
    pub booking_id: Uuid,
    /// Its showtime.
    pub showtime_id: Uuid,
    /// Its seat label.
    pub seat: String,
    /// The signed token (base64url) a scanner reads from the QR code; verifiable offline with `GET /tickets/keys`.
    pub token: String,
    /// The QR code of `token` as an SVG document (only on a booking's tickets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_svg: Option<String>,
    /// Its admission at the door, once admitted.
    pub admission: Option<Admission>,
}

impl Ticket {
    /// The view of a ticket row, with its token signed by `keys`.
    ///
    /// # Errors
    /// A seat label too long for a token (the catalog's are far shorter).
    pub fn of(keys: &TicketKeys, row: TicketRow) -> Result<Self, BookingError> {
        let claims = TicketClaims { showtime: row.showtime, booking: row.booking, seat: row.seat };
        let token = keys.sign(&claims).map_err(|e| BookingError::Internal(e.into()))?;
        Ok(Self {
            booking_id: claims.booking,
            showtime_id: claims.showtime,
            seat: claims.seat,
            token,
            qr_svg: None,
            admission: row.admitted,
        })
    }
}

/// `GET /tickets/keys` response: the public keys of ticket tokens (a JWK Set, RFC 8037 keys).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeySet {
    /// The keys; the first signs new tickets, every one verifies.
    pub keys: Vec<PublicKey>,
}

/// `GET /tickets/keys`: the public keys that verify ticket tokens, for scanners that verify offline.
#[utoipa::path(get, path = "/tickets/keys", tag = "tickets",
    responses(
        (status = 200, description = "The public keys (JWK Set of Ed25519 keys)", body = KeySet),
        (status = 503, description = "`service-unavailable`: tickets are not configured", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn keys(State(tickets): State<Arc<TicketService>>) -> ApiResult<Json<KeySet>> {
    let keys = tickets.signing_keys()?;
    Ok(Json(KeySet { keys: keys.public_keys().to_vec() }))
}

/// `GET /bookings/{bookingId}/tickets` response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingTickets {
    /// One per seat once the booking is paid; empty otherwise.
    pub tickets: Vec<Ticket>,
}

/// `GET /bookings/{bookingId}/tickets`: the booking's tickets with their QR codes (owner or admin).
#[utoipa::path(get, path = "/bookings/{bookingId}/tickets", tag = "tickets", security(("bearer" = [])),
    params(("bookingId" = uuid::Uuid, Path, description = "The booking")),
    responses(
        (status = 200, description = "The tickets (none unless the booking is paid)", body = BookingTickets),
        (status = 400, description = "`validation-error`: `bookingId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no such booking, or not the caller's", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`: tickets are not configured, or the database is unavailable", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn booking_tickets(
    State(tickets): State<Arc<TicketService>>,
    State(bookings): State<Arc<BookingService>>,
    user: AuthUser,
    ApiPath(booking_id): ApiPath<Uuid>,
) -> ApiResult<Json<BookingTickets>> {
    let mut list = tickets.of_booking(&bookings, user, BookingId(booking_id)).await?;
    for ticket in &mut list {
        ticket.qr_svg = Some(super::render::qr_svg(&ticket.token).map_err(ApiError::internal)?);
    }
    Ok(Json(BookingTickets { tickets: list }))
}

/// `GET /showtimes/{showtimeId}/tickets` response: what an offline scanner downloads.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShowtimeTickets {
    /// The showtime.
    pub showtime_id: Uuid,
    /// The public keys that verify the tokens.
    pub keys: Vec<PublicKey>,
    /// Every ticket of a booking still paid, with its admission so far.
    pub tickets: Vec<Ticket>,
}

/// `GET /showtimes/{showtimeId}/tickets`: a showtime's valid tickets and the public keys, for a scanner about to
/// work offline (staff).
#[utoipa::path(get, path = "/showtimes/{showtimeId}/tickets", tag = "tickets", security(("bearer" = [])),
    params(("showtimeId" = uuid::Uuid, Path, description = "The showtime")),
    responses(
        (status = 200, description = "The showtime's valid tickets", body = ShowtimeTickets),
        (status = 400, description = "`validation-error`: `showtimeId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not staff", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`not-found`: no such showtime", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`: tickets are not configured, or the database is unavailable", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn showtime_tickets(
    State(tickets): State<Arc<TicketService>>,
    StaffUser(_staff): StaffUser,
    ApiPath(showtime_id): ApiPath<Uuid>,
) -> ApiResult<Json<ShowtimeTickets>> {
    let list = tickets.of_showtime(showtime_id).await?.ok_or_else(|| ApiError::not_found("the showtime"))?;
    let keys = tickets.signing_keys()?.public_keys().to_vec();
    Ok(Json(ShowtimeTickets { showtime_id, keys, tickets: list }))
}

/// `POST /checkins` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckInBody {
    /// The token read from the ticket's QR code.
    #[schema(min_length = 1, max_length = 512)]
    token: String,
    /// The theater this door belongs to: a ticket for another theater's showtime is refused.
    #[serde(default)]
    theater_id: Option<Uuid>,
    /// The showtime this door admits for: a ticket for another showtime is refused.
    #[serde(default)]
    showtime_id: Option<Uuid>,
}

/// An admitted ticket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Admitted {
    /// Always `admitted`.
    pub outcome: &'static str,
    /// `true` when this scanner had admitted it already (its retry): the original admission.
    pub replayed: bool,
    /// The booking.
    pub booking_id: Uuid,
    /// The showtime.
    pub showtime_id: Uuid,
    /// The seat.
    pub seat: String,
    /// The admission.
    pub admission: Admission,
}

const MAX_TOKEN: usize = 512;

/// `POST /checkins`: a door scanner (staff) checks a ticket in. Each ticket is admitted exactly once, whatever the
/// concurrency; the same scanner's retry gets the original 200.
#[utoipa::path(post, path = "/checkins", tag = "tickets", security(("bearer" = [])), request_body = CheckInBody,
    responses(
        (status = 200, description = "Admitted (or this scanner's retry: `replayed`)", body = Admitted),
        (status = 400, description = "`ticket-invalid`: not a ticket of ours (forged, tampered, unknown key); `validation-error`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not staff", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`ticket-already-admitted` (`admission`: when, by which scanner, at which theater), `ticket-wrong-showtime`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 410, description = "`ticket-canceled`: the booking was canceled", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-body`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`: tickets are not configured, or contention / the database; retry", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn check_in(
    State(tickets): State<Arc<TicketService>>,
    StaffUser(user): StaffUser,
    ApiJson(body): ApiJson<CheckInBody>,
) -> ApiResult<Json<Admitted>> {
    if body.token.is_empty() || body.token.len() > MAX_TOKEN {
        return Err(ApiError::invalid("body.token", "must be 1 to 512 characters"));
    }
    let scan = Scan { scanner: user.id.0, door: body.theater_id, showtime: body.showtime_id };
    match tickets.check_in(&body.token, scan, None).await? {
        CheckIn::Admitted { ticket, admission, replayed } => Ok(Json(Admitted {
            outcome: "admitted",
            replayed,
            booking_id: ticket.booking,
            showtime_id: ticket.showtime,
            seat: ticket.seat,
            admission,
        })),
        CheckIn::AlreadyAdmitted { ticket, first } => Err(ApiError::new(
            Problem::TicketAlreadyAdmitted,
            format!("seat {} was admitted already at {}", ticket.seat, first.admitted_at),
        )
        .with("admission", first)),
        CheckIn::Canceled(ticket) => Err(ApiError::new(
            Problem::TicketCanceled,
            format!("the booking of seat {} was canceled: the ticket admits no one", ticket.seat),
        )),
        CheckIn::WrongShowtime(ticket) => Err(ApiError::new(
            Problem::TicketWrongShowtime,
            "the ticket is for another showtime or theater than this door's",
        )
        .with("showtimeId", ticket.showtime)),
        CheckIn::Forged(err) => Err(ApiError::new(Problem::TicketInvalid, "this is not a valid ticket").caused_by(err)),
    }
}

/// One offline scan.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OfflineScan {
    /// The token read.
    #[schema(min_length = 1, max_length = 512)]
    token: String,
    /// When it was scanned, by the scanner's clock (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    scanned_at: OffsetDateTime,
}

/// `POST /checkins/batch` body: an offline scanner's admissions.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BatchBody {
    /// The theater the scanner stood at.
    #[serde(default)]
    theater_id: Option<Uuid>,
    /// The showtime it admitted for.
    #[serde(default)]
    showtime_id: Option<Uuid>,
    /// The scans, 1 to 1000, in any order.
    #[schema(min_items = 1, max_items = 1000)]
    scans: Vec<OfflineScan>,
}

/// The settlement of one offline scan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settled {
    /// `admitted` (this scan is the ticket's admission: the first by scan time), `duplicate` (another scan was
    /// first: `admission` says which), `canceled`, `wrong_showtime` or `forged`.
    pub outcome: &'static str,
    /// The booking, for a valid token.
    pub booking_id: Option<Uuid>,
    /// The seat, for a valid token.
    pub seat: Option<String>,
    /// The ticket's admission (this scan's, or the first one's).
    pub admission: Option<Admission>,
}

/// `POST /checkins/batch` response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    /// One per scan, in the order sent.
    pub results: Vec<Settled>,
}

const MAX_BATCH: usize = 1000;

/// `POST /checkins/batch`: an offline scanner uploads its admissions; the server settles them, the first scan of a
/// ticket by scan time winning, and reports the rest as duplicates. Uploading the same scans again changes nothing.
#[utoipa::path(post, path = "/checkins/batch", tag = "tickets", security(("bearer" = [])), request_body = BatchBody,
    responses(
        (status = 200, description = "Each scan settled", body = BatchResult),
        (status = 400, description = "`validation-error`: no scans, more than 1000, an empty or overlong token", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not staff", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-body`", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`: tickets are not configured, or contention / the database; upload again", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn check_in_batch(
    State(tickets): State<Arc<TicketService>>,
    StaffUser(user): StaffUser,
    ApiJson(body): ApiJson<BatchBody>,
) -> ApiResult<Json<BatchResult>> {
    if body.scans.is_empty() || body.scans.len() > MAX_BATCH {
        return Err(ApiError::invalid("body.scans", "must hold 1 to 1000 scans"));
    }
    if let Some(i) = body.scans.iter().position(|s| s.token.is_empty() || s.token.len() > MAX_TOKEN) {
        return Err(ApiError::invalid(format!("body.scans[{i}].token"), "must be 1 to 512 characters"));
    }
    let scan = Scan { scanner: user.id.0, door: body.theater_id, showtime: body.showtime_id };
    // Settled in scan-time order, so that within the upload too the first scan wins.
    let mut order: Vec<usize> = (0..body.scans.len()).collect();
    order.sort_by_key(|&i| body.scans[i].scanned_at);
    let mut results: Vec<Option<Settled>> = (0..body.scans.len()).map(|_| None).collect();
    for i in order {
        let s = &body.scans[i];
        // Stored with microsecond precision: the same scan uploaded again must compare equal.
        let at = s.scanned_at.replace_nanosecond(s.scanned_at.nanosecond() / 1000 * 1000).unwrap_or(s.scanned_at);
        let settled = match tickets.check_in(&s.token, scan, Some(at)).await? {
            CheckIn::Admitted { ticket, admission, .. } => settled("admitted", Some(ticket), Some(admission)),
            CheckIn::AlreadyAdmitted { ticket, first } => settled("duplicate", Some(ticket), Some(first)),
            CheckIn::Canceled(ticket) => settled("canceled", Some(ticket), None),
            CheckIn::WrongShowtime(ticket) => settled("wrong_showtime", Some(ticket), None),
            CheckIn::Forged(_) => settled("forged", None, None),
        };
        results[i] = Some(settled);
    }
    Ok(Json(BatchResult { results: results.into_iter().flatten().collect() }))
}

fn settled(outcome: &'static str, ticket: Option<TicketClaims>, admission: Option<Admission>) -> Settled {
    let (booking_id, seat) = ticket.map(|t| (t.booking, t.seat)).unzip();
    Settled { outcome, booking_id, seat, admission }
}
