//! Booking SQL: holds, claims, status changes, idempotency keys, the sweeper's statement, the outbox. Every function
//! runs one statement (or, for [`hold_writes`], several pipelined on one connection) on the client it is given:
//! inside a [`crate::db::retry`] transaction for writes.

use std::collections::HashMap;

use deadpool_postgres::ClientWrapper;
use postgres_types::{Json, ToSql};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::model::{Booking, BookingId, BookingStatus, PricedSeat, Prices, SeatKind};
use crate::auth::model::UserId;
use crate::db::{Region, queries::booking as q};

/// A booking row with the database's clock at the time it was read (to show the effective status).
#[derive(Debug, Clone)]
pub struct Found {
    /// The booking, with its stored status.
    pub booking: Booking,
    /// `now()` of the reading statement.
    pub now: OffsetDateTime,
}

fn found_from_row(row: &Row) -> Result<Found, tokio_postgres::Error> {
    let status: String = row.try_get("status")?;
    let Json(seats): Json<Vec<PricedSeat>> = row.try_get("seats")?;
    Ok(Found {
        booking: Booking {
            region: row.try_get("region")?,
            id: BookingId(row.try_get("id")?),
            user_id: UserId(row.try_get("user_id")?),
            showtime_id: row.try_get("showtime_id")?,
            // bookings_status_check admits only the five statuses.
            status: status.parse().unwrap_or(BookingStatus::Expired),
            seats,
            total: row.try_get("total_amount")?,
            currency: row.try_get("currency")?,
            hold_expires_at: row.try_get("hold_expires_at")?,
            payment_ref: row.try_get("payment_ref")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
        now: row.try_get("now")?,
    })
}

/// The region of a showtime.
///
/// # Errors
/// Database errors.
pub async fn showtime_region(c: &ClientWrapper, showtime: Uuid) -> Result<Option<Region>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::SHOWTIME_REGION).await?;
    c.query_opt(&stmt, &[&showtime]).await?.map(|r| r.try_get(0)).transpose()
}

/// The region of a booking.
///
/// # Errors
/// Database errors.
pub async fn booking_region(c: &ClientWrapper, booking: BookingId) -> Result<Option<Region>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::BOOKING_REGION).await?;
    c.query_opt(&stmt, &[&booking.0]).await?.map(|r| r.try_get(0)).transpose()
}

/// What a hold reads about its showtime (see `hold_context.sql`).
#[derive(Debug, Clone)]
pub struct HoldContext {
    /// The transaction's clock.
    pub now: OffsetDateTime,
    /// `scheduled` or `canceled`.
    pub status: String,
    /// When it starts.
    pub start_time: OffsetDateTime,
    /// Its prices.
    pub prices: Prices,
    /// The kind of each requested seat the screen has.
    pub kinds: HashMap<String, SeatKind>,
}

/// Reads the showtime and the kinds of the requested seats; `None` when the showtime does not exist.
///
/// # Errors
/// Database errors.
pub async fn hold_context(
    c: &ClientWrapper,
    region: &Region,
    showtime: Uuid,
    labels: &[String],
) -> Result<Option<HoldContext>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::HOLD_CONTEXT).await?;
    let rows = c.query(&stmt, &[region, &showtime, &labels]).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let mut kinds = HashMap::with_capacity(rows.len());
    for row in &rows {
        if let Some(label) = row.try_get::<_, Option<String>>("seat_label")? {
            let kind: String = row.try_get("kind")?;
            // seats_kind_check admits only the four kinds.
            kinds.insert(label, kind.parse().unwrap_or(SeatKind::Standard));
        }
    }
    Ok(Some(HoldContext {
        now: first.try_get("now")?,
        status: first.try_get("status")?,
        start_time: first.try_get("start_time")?,
        prices: Prices {
            standard: first.try_get("price_standard")?,
            premium: first.try_get("price_premium")?,
            accessible: first.try_get("price_accessible")?,
            companion: first.try_get("price_companion")?,
            currency: first.try_get("currency")?,
        },
        kinds,
    }))
}

/// An idempotency key to claim (see `idempotency_claim.sql`).
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    /// Region of the resource.
    pub region: &'a Region,
    /// The caller.
    pub user: UserId,
    /// The key.
    pub key: &'a str,
    /// The request's fingerprint.
    pub request_hash: &'a str,
    /// The response stored with the claim (a hold's), or `None`: in flight.
    pub response: Option<(i32, &'a Value)>,
    /// Seconds after which a key left in flight by the same request is taken over.
    pub abandon_after_secs: f64,
}

/// Claims an idempotency key; `false` when it exists.
///
/// # Errors
/// Database errors.
pub async fn claim_key(c: &ClientWrapper, claim: KeyClaim<'_>) -> Result<bool, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::IDEMPOTENCY_CLAIM).await?;
    let (status, body) = claim.response.map_or((None, None), |(s, b)| (Some(s), Some(Json(b))));
    let row = c
        .query_opt(
            &stmt,
            &[claim.region, &claim.user.0, &claim.key, &claim.request_hash, &status, &body, &claim.abandon_after_secs],
        )
        .await?;
    Ok(row.is_some())
}

/// An existing idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Fingerprint of the request that claimed it.
    pub request_hash: String,
    /// Its response, `None` while in flight.
    pub response: Option<(u16, Value)>,
}

/// Reads an idempotency key.
///
/// # Errors
/// Database errors.
pub async fn find_key(
    c: &ClientWrapper,
    region: &Region,
    user: UserId,
    key: &str,
) -> Result<Option<StoredKey>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::IDEMPOTENCY_FIND).await?;
    let Some(row) = c.query_opt(&stmt, &[region, &user.0, &key]).await? else { return Ok(None) };
    let status: Option<i32> = row.try_get("response_status")?;
    let body: Option<Json<Value>> = row.try_get("response_body")?;
    let response = match (status, body) {
        (Some(status), Some(Json(body))) => Some((u16::try_from(status).unwrap_or(500), body)),
        _ => None,
    };
    Ok(Some(StoredKey { request_hash: row.try_get("request_hash")?, response }))
}

/// Stores the final response of an in-flight key.
///
/// # Errors
/// Database errors.
pub async fn complete_key(
    c: &ClientWrapper,
    region: &Region,
    user: UserId,
    key: &str,
    status: u16,
    body: &Value,
) -> Result<(), tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::IDEMPOTENCY_COMPLETE).await?;
    c.execute(&stmt, &[region, &user.0, &key, &i32::from(status), &Json(body)]).await?;
    Ok(())
}

/// Forgets an in-flight key (the request ended without a definite answer).
///
/// # Errors
/// Database errors.
pub async fn release_key(
    c: &ClientWrapper,
    region: &Region,
    user: UserId,
    key: &str,
) -> Result<(), tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::IDEMPOTENCY_RELEASE).await?;
    c.execute(&stmt, &[region, &user.0, &key]).await?;
    Ok(())
}

/// A claimed seat: its label, and the booking whose lapsed claim was taken over, if any.
pub type Claimed = (String, Option<Uuid>);

/// Claims seats for a booking (see `claim_seats.sql`); `hold_expires_at` `None` claims them for good.
///
/// # Errors
/// Database errors.
pub async fn claim_seats(
    c: &ClientWrapper,
    region: &Region,
    showtime: Uuid,
    labels: &[String],
    booking: BookingId,
    hold_expires_at: Option<OffsetDateTime>,
) -> Result<Vec<Claimed>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::CLAIM_SEATS).await?;
    let rows = c.query(&stmt, &[region, &showtime, &labels, &booking.0, &hold_expires_at]).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// A hold about to be written.
#[derive(Debug, Clone, Copy)]
pub struct NewHold<'a> {
    /// The booking as it will be stored and answered.
    pub booking: &'a Booking,
    /// Its seat labels, sorted.
    pub labels: &'a [String],
}

/// What the pipelined writes of a hold report.
#[derive(Debug, Clone)]
pub struct HoldWrites {
    /// `Some(true)`: the key was claimed; `Some(false)`: it exists; `None`: no key.
    pub key_claimed: Option<bool>,
    /// The seats claimed (fewer than asked: some are taken).
    pub claimed: Vec<Claimed>,
    /// The user's live seats on the showtime, this hold included.
    pub user_seats: i64,
}

/// The writes of a hold (DESIGN.md §6 steps 1–3 and the per-user count), sent pipelined: one round trip for all
/// of them, executed by the server in order. Results are checked in statement order, so the first failing
/// statement's error is the one reported (the later ones only say the transaction is aborted).
///
/// # Errors
/// Database errors.
pub async fn hold_writes(
    c: &ClientWrapper,
    key: Option<KeyClaim<'_>>,
    hold: NewHold<'_>,
) -> Result<HoldWrites, tokio_postgres::Error> {
    let b = hold.booking;
    let (key_stmt, insert_stmt, claim_stmt, count_stmt) = tokio::try_join!(
        c.prepare_cached(q::IDEMPOTENCY_CLAIM),
        c.prepare_cached(q::INSERT),
        c.prepare_cached(q::CLAIM_SEATS),
        c.prepare_cached(q::COUNT_USER_SEATS),
    )?;
    let seat_count = i32::try_from(b.seats.len()).unwrap_or(i32::MAX);
    let seats = Json(&b.seats);
    let key_params = key.map(|k| {
        let (status, body) = k.response.map_or((None, None), |(s, b)| (Some(s), Some(Json(b))));
        (k, status, body)
    });
    let key_future = async {
        match &key_params {
            Some((k, status, body)) => c
                .query_opt(
                    &key_stmt,
                    &[k.region, &k.user.0, &k.key, &k.request_hash, status, body, &k.abandon_after_secs],
                )
                .await
                .map(|row| Some(row.is_some())),
            None => Ok(None),
        }
    };
    let insert_params: [&(dyn ToSql + Sync); 10] = [
        &b.region,
        &b.id.0,
        &b.user_id.0,
        &b.showtime_id,
        &seats,
        &seat_count,
        &b.total,
        &b.currency,
        &b.hold_expires_at,
        &b.created_at,
    ];
    let claim_params: [&(dyn ToSql + Sync); 5] = [&b.region, &b.showtime_id, &hold.labels, &b.id.0, &b.hold_expires_at];
    let count_params: [&(dyn ToSql + Sync); 3] = [&b.region, &b.showtime_id, &b.user_id.0];
    let insert_future = c.execute(&insert_stmt, &insert_params);
    let claim_future = c.query(&claim_stmt, &claim_params);
    let count_future = c.query_one(&count_stmt, &count_params);
    let (key_result, insert_result, claim_result, count_result) =
        tokio::join!(key_future, insert_future, claim_future, count_future);
    let key_claimed = key_result?;
    insert_result?;
    let claimed = claim_result?.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, _>>()?;
    let user_seats = count_result?.try_get(0)?;
    Ok(HoldWrites { key_claimed, claimed, user_seats })
}

/// Expires the bookings whose lapsed claims were just taken over, and deletes their other claims.
///
/// # Errors
/// Database errors.
pub async fn expire_taken_over(
    c: &ClientWrapper,
    region: &Region,
    bookings: &[Uuid],
) -> Result<(), tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::EXPIRE_TAKEN_OVER).await?;
    c.execute(&stmt, &[region, &bookings]).await?;
    Ok(())
}

/// A booking by region and id.
///
/// # Errors
/// Database errors.
pub async fn find(c: &ClientWrapper, region: &Region, id: BookingId) -> Result<Option<Found>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::FIND).await?;
    c.query_opt(&stmt, &[region, &id.0]).await?.as_ref().map(found_from_row).transpose()
}

/// A booking by id alone.
///
/// # Errors
/// Database errors.
pub async fn find_by_id(c: &ClientWrapper, id: BookingId) -> Result<Option<Found>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::FIND_BY_ID).await?;
    c.query_opt(&stmt, &[&id.0]).await?.as_ref().map(found_from_row).transpose()
}

/// One page of a user's bookings, newest first, after the cursor `(created_at, id)` if given; `limit` rows at most.
///
/// # Errors
/// Database errors.
pub async fn list_by_user(
    c: &ClientWrapper,
    user: UserId,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<Found>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::LIST_BY_USER).await?;
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    let rows = c.query(&stmt, &[&user.0, &at, &id, &limit]).await?;
    rows.iter().map(found_from_row).collect()
}

/// Moves a booking to `status` if it is in one of `expected`; `None` when it is not.
///
/// # Errors
/// Database errors.
pub async fn set_status(
    c: &ClientWrapper,
    region: &Region,
    id: BookingId,
    status: BookingStatus,
    expected: &[BookingStatus],
    hold_expires_at: Option<OffsetDateTime>,
    payment_ref: Option<&str>,
) -> Result<Option<Found>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::SET_STATUS).await?;
    let expected: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
    c.query_opt(&stmt, &[region, &id.0, &status.as_str(), &expected, &hold_expires_at, &payment_ref])
        .await?
        .as_ref()
        .map(found_from_row)
        .transpose()
}

/// Sets the hold of every claim of a booking; returns how many claims it has.
///
/// # Errors
/// Database errors.
pub async fn set_claims_expiry(
    c: &ClientWrapper,
    region: &Region,
    id: BookingId,
    hold_expires_at: OffsetDateTime,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::SET_CLAIMS_EXPIRY).await?;
    Ok(c.query(&stmt, &[region, &id.0, &hold_expires_at]).await?.len() as u64)
}

/// Releases every claim of a booking; returns how many.
///
/// # Errors
/// Database errors.
pub async fn delete_claims(c: &ClientWrapper, region: &Region, id: BookingId) -> Result<u64, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::DELETE_CLAIMS).await?;
    c.execute(&stmt, &[region, &id.0]).await
}

/// A booking the sweeper expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Its region.
    pub region: Region,
    /// The booking.
    pub booking: BookingId,
    /// Its showtime (whose seat cache must be invalidated).
    pub showtime: Uuid,
    /// Claims deleted.
    pub released: i64,
}

/// Expires up to `batch` lapsed holds and deletes their claims (see `sweep_expired.sql`).
///
/// # Errors
/// Database errors.
pub async fn sweep_expired(c: &ClientWrapper, batch: i64) -> Result<Vec<Swept>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::SWEEP_EXPIRED).await?;
    let rows = c.query(&stmt, &[&batch]).await?;
    rows.iter()
        .map(|r| {
            Ok(Swept {
                region: r.try_get("region")?,
                booking: BookingId(r.try_get("id")?),
                showtime: r.try_get("showtime_id")?,
                released: r.try_get("released")?,
            })
        })
        .collect()
}

/// Appends an outbox event.
///
/// # Errors
/// Database errors.
pub async fn insert_outbox(
    c: &ClientWrapper,
    region: &Region,
    topic: &str,
    payload: &Value,
) -> Result<(), tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::INSERT_OUTBOX).await?;
    c.execute(&stmt, &[region, &topic, &Json(payload)]).await?;
    Ok(())
}
