//! Booking SQL: holds, claims, status changes, idempotency keys, the sweeper's statement, the outbox. Every function
//! runs one statement, or several [`pipeline`]d in one round trip, on the client it is given: inside a
//! [`crate::db::retry`] transaction for writes.
//!
//! Why pipelines: under SERIALIZABLE, PostgreSQL tracks reads with predicate locks on whole index pages, and a
//! transaction that reads a booking and writes it a round trip later gives concurrent holds on the same showtime
//! (which insert into, then read, those same small pages) time to form a read-write cycle with it: one of the two
//! is then rolled back and retried. Sending a transition's read and its guarded write together leaves the server no
//! gap between them, and the cycles all but disappear.

use std::collections::HashMap;

use deadpool_postgres::ClientWrapper;
use futures_util::future::join;
use postgres_types::{Json, ToSql};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::model::{Booking, BookingId, BookingStatus, PricedSeat, SeatKind};
use crate::auth::model::UserId;
use crate::db::queries::{booking as q, payment as pq};
use crate::db::{Region, Step, Tx, TxError, pipeline};
use crate::ids::ShowtimeId;
use crate::payment::store::PaymentStatus;

fn first_found(rows: &[Row]) -> Result<Option<Found>, tokio_postgres::Error> {
    rows.first().map(found_from_row).transpose()
}

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
pub async fn showtime_region(c: &ClientWrapper, showtime: ShowtimeId) -> Result<Option<Region>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::SHOWTIME_REGION).await?;
    c.query_opt(&stmt, &[&showtime]).await?.map(|r| r.try_get(0)).transpose()
}

/// The region of a booking.
///
/// # Errors
/// Database errors.
pub async fn booking_region(c: &ClientWrapper, booking: BookingId) -> Result<Option<Region>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::BOOKING_REGION).await?;
    c.query_opt(&stmt, &[&booking]).await?.map(|r| r.try_get(0)).transpose()
}

/// What stood in a refused hold's way, read after its transaction (see `hold_refusal.sql`).
#[derive(Debug, Clone)]
pub struct HoldRefusal {
    /// The reading statement's clock.
    pub now: OffsetDateTime,
    /// `scheduled` or `canceled`.
    pub status: String,
    /// When it starts.
    pub start_time: OffsetDateTime,
    /// The kind of each requested seat the screen has.
    pub kinds: HashMap<String, SeatKind>,
    /// The requested seats another booking holds (sorted).
    pub taken: Vec<String>,
    /// The user's live seats on the showtime, in bookings other than this hold's.
    pub user_seats: i64,
}

/// Reads why a hold inserted no booking; `None` when the showtime does not exist.
///
/// # Errors
/// Database errors.
pub async fn hold_refusal(c: &ClientWrapper, hold: &NewHold) -> Result<Option<HoldRefusal>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::HOLD_REFUSAL).await?;
    let rows = c.query(&stmt, &[&hold.region, &hold.showtime, &hold.labels, &hold.user, &hold.id]).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let mut kinds = HashMap::with_capacity(rows.len());
    for row in &rows {
        if let Some(label) = row.try_get::<_, Option<String>>("seat_label")? {
            let kind: String = row.try_get("kind")?;
            // seats_kind_check admits only the four kinds.
            kinds.insert(label, kind.parse().unwrap_or(SeatKind::Standard));
        }
    }
    Ok(Some(HoldRefusal {
        now: first.try_get("now")?,
        status: first.try_get("status")?,
        start_time: first.try_get("start_time")?,
        kinds,
        taken: first.try_get("taken")?,
        user_seats: first.try_get("user_seats")?,
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
            &[claim.region, &claim.user, &claim.key, &claim.request_hash, &status, &body, &claim.abandon_after_secs],
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
    let Some(row) = c.query_opt(&stmt, &[region, &user, &key]).await? else { return Ok(None) };
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
    c.execute(&stmt, &[region, &user, &key, &i32::from(status), &Json(body)]).await?;
    Ok(())
}

/// [`complete_key`] and COMMIT in one round trip ([`Tx::commit_with`]).
///
/// # Errors
/// Database errors; [`TxError::Commit`] when COMMIT failed.
pub async fn complete_key_and_commit<E>(
    tx: &Tx,
    region: &Region,
    user: UserId,
    key: &str,
    status: u16,
    body: &Value,
) -> Result<(), TxError<E>> {
    let params: [&(dyn ToSql + Sync); 5] = [region, &user, &key, &i32::from(status), &Json(body)];
    tx.commit_with(&[(q::IDEMPOTENCY_COMPLETE, &params[..])]).await?;
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
    c.execute(&stmt, &[region, &user, &key]).await?;
    Ok(())
}

/// A claimed seat: its label, and the booking whose lapsed claim was taken over, if any.
pub type Claimed = (String, Option<BookingId>);

/// Claims seats for a booking (see `claim_seats.sql`); `hold_expires_at` `None` claims them for good.
///
/// # Errors
/// Database errors.
pub async fn claim_seats(
    c: &ClientWrapper,
    region: &Region,
    showtime: ShowtimeId,
    labels: &[String],
    booking: BookingId,
    hold_expires_at: Option<OffsetDateTime>,
) -> Result<Vec<Claimed>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::CLAIM_SEATS).await?;
    let rows = c.query(&stmt, &[region, &showtime, &labels, &booking, &hold_expires_at]).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// A hold to write (see `hold.sql`; `hold_batch.sql` for a batch), owned: it waits in a queue of `booking::combine`
/// as it is.
#[derive(Debug, Clone)]
pub struct NewHold {
    /// The showtime's region.
    pub region: Region,
    /// The booking's id (made by the service).
    pub id: BookingId,
    /// The caller.
    pub user: UserId,
    /// The showtime.
    pub showtime: ShowtimeId,
    /// Seat labels, distinct and sorted.
    pub labels: Vec<String>,
    /// Hold TTL in seconds.
    pub ttl_secs: f64,
    /// The per-user cap of seats on a showtime.
    pub cap: i64,
}

/// The booking a hold inserted, as `hold.sql` returns it.
#[derive(Debug, Clone)]
pub struct HeldRow {
    /// Seats with their prices.
    pub seats: Vec<PricedSeat>,
    /// Sum of the prices.
    pub total: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// End of the hold.
    pub hold_expires_at: OffsetDateTime,
    /// Creation time (the transaction's clock).
    pub created_at: OffsetDateTime,
    /// The seats and, for each lapsed claim taken over, its previous booking.
    pub claimed: Vec<Claimed>,
}

/// What the writes of a hold report.
#[derive(Debug, Clone)]
pub struct HoldWrites {
    /// `Some(true)`: the key was claimed; `Some(false)`: it exists; `None`: no key.
    pub key_claimed: Option<bool>,
    /// The booking; `None` when the hold was refused (`hold.sql` inserted nothing, or failed on the claims' foreign
    /// key: `hold_refusal.sql` tells why).
    pub booking: Option<HeldRow>,
}

/// The writes of a hold (`hold.sql`, all or nothing). Without an idempotency key they are committed in the same
/// round trip as the statement (BEGIN, the hold, COMMIT: one write, one wait); with one, the key is claimed in flight
/// in the same round trip and the caller commits after answering the key.
///
/// # Errors
/// Database errors; [`TxError::Commit`] when the COMMIT sent with the hold failed.
pub async fn hold_writes<E>(tx: &Tx, key: Option<KeyClaim<'_>>, hold: &NewHold) -> Result<HoldWrites, TxError<E>> {
    let held = hold_params(hold);
    let (status, body): (Option<i32>, Option<Json<&Value>>) = (None, None);
    let key_params = key.as_ref().map(|k| key_claim_params(k, &status, &body));
    let (key_claimed, rows) = match &key_params {
        None => match tx.commit_with(&[(q::HOLD, &held[..])]).await {
            Ok(mut results) => (None, results.pop().unwrap_or_default()),
            Err(TxError::Db(e)) if hold_refused(&e) => (None, Vec::new()),
            Err(e) => return Err(e),
        },
        // Not `pipeline`: the key's verdict is needed even when the hold failed (a replay must not become a 409).
        Some(params) => {
            let claim = tx.prepare_cached(q::IDEMPOTENCY_CLAIM).await?;
            let hold_statement = tx.prepare_cached(q::HOLD).await?;
            let (claimed_key, rows) = join(tx.query(&claim, params), tx.query(&hold_statement, &held)).await;
            let rows = match rows {
                Err(e) if hold_refused(&e) => Vec::new(),
                other => other?,
            };
            (Some(!claimed_key?.is_empty()), rows)
        }
    };
    Ok(HoldWrites { key_claimed, booking: held_row(&rows)? })
}

/// The holds of a batch (`booking::combine`) in one transaction of one round trip: BEGIN, `hold_batch.sql` (every
/// hold in one statement), COMMIT. Each hold is all or nothing, and so is the batch: `Ok(None)` when a hold claimed
/// seats but was refused (the claims' foreign key failed the statement, and the transaction rolled back with every
/// other hold of the batch). A hold that claimed nothing inserted nothing and failed nothing: its entry is `None`
/// and the others commit. The holds are of one region, none shares a seat with another, none has the user and
/// showtime of another, and they are in lock order (see `booking::combine`).
///
/// # Errors
/// Database errors; [`TxError::Commit`] when the COMMIT failed.
pub async fn hold_batch<E>(tx: &Tx, holds: &[&NewHold]) -> Result<Option<Vec<Option<HeldRow>>>, TxError<E>> {
    let Some(batch) = BatchParams::new(holds) else { return Ok(Some(Vec::new())) };
    let params = batch.params();
    let rows = match tx.commit_with(&[(q::HOLD_BATCH, &params[..])]).await {
        Ok(mut results) => results.pop().unwrap_or_default(),
        Err(TxError::Db(e)) if hold_refused(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut by_booking: HashMap<BookingId, Vec<Row>> = HashMap::with_capacity(holds.len());
    for row in rows {
        by_booking.entry(row.try_get("booking_id")?).or_default().push(row);
    }
    let held = batch
        .ids
        .iter()
        .map(|id| by_booking.remove(id).map_or(Ok(None), |rows| held_row(&rows)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(Some(held))
}

/// `hold_batch.sql`'s parameters, owned: one array a column, the seats of every hold in one array.
struct BatchParams<'a> {
    region: &'a Region,
    ids: Vec<BookingId>,
    users: Vec<UserId>,
    showtimes: Vec<ShowtimeId>,
    counts: Vec<i64>,
    owners: Vec<i64>,
    labels: Vec<&'a str>,
    ttl_secs: f64,
    cap: i64,
}

impl<'a> BatchParams<'a> {
    /// The parameters of `holds`; `None` when there is none.
    fn new(holds: &[&'a NewHold]) -> Option<Self> {
        holds.first().map(|first| Self::of(first, holds))
    }

    /// `holds`, of which `first` gives the region, TTL and cap.
    fn of(first: &'a NewHold, holds: &[&'a NewHold]) -> Self {
        Self {
            region: &first.region,
            ids: holds.iter().map(|h| h.id).collect(),
            users: holds.iter().map(|h| h.user).collect(),
            showtimes: holds.iter().map(|h| h.showtime).collect(),
            counts: holds.iter().map(|h| h.labels.len() as i64).collect(),
            owners: holds
                .iter()
                .enumerate()
                .flat_map(|(i, h)| std::iter::repeat_n(i as i64 + 1, h.labels.len()))
                .collect(),
            labels: holds.iter().flat_map(|h| h.labels.iter().map(String::as_str)).collect(),
            // One service, one configuration: every hold of a batch has the same TTL and cap.
            ttl_secs: first.ttl_secs,
            cap: first.cap,
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            self.region,
            &self.ids,
            &self.users,
            &self.showtimes,
            &self.counts,
            &self.owners,
            &self.labels,
            &self.ttl_secs,
            &self.cap,
        ]
    }
}

/// `hold.sql`'s parameters.
fn hold_params(hold: &NewHold) -> [&(dyn ToSql + Sync); 7] {
    [&hold.region, &hold.id, &hold.user, &hold.showtime, &hold.labels, &hold.ttl_secs, &hold.cap]
}

/// Seats claimed but the booking refused: the claims' foreign key failed `hold.sql` (see the file).
fn hold_refused(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

/// The booking `hold.sql` inserted, from its rows (one per seat); `None` when it inserted none.
fn held_row(rows: &[Row]) -> Result<Option<HeldRow>, tokio_postgres::Error> {
    let Some(first) = rows.first() else { return Ok(None) };
    let claimed = rows
        .iter()
        .map(|row| Ok((row.try_get("seat_label")?, row.try_get("taken_from")?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    let Json(seats): Json<Vec<PricedSeat>> = first.try_get("seats")?;
    Ok(Some(HeldRow {
        seats,
        total: first.try_get("total_amount")?,
        currency: first.try_get("currency")?,
        hold_expires_at: first.try_get("hold_expires_at")?,
        created_at: first.try_get("created_at")?,
        claimed,
    }))
}

fn key_claim_params<'a>(
    k: &'a KeyClaim<'a>,
    status: &'a Option<i32>,
    body: &'a Option<Json<&'a Value>>,
) -> [&'a (dyn ToSql + Sync); 7] {
    [k.region, &k.user, &k.key, &k.request_hash, status, body, &k.abandon_after_secs]
}

/// What a transition sent together with the read of its booking found.
#[derive(Debug, Clone)]
pub struct Transition {
    /// `Some(true)`: the idempotency key was claimed; `Some(false)`: it exists; `None`: no key.
    pub key_claimed: Option<bool>,
    /// The booking as it was before the guarded write.
    pub before: Option<Found>,
    /// The booking after the guarded write, when its guard held.
    pub after: Option<Found>,
    /// `start_payment.sql`, when its guard held: the number of the charge attempt it counted.
    pub payment_attempt: Option<i32>,
}

/// The guarded writes a [`Transition`] can carry.
#[derive(Debug, Clone, Copy)]
pub enum Guarded {
    /// `start_payment.sql`: the caller's reserved, unexpired booking -> payment_pending.
    StartPayment {
        /// The caller (must own the booking).
        user: UserId,
        /// The payment window in seconds.
        window_secs: f64,
    },
    /// `cancel_hold.sql`: a reserved, unexpired booking -> canceled, for its owner or an admin.
    CancelHold {
        /// The caller.
        user: UserId,
        /// Whether the caller is an admin.
        admin: bool,
    },
}

/// Claims the key (in flight) if any, reads the booking and runs a guarded write on it, in one round trip.
///
/// # Errors
/// Database errors.
pub async fn transition(
    c: &ClientWrapper,
    key: Option<KeyClaim<'_>>,
    region: &Region,
    id: BookingId,
    guarded: Guarded,
) -> Result<Transition, tokio_postgres::Error> {
    let find: [&(dyn ToSql + Sync); 2] = [region, &id];
    let (user, window, admin) = match guarded {
        Guarded::StartPayment { user, window_secs } => (user, window_secs, false),
        Guarded::CancelHold { user, admin } => (user, 0.0, admin),
    };
    let start: [&(dyn ToSql + Sync); 4] = [region, &id, &user, &window];
    let cancel: [&(dyn ToSql + Sync); 4] = [region, &id, &user, &admin];
    let write = match guarded {
        Guarded::StartPayment { .. } => (q::START_PAYMENT, &start[..]),
        Guarded::CancelHold { .. } => (q::CANCEL_HOLD, &cancel[..]),
    };
    let (status, body): (Option<i32>, Option<Json<&Value>>) = (None, None);
    let key_params = key.as_ref().map(|k| key_claim_params(k, &status, &body));
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(3);
    if let Some(params) = &key_params {
        steps.push((q::IDEMPOTENCY_CLAIM, params));
    }
    steps.extend([(q::FIND, &find[..]), write]);
    let mut results = pipeline(c, &steps).await?.into_iter();
    let key_claimed = key_params.map(|_| results.next().is_some_and(|rows| !rows.is_empty()));
    let before = first_found(&results.next().unwrap_or_default())?;
    let written = results.next().unwrap_or_default();
    let after = first_found(&written)?;
    let payment_attempt = match (guarded, written.first()) {
        (Guarded::StartPayment { .. }, Some(row)) => Some(row.try_get("payment_attempts")?),
        _ => None,
    };
    Ok(Transition { key_claimed, before, after, payment_attempt })
}

/// Finalize tx1, second round trip: the claims get the booking's new hold (when `extended`: it moved) and charge
/// attempt number `attempt` (counted by `start_payment.sql`) is recorded.
///
/// # Errors
/// Database errors.
pub async fn extend_claims_and_record_payment(
    c: &ClientWrapper,
    booking: &Booking,
    extended: bool,
    provider: &str,
    attempt: i32,
) -> Result<(), tokio_postgres::Error> {
    let extend: [&(dyn ToSql + Sync); 3] = [&booking.region, &booking.id, &booking.hold_expires_at];
    let record: [&(dyn ToSql + Sync); 6] =
        [&booking.region, &booking.id, &provider, &booking.total, &booking.currency, &attempt];
    // The claims are rewritten only when the hold moved: an UPDATE writes a new version of each claim row even with
    // the same value, and those writes land on the leaf pages every concurrent hold of the showtime reads (the
    // payments of one showtime's buyers exhausted their retries on the resulting serialization failures).
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(2);
    if extended {
        steps.push((q::SET_CLAIMS_EXPIRY, &extend));
    }
    steps.push((pq::INSERT, &record));
    pipeline(c, &steps).await?;
    Ok(())
}

/// Resolves a charge attempt (from pending or unknown) and runs a status change on its booking, in one round trip;
/// returns whether the attempt was resolved by this call and the booking if its guard held.
///
/// `change` is `set_status.sql` (to `paid` from `payment_pending`, `expired` or `reserved`; to `canceled` from
/// `paid`) or `revert_payment.sql` (back to `reserved`).
///
/// # Errors
/// Database errors.
pub async fn resolve_and_change(
    c: &ClientWrapper,
    payment: (&Region, BookingId, i32, PaymentStatus, Option<&str>, &[PaymentStatus]),
    change: StatusChange<'_>,
) -> Result<(bool, Option<Found>), tokio_postgres::Error> {
    let (region, id, attempt, status, provider_ref, from) = payment;
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let resolve: [&(dyn ToSql + Sync); 6] = [region, &id, &attempt, &status.as_str(), &provider_ref, &from];
    let (sql, new_status, expected, hold, payment_ref) = match change {
        StatusChange::Set { status, expected, hold, payment_ref } => {
            (q::SET_STATUS, status.as_str(), expected.iter().map(|s| s.as_str()).collect(), hold, payment_ref)
        }
        StatusChange::Revert { hold } => (q::REVERT_PAYMENT, "", Vec::new(), hold, None),
    };
    let set: [&(dyn ToSql + Sync); 6] = [region, &id, &new_status, &expected, &hold, &payment_ref];
    let revert: [&(dyn ToSql + Sync); 3] = [region, &id, &hold];
    let write = if sql == q::REVERT_PAYMENT { &revert[..] } else { &set[..] };
    let results = pipeline(c, &[(pq::RESOLVE, &resolve), (sql, write)]).await?;
    let resolved = results.first().is_some_and(|rows| !rows.is_empty());
    Ok((resolved, first_found(results.get(1).map_or(&[][..], Vec::as_slice))?))
}

/// A status change for [`resolve_and_change`].
#[derive(Debug, Clone, Copy)]
pub enum StatusChange<'a> {
    /// `set_status.sql`.
    Set {
        /// New status.
        status: BookingStatus,
        /// Statuses it may come from.
        expected: &'a [BookingStatus],
        /// New hold.
        hold: Option<OffsetDateTime>,
        /// Payment reference to set.
        payment_ref: Option<&'a str>,
    },
    /// `revert_payment.sql`: back to reserved with this hold (`None`: the current one) if still in the future.
    Revert {
        /// The hold to restore.
        hold: Option<OffsetDateTime>,
    },
}

/// The response to store with an in-flight key, or `None` to release it.
pub type KeyOutcome<'a> = (&'a Region, UserId, &'a str, Option<(u16, &'a Value)>);

/// The writes that follow a committed-to transition, in one round trip: claim the seats again (`claim`: a paid
/// booking's seats for good) or release them (`claim` `None`), announce it in the outbox, and answer the key.
/// Returns the claims made (empty when releasing).
///
/// # Errors
/// Database errors.
pub async fn settle(
    c: &ClientWrapper,
    booking: &Booking,
    claim: Option<&[String]>,
    event: Option<(&str, &Value)>,
    key: Option<KeyOutcome<'_>>,
) -> Result<Vec<Claimed>, tokio_postgres::Error> {
    let no_hold: Option<OffsetDateTime> = None;
    let claim_params: [&(dyn ToSql + Sync); 5] =
        [&booking.region, &booking.showtime_id, &claim.unwrap_or_default(), &booking.id, &no_hold];
    let release_params: [&(dyn ToSql + Sync); 2] = [&booking.region, &booking.id];
    let event_values = event.map(|(topic, payload)| (topic, Json(payload)));
    let event_params: Option<[&(dyn ToSql + Sync); 3]> =
        event_values.as_ref().map(|(topic, payload)| [&booking.region as &(dyn ToSql + Sync), topic, payload]);
    let key_values = key.map(|(region, user, key, response)| {
        (region, user, key, response.map(|(status, body)| (i32::from(status), Json(body))))
    });
    let complete_params: Option<[&(dyn ToSql + Sync); 5]> = key_values.as_ref().and_then(|(region, user, key, r)| {
        r.as_ref().map(|(status, body)| [*region as &(dyn ToSql + Sync), user, key, status, body])
    });
    let release_key_params: Option<[&(dyn ToSql + Sync); 3]> = key_values
        .as_ref()
        .filter(|(_, _, _, r)| r.is_none())
        .map(|(region, user, key, _)| [*region as &(dyn ToSql + Sync), user, key]);
    let mut steps: Vec<Step<'_>> = Vec::with_capacity(3);
    match claim {
        Some(_) => steps.push((q::CLAIM_SEATS, &claim_params)),
        None => steps.push((q::DELETE_CLAIMS, &release_params)),
    }
    if let Some(params) = &event_params {
        steps.push((q::INSERT_OUTBOX, params));
    }
    if let Some(params) = &complete_params {
        steps.push((q::IDEMPOTENCY_COMPLETE, params));
    }
    if let Some(params) = &release_key_params {
        steps.push((q::IDEMPOTENCY_RELEASE, params));
    }
    let results = pipeline(c, &steps).await?;
    if claim.is_none() {
        return Ok(Vec::new());
    }
    results.first().map_or(&[][..], Vec::as_slice).iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Expires the bookings whose lapsed claims were just taken over, and deletes their other claims.
///
/// # Errors
/// Database errors.
pub async fn expire_taken_over(
    c: &ClientWrapper,
    region: &Region,
    bookings: &[BookingId],
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
    c.query_opt(&stmt, &[region, &id]).await?.as_ref().map(found_from_row).transpose()
}

/// A booking by id alone.
///
/// # Errors
/// Database errors.
pub async fn find_by_id(c: &ClientWrapper, id: BookingId) -> Result<Option<Found>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::FIND_BY_ID).await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(found_from_row).transpose()
}

/// One page of a user's bookings, newest first, after the cursor `(created_at, id)` if given; `limit` rows at most.
///
/// # Errors
/// Database errors.
pub async fn list_by_user(
    c: &ClientWrapper,
    user: UserId,
    after: Option<(OffsetDateTime, BookingId)>,
    limit: i64,
) -> Result<Vec<Found>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::LIST_BY_USER).await?;
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    let rows = c.query(&stmt, &[&user, &at, &id, &limit]).await?;
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
    c.query_opt(&stmt, &[region, &id, &status.as_str(), &expected, &hold_expires_at, &payment_ref])
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
    Ok(c.query(&stmt, &[region, &id, &hold_expires_at]).await?.len() as u64)
}

/// Releases every claim of a booking; returns how many.
///
/// # Errors
/// Database errors.
pub async fn delete_claims(c: &ClientWrapper, region: &Region, id: BookingId) -> Result<u64, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::DELETE_CLAIMS).await?;
    c.execute(&stmt, &[region, &id]).await
}

/// Whether a showtime is canceled (`showtime_state.sql`).
///
/// # Errors
/// Database errors.
pub async fn showtime_canceled(
    c: &ClientWrapper,
    region: &Region,
    showtime: ShowtimeId,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::SHOWTIME_STATE).await?;
    let Some(row) = c.query_opt(&stmt, &[region, &showtime]).await? else { return Ok(false) };
    Ok(row.try_get::<_, &str>("status")? == "canceled")
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

/// The seats among `labels` claimed live on a showtime (inside a best-available hold's transaction, before it
/// claims: `live_claims_of.sql` says why).
///
/// # Errors
/// Database errors.
pub async fn live_claims_of<E>(
    tx: &Tx,
    region: &Region,
    showtime: ShowtimeId,
    labels: &[String],
) -> Result<Vec<String>, TxError<E>> {
    let stmt = tx.prepare_cached(q::LIVE_CLAIMS_OF).await?;
    let rows = tx.query(&stmt, &[region, &showtime, &labels]).await?;
    Ok(rows.iter().map(|r| r.try_get("seat_label")).collect::<Result<_, _>>()?)
}

/// What an extension decides on (`extend_state.sql`).
#[derive(Debug, Clone)]
pub struct ExtendState {
    /// The booking's owner.
    pub user_id: UserId,
    /// Its stored status.
    pub status: BookingStatus,
    /// Its hold.
    pub hold_expires_at: Option<OffsetDateTime>,
    /// Extensions so far.
    pub extensions: u32,
    /// The showtime's stored status (`scheduled` or `canceled`).
    pub showtime_status: String,
    /// The showtime's start.
    pub start_time: OffsetDateTime,
    /// The database's clock.
    pub now: OffsetDateTime,
}

/// Reads what an extension decides on; `None`: no such booking.
///
/// # Errors
/// Database errors.
pub async fn extend_state<E>(tx: &Tx, region: &Region, id: BookingId) -> Result<Option<ExtendState>, TxError<E>> {
    let stmt = tx.prepare_cached(q::EXTEND_STATE).await?;
    let Some(row) = tx.query_opt(&stmt, &[region, &id]).await? else { return Ok(None) };
    let status: String = row.try_get("status")?;
    let extensions: i32 = row.try_get("hold_extensions")?;
    Ok(Some(ExtendState {
        user_id: UserId(row.try_get("user_id")?),
        // bookings_status_check admits only the five statuses; an unknown one would be a newer schema.
        status: status.parse().unwrap_or(BookingStatus::Canceled),
        hold_expires_at: row.try_get("hold_expires_at")?,
        extensions: u32::try_from(extensions).unwrap_or(0),
        showtime_status: row.try_get("showtime_status")?,
        start_time: row.try_get("start_time")?,
        now: row.try_get("now")?,
    }))
}

/// Extends a hold to `until`, counting the extension, and moves its claims with it, then commits: one round trip.
///
/// # Errors
/// Database errors; [`TxError::Commit`] when the COMMIT failed.
pub async fn extend_hold_and_commit<E>(
    tx: &Tx,
    region: &Region,
    id: BookingId,
    until: OffsetDateTime,
) -> Result<Option<Found>, TxError<E>> {
    let params: [&(dyn ToSql + Sync); 3] = [region, &id, &until];
    let mut results = tx.commit_with(&[(q::EXTEND_HOLD, &params), (q::SET_CLAIMS_EXPIRY, &params)]).await?;
    let booking = results.swap_remove(0);
    Ok(first_found(&booking)?)
}
