//! The booking protocol of DESIGN.md §6, step by step: each transaction runs through [`db::retry`], the payment call
//! runs between transactions, and the effects that must not be repeated by a retry (seat-cache invalidation,
//! metrics) happen after the commit.
//!
//! * Hold: first through the in-process seat gate ([`super::gate`]: a seat another hold of this process is claiming
//!   right now is refused at once); then one transaction in ONE round trip: BEGIN, `hold.sql` (claims the seats and
//!   inserts the booking with its prices from the showtime row, all or nothing: every seat claimed, the showtime
//!   open, the per-user cap kept) and COMMIT, sent together. With an Idempotency-Key, two: BEGIN, the key claimed
//!   in flight and `hold.sql`; then the key answered and COMMIT. A refused hold rolls back and `hold_refusal.sql`
//!   says why (taken seats, the cap, a closed showtime, unknown seats); if nothing is in the way by then, it runs
//!   again. Bookings whose lapsed claims the hold took over are expired in a transaction of their own, before the
//!   answer (the sweeper's job too, should that fail).
//! * Ambiguous COMMIT: the booking id is made by the service, so the outcome is established on a fresh connection by
//!   looking the booking up (and the key, when there is one); not committed means the transaction runs again, with
//!   the same booking id, so that a COMMIT that lands late can never make a second booking.
//! * Finalize: tx1 `reserved` -> `payment_pending` (hold extended by the payment window, charge attempt recorded,
//!   key claimed in flight); the charge under timeout and breaker; tx3 `paid` (seats claimed for good, outbox event,
//!   key answered) — or back to `reserved` on a decline, or left `payment_pending` (attempt `unknown`) when the
//!   provider's answer is lost: the reconciler asks the provider later and completes or releases.
//! * Cancel: `reserved` -> `canceled` in one transaction; `paid` -> refund, then `canceled`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::combine::{HoldCombiner, Outcome as BatchOutcome};
use super::gate::{Refused as GateRefusal, SeatGate};
use super::model::{
    Action, Booking, BookingId, BookingStatus, CancelStep, FinalizeStep, IdempotencyKey, KeyVerdict, Refusal,
    SeatSelection, authorize, cancel_step, check_showtime_open, check_user_cap, finalize_step, judge_key,
    unknown_seats,
};
use super::store::{self, Claimed, Found, Guarded, HeldRow, KeyClaim, NewHold, StatusChange};
use super::{BookingError, RegionCache};
use crate::auth::AuthUser;
use crate::auth::model::UserId;
use crate::cache::seats::SeatCache;
use crate::config::{BookingConfig, Config};
use crate::db::{self, Db, Region, RetryError, Tx, TxError};
use crate::error::ApiError;
use crate::payment::store::{self as payment_store, PaymentStatus};
use crate::payment::{
    Charge, ChargeRequest, ChargeStatus, GatewayError, Payments, RefundRequest, charge_key, refund_key,
};

/// A request's idempotency: its key and fingerprint ([`super::model::request_hash`]).
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The `Idempotency-Key` header.
    pub key: IdempotencyKey,
    /// Hash of method, route, user and canonical body.
    pub request_hash: String,
}

/// A response stored with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body (a booking, or a problem document).
    pub body: Value,
}

/// The answer to a request: worked out now, or replayed from its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// Worked out by this request.
    Fresh(T),
    /// The stored response of the first request with the same key.
    Replayed(StoredResponse),
}

/// Why a transaction body stopped early (rolled back).
#[derive(Debug)]
enum Stop {
    /// A business refusal.
    Refused(BookingError),
    /// The key exists with a stored response for the same request.
    Replay(StoredResponse),
    /// The hold's booking id exists: an earlier attempt whose COMMIT looked lost did commit.
    AlreadyCommitted,
    /// The hold inserted no booking; what stood in its way is read after the rollback.
    NotHeld,
    /// The hold's idempotency key exists; its verdict is read after the rollback.
    KeyTaken,
}

impl From<BookingError> for Stop {
    fn from(err: BookingError) -> Self {
        Self::Refused(err)
    }
}

impl From<Refusal> for Stop {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(BookingError::Refused(refusal))
    }
}

fn abort<T>(stop: impl Into<Stop>) -> Result<T, TxError<Stop>> {
    Err(TxError::Abort(stop.into()))
}

fn to_json(value: &impl serde::Serialize) -> Result<Value, TxError<Stop>> {
    serde_json::to_value(value).or_else(|e| abort(BookingError::Internal(e.into())))
}

/// A hold to make.
#[derive(Debug, Clone)]
pub struct HoldCommand {
    /// The caller.
    pub user: UserId,
    /// The showtime.
    pub showtime: Uuid,
    /// The seats.
    pub seats: SeatSelection,
    /// Its idempotency, if the client sent a key.
    pub idempotency: Option<Idempotency>,
}

/// A payment to make.
#[derive(Debug, Clone)]
pub struct FinalizeCommand {
    /// The caller.
    pub caller: AuthUser,
    /// The booking.
    pub booking: BookingId,
    /// The client's payment token.
    pub token: String,
    /// Its idempotency, if the client sent a key.
    pub idempotency: Option<Idempotency>,
}

/// A cancellation to make.
#[derive(Debug, Clone)]
pub struct CancelCommand {
    /// The caller.
    pub caller: AuthUser,
    /// The booking.
    pub booking: BookingId,
    /// Its idempotency, if the client sent a key.
    pub idempotency: Option<Idempotency>,
}

/// What a sweeper or reconciler run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Bookings changed (expired; or paid/released/refunded).
    pub resolved: u64,
    /// Items left for a later run (provider unreachable, contention).
    pub deferred: u64,
}

/// A successful hold, before its post-commit effects.
struct Held {
    booking: Booking,
    /// The bookings whose lapsed claims it took over.
    taken_over: Vec<Uuid>,
    /// The seat cache of its showtime was invalidated after the commit already (by its batch: booking::combine).
    cache_invalidated: bool,
}

/// What finalize's first transaction decided.
enum Start {
    AlreadyPaid(Booking),
    Charge { booking: Booking, attempt: i32, original_hold: Option<OffsetDateTime> },
}

/// What cancel's first transaction decided.
enum CancelStart {
    Done { booking: Booking, released: bool },
    NeedsRefund { booking: Booking, attempt: i32, charge_id: String, amount: i64 },
}

/// Why completing a paid booking stopped.
#[derive(Debug)]
enum Completion {
    /// Someone else (the request or the reconciler) resolved this attempt first.
    AlreadyResolved,
    /// The seats cannot be had (taken over after the hold lapsed, or the booking ended): refund.
    Refund,
    /// The booking does not exist.
    Missing,
}

/// The idempotency key of a request in flight, for completing or releasing it later.
#[derive(Debug, Clone, Copy)]
struct KeyRef<'a> {
    user: UserId,
    key: &'a str,
}

impl Idempotency {
    fn key_ref(&self, user: UserId) -> KeyRef<'_> {
        KeyRef { user, key: self.key.as_str() }
    }
}

/// The booking protocol with what it needs: the pools, the seat cache (to invalidate), the payment provider and the
/// limits. Shared by the HTTP handlers and the worker.
pub struct BookingService {
    pub(super) db: Db,
    /// The same pools with a larger retry budget, for the transactions of a payment (money about to move or moved).
    patient: Db,
    /// The seat cache, which every commit that changes claims invalidates.
    seats: SeatCache,
    payments: Arc<Payments>,
    hold_ttl: Duration,
    limits: BookingConfig,
    payment_window: Duration,
    /// An in-flight idempotency key older than this was abandoned (see `idempotency_claim.sql`).
    abandon_after: Duration,
    showtime_regions: RegionCache,
    booking_regions: RegionCache,
    /// Seats being claimed by holds of this process (`None`: disabled by configuration).
    gate: Option<SeatGate>,
    /// Group commit of holds waiting for a write connection (`None`: disabled by configuration).
    combiner: Option<Arc<HoldCombiner>>,
}

impl std::fmt::Debug for BookingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookingService")
            .field("payments", &self.payments)
            .field("hold_ttl", &self.hold_ttl)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

const REGION_CACHE_CAPACITY: usize = 100_000;

impl BookingService {
    /// The service with the configured payment provider.
    pub fn new(db: Db, seats: SeatCache, config: &Config) -> Self {
        let mut patient = db.clone();
        patient.retry_policy.max_attempts = patient.retry_policy.max_attempts.saturating_mul(4);
        let combiner = (config.booking.hold_batch_max > 1)
            .then(|| HoldCombiner::new(db.clone(), seats.clone(), config.booking.hold_batch_max));
        Self {
            db,
            patient,
            seats,
            payments: Arc::new(Payments::from_config(&config.payment)),
            hold_ttl: config.hold_ttl,
            limits: config.booking,
            payment_window: config.payment.window,
            abandon_after: config.worker.reconcile_after,
            showtime_regions: RegionCache::new(REGION_CACHE_CAPACITY),
            booking_regions: RegionCache::new(REGION_CACHE_CAPACITY),
            gate: config.booking.seat_gate.then(|| SeatGate::new(config.booking.seat_gate_memory)),
            combiner,
        }
    }

    /// The payment provider, as wrapped.
    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    /// The booking limits.
    pub fn limits(&self) -> BookingConfig {
        self.limits
    }

    /// The seat gate, when enabled.
    pub fn gate(&self) -> Option<&SeatGate> {
        self.gate.as_ref()
    }

    /// Group commit of holds, when enabled.
    pub fn combiner(&self) -> Option<&HoldCombiner> {
        self.combiner.as_deref()
    }

    async fn showtime_region(&self, showtime: Uuid) -> Result<Option<Region>, BookingError> {
        self.showtime_regions
            .get_or_fetch(showtime, || async {
                let client = self.db.write.get().await?;
                Ok::<_, BookingError>(store::showtime_region(&client, showtime).await?)
            })
            .await
    }

    async fn booking_region(&self, booking: BookingId) -> Result<Region, BookingError> {
        let region = self
            .booking_regions
            .get_or_fetch(booking.0, || async {
                let client = self.db.write.get().await?;
                Ok::<_, BookingError>(store::booking_region(&client, booking).await?)
            })
            .await?;
        Ok(region.ok_or(Refusal::NotFound)?)
    }

    /// After a commit that released claims of `showtime`: the seat gate forgets the seats it remembers as claimed,
    /// and the seat cache's invalidation is queued.
    pub(super) fn after_claims_changed(&self, showtime: Uuid) {
        if let Some(gate) = &self.gate {
            gate.forget(showtime);
        }
        self.seats.invalidate(showtime);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Hold
    // ---------------------------------------------------------------------------------------------------------------

    /// Holds seats (DESIGN.md §6 "Hold").
    ///
    /// # Errors
    /// Unknown showtime or seats, closed showtime, seats unavailable, the per-user cap, a key reused for another
    /// request; database failures.
    pub async fn hold(&self, cmd: &HoldCommand) -> Result<Answer<Booking>, BookingError> {
        let result = self.hold_inner(cmd).await;
        let outcome = match &result {
            Ok(Answer::Fresh(_)) => "held",
            Ok(Answer::Replayed(_)) => "replayed",
            Err(BookingError::SeatsUnavailable(_)) => "conflict",
            Err(BookingError::Contended(_) | BookingError::Unavailable(_) | BookingError::Internal(_)) => "error",
            Err(_) => "rejected",
        };
        metrics::counter!("boxoffice_bookings_total", "outcome" => outcome).increment(1);
        result
    }

    async fn hold_inner(&self, cmd: &HoldCommand) -> Result<Answer<Booking>, BookingError> {
        let labels = cmd.seats.as_strings();
        // Held until the hold is over (committed, refused or failed): see booking::gate.
        let mut pass = match &self.gate {
            Some(gate) => {
                let key = cmd.idempotency.as_ref().map(|i| i.key.as_str());
                Some(gate.enter(cmd.showtime, &labels, cmd.user, key).map_err(|refused| match refused {
                    GateRefusal::Busy(seats) => BookingError::SeatsUnavailable(seats),
                    GateRefusal::SameKey => BookingError::KeyInFlight,
                })?)
            }
            None => None,
        };
        let region = self.showtime_region(cmd.showtime).await?.ok_or(BookingError::UnknownShowtime)?;
        // Made once for all attempts: a COMMIT whose outcome was lost, landing late, conflicts with any rerun on
        // this primary key instead of making a second booking.
        let hold = NewHold {
            region: &region,
            id: BookingId::new(),
            user: cmd.user,
            showtime: cmd.showtime,
            labels: &labels,
            ttl_secs: self.hold_ttl.as_secs_f64(),
            cap: i64::try_from(self.limits.max_seats_per_user_showtime).unwrap_or(i64::MAX),
        };
        // Every write connection busy: the first attempt goes with a batch (booking::combine). Its outcome reads as
        // an attempt of this hold's own: a batch that committed nothing is run again here, alone.
        let mut batched = match &self.combiner {
            Some(combiner) if cmd.idempotency.is_none() && combiner.busy(&region) => {
                Some(combiner.submit(hold.into()).await)
            }
            _ => None,
        };
        let (mut unknown_commits, mut reruns) = (0, 0);
        loop {
            let result = match batched.take() {
                Some(BatchOutcome::Committed(Some(row))) => {
                    Ok(Held { cache_invalidated: true, ..self.held(hold, cmd, row) })
                }
                Some(BatchOutcome::Committed(None)) => Err(RetryError::Aborted(Stop::NotHeld)),
                Some(BatchOutcome::Unknown) => Err(RetryError::Aborted(Stop::AlreadyCommitted)),
                Some(BatchOutcome::Alone) | None => {
                    db::retry(&self.db, "hold", |tx| self.hold_body(tx, hold, cmd)).await
                }
            };
            let uncertainty = match result {
                Ok(held) => {
                    self.after_hold(&held.booking, &held.taken_over, held.cache_invalidated).await;
                    if let (Some(pass), Some(expires)) = (pass.take(), held.booking.hold_expires_at) {
                        pass.claimed(instant_at(expires));
                    }
                    return Ok(Answer::Fresh(held.booking));
                }
                Err(RetryError::Aborted(Stop::Replay(stored))) => return Ok(Answer::Replayed(stored)),
                Err(RetryError::Aborted(Stop::Refused(err))) => return Err(err),
                Err(RetryError::Aborted(Stop::NotHeld)) => {
                    // After a COMMIT whose outcome was lost, the first attempt may have committed after all.
                    if unknown_commits > 0
                        && let Some(answer) = self.hold_outcome(hold, cmd).await?
                    {
                        return Ok(self.committed_after_all(answer).await);
                    }
                    if let Some(refusal) = self.why_not_held(hold, cmd).await? {
                        return Err(refusal);
                    }
                    // Nothing is in the way any more (what was taken was released meanwhile): hold again.
                    hold_again(&mut reruns, hold.id)?;
                    continue;
                }
                Err(RetryError::Aborted(Stop::KeyTaken)) => {
                    if let Some(answer) = self.key_answer(hold, cmd).await? {
                        return answer;
                    }
                    // The key expired meanwhile: hold again.
                    hold_again(&mut reruns, hold.id)?;
                    continue;
                }
                Err(RetryError::Aborted(Stop::AlreadyCommitted)) => None,
                Err(err @ RetryError::AmbiguousCommit { .. }) => Some(err),
                Err(err) => return Err(BookingError::from_retry(err)),
            };
            if let Some(answer) = self.hold_outcome(hold, cmd).await? {
                return Ok(self.committed_after_all(answer).await);
            }
            // Not committed: run again (same id). Bounded, in case the database keeps dropping COMMITs.
            unknown_commits += 1;
            if unknown_commits >= 3 {
                let err = uncertainty.map_or_else(
                    || {
                        BookingError::Unavailable(anyhow::anyhow!(
                            "hold {}: outcome unknown after {unknown_commits} tries",
                            hold.id
                        ))
                    },
                    BookingError::from_retry,
                );
                return Err(err);
            }
            tracing::warn!(booking = %hold.id, "hold: COMMIT outcome was unknown and it did not commit; running it again");
        }
    }

    /// One attempt of a hold (DESIGN.md §6 "Hold"): `hold.sql` claims the seats and inserts the booking, all or
    /// nothing. Without an Idempotency-Key that is the whole transaction, committed in the same round trip as
    /// BEGIN and the statement. With one, the key is claimed in flight in that round trip, and answered in the
    /// round trip of the COMMIT.
    async fn hold_body(&self, tx: Arc<Tx>, hold: NewHold<'_>, cmd: &HoldCommand) -> Result<Held, TxError<Stop>> {
        let key = cmd.idempotency.as_ref().map(|idem| self.in_flight(hold.region, cmd.user, idem));
        let writes = match store::hold_writes(&tx, key, hold).await {
            Ok(writes) => writes,
            Err(TxError::Db(e)) if is_booking_pkey_violation(&e) => return abort(Stop::AlreadyCommitted),
            Err(e) => return Err(e),
        };
        if writes.key_claimed == Some(false) {
            return abort(Stop::KeyTaken);
        }
        let Some(row) = writes.booking else { return abort(Stop::NotHeld) };
        let held = self.held(hold, cmd, row);
        if let Some(idem) = &cmd.idempotency {
            let body = to_json(&held.booking)?;
            store::complete_key_and_commit(&tx, hold.region, cmd.user, idem.key.as_str(), 201, &body).await?;
        }
        Ok(held)
    }

    /// The booking `hold.sql` inserted, and the bookings whose lapsed claims it took over.
    fn held(&self, hold: NewHold<'_>, cmd: &HoldCommand, row: HeldRow) -> Held {
        let booking = Booking {
            region: hold.region.clone(),
            id: hold.id,
            user_id: cmd.user,
            showtime_id: cmd.showtime,
            status: BookingStatus::Reserved,
            seats: row.seats,
            total: row.total,
            currency: row.currency,
            hold_expires_at: Some(row.hold_expires_at),
            payment_ref: None,
            created_at: row.created_at,
            updated_at: row.created_at,
        };
        Held { taken_over: previous_owners(&row.claimed, hold.id), booking, cache_invalidated: false }
    }

    /// Why `hold.sql` inserted no booking, read after its transaction: an unknown showtime, a closed one, seats its
    /// screen lacks, seats another booking holds, or the per-user cap. `None`: nothing is in the way any more.
    async fn why_not_held(&self, hold: NewHold<'_>, cmd: &HoldCommand) -> Result<Option<BookingError>, BookingError> {
        let client = self.db.write.get().await?;
        let Some(refusal) = store::hold_refusal(&client, hold).await? else {
            return Ok(Some(BookingError::UnknownShowtime));
        };
        if let Err(closed) = check_showtime_open(&refusal.status, refusal.start_time, refusal.now) {
            return Ok(Some(BookingError::ShowtimeClosed(closed)));
        }
        let unknown = unknown_seats(&cmd.seats, &refusal.kinds);
        if !unknown.is_empty() {
            return Ok(Some(BookingError::UnknownSeats(unknown)));
        }
        if !refusal.taken.is_empty() {
            return Ok(Some(BookingError::SeatsUnavailable(refusal.taken)));
        }
        let requested = hold.labels.len();
        let live_after = refusal.user_seats.saturating_add(i64::try_from(requested).unwrap_or(i64::MAX));
        Ok(check_user_cap(live_after, requested, self.limits.max_seats_per_user_showtime)
            .err()
            .map(|(limit, already_held)| BookingError::SeatLimit { limit, already_held }))
    }

    /// After a hold committed: expires the bookings whose lapsed claims it took over, in a transaction of their own
    /// (the hold's was committed in one round trip, before anyone knew of the takeover). Until then they are lapsed
    /// holds, which block nothing (I4); should this fail, the sweeper expires them. Then the seat cache and metrics.
    async fn after_hold(&self, booking: &Booking, taken_over: &[Uuid], cache_invalidated: bool) {
        self.booking_regions.insert(booking.id.0, booking.region.clone());
        if !taken_over.is_empty() {
            let region = &booking.region;
            let expired = db::retry(&self.db, "expire_taken_over", |tx| async move {
                store::expire_taken_over(&tx, region, taken_over).await.map_err(TxError::<()>::Db)
            })
            .await;
            match expired {
                Ok(()) => metrics::counter!("boxoffice_holds_expired_total", "by" => "takeover")
                    .increment(taken_over.len() as u64),
                Err(err) => {
                    tracing::warn!(booking = %booking.id, error = %err, "taken-over holds not expired; the sweeper will");
                }
            }
        }
        // Expiring a taken-over booking releases its other claims: after that, whatever the batch did.
        if !taken_over.is_empty() {
            self.after_claims_changed(booking.showtime_id);
        } else if !cache_invalidated {
            self.seats.invalidate(booking.showtime_id);
        }
        metrics::counter!("boxoffice_seats_claimed_total").increment(booking.seats.len() as u64);
    }

    /// A hold found committed after a COMMIT whose outcome was lost: its post-commit effects, once.
    async fn committed_after_all(&self, answer: Answer<Booking>) -> Answer<Booking> {
        if let Answer::Fresh(booking) = &answer {
            self.after_hold(booking, &[], false).await;
        }
        answer
    }

    /// After a COMMIT whose outcome is unknown: did the hold commit? Asked on a fresh connection.
    async fn hold_outcome(
        &self,
        hold: NewHold<'_>,
        cmd: &HoldCommand,
    ) -> Result<Option<Answer<Booking>>, BookingError> {
        let client = self.db.write.get().await?;
        if let Some(found) = store::find(&client, hold.region, hold.id).await? {
            return Ok(Some(Answer::Fresh(found.booking.as_seen_at(found.now))));
        }
        drop(client);
        // Not this attempt's booking; the key may still answer for an earlier request with the same key.
        self.key_answer(hold, cmd).await?.transpose()
    }

    /// The verdict of the request's idempotency key as stored now: its response replayed, or the refusal of a key
    /// reused for another request or still in flight. `None`: no key, or it is gone.
    async fn key_answer(
        &self,
        hold: NewHold<'_>,
        cmd: &HoldCommand,
    ) -> Result<Option<Result<Answer<Booking>, BookingError>>, BookingError> {
        let Some(idem) = &cmd.idempotency else { return Ok(None) };
        let client = self.db.write.get().await?;
        let Some(stored) = store::find_key(&client, hold.region, cmd.user, idem.key.as_str()).await? else {
            return Ok(None);
        };
        Ok(Some(match judge_key(&stored.request_hash, stored.response, &idem.request_hash) {
            KeyVerdict::Replay { status, body } => Ok(Answer::Replayed(StoredResponse { status, body })),
            KeyVerdict::Reused => Err(BookingError::KeyReused),
            KeyVerdict::InFlight => Err(BookingError::KeyInFlight),
        }))
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Finalize
    // ---------------------------------------------------------------------------------------------------------------

    /// Pays for a held booking (DESIGN.md §6 "Finalize").
    ///
    /// # Errors
    /// Not found / not allowed, expired hold, payment under way, decline, provider timeout or failure, paused
    /// payments, key reuse; database failures.
    pub async fn finalize(&self, cmd: &FinalizeCommand) -> Result<Answer<Booking>, BookingError> {
        let region = self.booking_region(cmd.booking).await?;
        if let Some(retry_after) = self.payments.breaker().open_for() {
            // Fail fast, touching nothing: no charge would be attempted anyway.
            metrics::counter!("boxoffice_bookings_total", "outcome" => "payment_failed").increment(1);
            return Err(BookingError::PaymentPaused { retry_after });
        }
        // The patient budget: a payment the buyer is waiting on should not fail for contention with other buyers'
        // holds of the same showtime (page-granular SERIALIZABLE conflicts on PostgreSQL; the load run's k6 booking
        // scenario saw 17% of finalizes exhaust the default 8 attempts).
        let start = db::retry(&self.patient, "finalize_start", |tx| self.finalize_start(tx, &region, cmd)).await;
        let (booking, attempt, original_hold) = match start {
            Ok(Start::AlreadyPaid(booking)) => return Ok(Answer::Fresh(booking)),
            Ok(Start::Charge { booking, attempt, original_hold }) => (booking, attempt, original_hold),
            Err(RetryError::Aborted(Stop::Replay(stored))) => return Ok(Answer::Replayed(stored)),
            Err(RetryError::Aborted(Stop::Refused(err))) => return Err(err),
            Err(err) => return Err(BookingError::from_retry(err)),
        };
        let key = cmd.idempotency.as_ref().map(|i| i.key_ref(cmd.caller.id));
        let request = ChargeRequest {
            idempotency_key: charge_key(booking.id.0, attempt),
            amount: booking.total,
            currency: booking.currency.clone(),
            token: cmd.token.clone(),
        };
        let charged = self.payments.charge(request).await;
        if !matches!(charged, Ok(Charge { status: ChargeStatus::Succeeded, .. })) {
            metrics::counter!("boxoffice_bookings_total", "outcome" => "payment_failed").increment(1);
        }
        match charged {
            Ok(Charge { status: ChargeStatus::Succeeded, id: charge_id, .. }) => {
                self.complete_paid(&region, booking.id, attempt, &charge_id, booking.total, key).await
            }
            Ok(Charge { status: ChargeStatus::Declined { reason }, id: charge_id, .. }) => {
                let err = BookingError::Declined { reason };
                let stored = StoredResponse { status: 402, body: ApiError::from(clone_declined(&err)).body() };
                self.release_payment(
                    &region,
                    booking.id,
                    attempt,
                    PaymentStatus::Declined,
                    Some(&charge_id),
                    original_hold,
                    key,
                    Some(stored),
                )
                .await?;
                Err(err)
            }
            Ok(Charge { status: ChargeStatus::Failed, .. }) => {
                self.release_payment(
                    &region,
                    booking.id,
                    attempt,
                    PaymentStatus::Failed,
                    None,
                    original_hold,
                    key,
                    None,
                )
                .await?;
                Err(BookingError::PaymentProvider("the provider reported the charge as failed".into()))
            }
            Err(GatewayError::Rejected(why)) => {
                self.release_payment(
                    &region,
                    booking.id,
                    attempt,
                    PaymentStatus::Failed,
                    None,
                    original_hold,
                    key,
                    None,
                )
                .await?;
                Err(BookingError::PaymentProvider(format!("the provider refused the charge request: {why}")))
            }
            Err(GatewayError::CircuitOpen { retry_after }) => {
                // Nothing was attempted: the hold goes back as it was.
                self.release_payment(
                    &region,
                    booking.id,
                    attempt,
                    PaymentStatus::Failed,
                    None,
                    original_hold,
                    key,
                    None,
                )
                .await?;
                Err(BookingError::PaymentPaused { retry_after })
            }
            Err(GatewayError::Timeout) => {
                self.payment_unknown(&region, booking.id, attempt, key).await?;
                Err(BookingError::PaymentTimeout)
            }
            Err(GatewayError::Unavailable(why)) => {
                self.payment_unknown(&region, booking.id, attempt, key).await?;
                Err(BookingError::PaymentProvider(why))
            }
        }
    }

    async fn finalize_start(
        &self,
        tx: Arc<Tx>,
        region: &Region,
        cmd: &FinalizeCommand,
    ) -> Result<Start, TxError<Stop>> {
        let guarded = Guarded::StartPayment { user: cmd.caller.id, window_secs: self.payment_window.as_secs_f64() };
        let idem = cmd.idempotency.as_ref();
        let (Found { booking, now }, after, attempt) =
            self.guarded_start(&tx, region, &cmd.caller, idem, cmd.booking, guarded, Action::Pay).await?;
        match finalize_step(booking.status, booking.hold_expires_at, now).or_else(abort)? {
            FinalizeStep::AlreadyPaid => {
                let view = booking.as_seen_at(now);
                answer_key(&tx, region, cmd.caller.id, idem, &view).await?;
                Ok(Start::AlreadyPaid(view))
            }
            FinalizeStep::Charge => {
                let (Some(started), Some(attempt)) = (after, attempt) else {
                    return abort(disagreement(booking.id, "start_payment"));
                };
                let extended = started.booking.hold_expires_at != booking.hold_expires_at;
                let provider = self.payments.provider();
                store::extend_claims_and_record_payment(&tx, &started.booking, extended, provider, attempt).await?;
                Ok(Start::Charge { booking: started.booking, attempt, original_hold: booking.hold_expires_at })
            }
        }
    }

    /// The start shared by the guarded changes (pay, cancel), in one round trip: the key claimed in flight (with
    /// one) and the guarded write tried; then a key already used is answered from what it recorded, a missing booking
    /// is not found, and the caller must be allowed `action`. Returns the booking as it was and, when the write's
    /// guard held, as it is now, with the charge attempt `start_payment.sql` counted.
    #[allow(clippy::too_many_arguments)]
    async fn guarded_start(
        &self,
        tx: &Tx,
        region: &Region,
        caller: &AuthUser,
        idem: Option<&Idempotency>,
        id: BookingId,
        guarded: Guarded,
        action: Action,
    ) -> Result<(Found, Option<Found>, Option<i32>), TxError<Stop>> {
        let key = idem.map(|idem| self.in_flight(region, caller.id, idem));
        let t = store::transition(tx, key, region, id, guarded).await?;
        check_claimed(tx, region, caller.id, idem, t.key_claimed).await?;
        let Some(before) = t.before else { return abort(Refusal::NotFound) };
        authorize(before.booking.user_id, caller.id, caller.is_admin(), action).or_else(abort)?;
        Ok((before, t.after, t.payment_attempt))
    }

    /// An in-flight claim of `idem` (NULL response).
    fn in_flight<'a>(&self, region: &'a Region, user: UserId, idem: &'a Idempotency) -> KeyClaim<'a> {
        KeyClaim {
            region,
            user,
            key: idem.key.as_str(),
            request_hash: &idem.request_hash,
            response: None,
            abandon_after_secs: self.abandon_after.as_secs_f64(),
        }
    }

    /// tx3 of finalize, also the reconciler's completion of a charge found succeeded: the booking becomes `paid`
    /// with its seats claimed for good (re-claimed if its hold lapsed meanwhile and nobody took them), an outbox
    /// event, and the key's response; if the seats cannot be had, the charge is refunded.
    async fn complete_paid(
        &self,
        region: &Region,
        id: BookingId,
        attempt: i32,
        charge_id: &str,
        amount: i64,
        key: Option<KeyRef<'_>>,
    ) -> Result<Answer<Booking>, BookingError> {
        // A charge has been taken: giving up here means a 503 and a wait for the reconciler, so this transaction is
        // given a larger retry budget than the others.
        let result = db::retry(&self.patient, "finalize_complete", |tx| async move {
            let pending = [PaymentStatus::Pending, PaymentStatus::Unknown];
            let from = [BookingStatus::PaymentPending, BookingStatus::Expired, BookingStatus::Reserved];
            let (resolved, paid) = store::resolve_and_change(
                &tx,
                (region, id, attempt, PaymentStatus::Succeeded, Some(charge_id), &pending),
                StatusChange::Set {
                    status: BookingStatus::Paid,
                    expected: &from,
                    hold: None,
                    payment_ref: Some(charge_id),
                },
            )
            .await?;
            if !resolved {
                return Err(TxError::Abort(Completion::AlreadyResolved));
            }
            let Some(paid) = paid else {
                // Paid by another attempt, canceled, or gone: this charge cannot buy anything.
                return Err(TxError::Abort(match store::find(&tx, region, id).await? {
                    Some(_) => Completion::Refund,
                    None => Completion::Missing,
                }));
            };
            let view = paid.booking.as_seen_at(paid.now);
            let payload = outbox_payload(&view);
            let body = serde_json::to_value(&view).unwrap_or(Value::Null);
            let labels = view.labels();
            let key_outcome = key.map(|k| (region, k.user, k.key, Some((200, &body))));
            let claimed =
                store::settle(&tx, &view, Some(&labels), Some(("booking.paid", &payload)), key_outcome).await?;
            if claimed.len() < labels.len() {
                return Err(TxError::Abort(Completion::Refund));
            }
            let taken_over = previous_owners(&claimed, id);
            if !taken_over.is_empty() {
                store::expire_taken_over(&tx, region, &taken_over).await?;
            }
            Ok((view, taken_over.len()))
        })
        .await;
        match result {
            Ok((view, taken_over)) => {
                self.after_claims_changed(view.showtime_id);
                metrics::counter!("boxoffice_bookings_total", "outcome" => "paid").increment(1);
                if taken_over > 0 {
                    metrics::counter!("boxoffice_holds_expired_total", "by" => "takeover").increment(taken_over as u64);
                }
                Ok(Answer::Fresh(view))
            }
            Err(RetryError::Aborted(Completion::AlreadyResolved)) => {
                let client = self.db.write.get().await?;
                let found = store::find(&client, region, id).await?.ok_or(Refusal::NotFound)?;
                Ok(Answer::Fresh(found.booking.as_seen_at(found.now)))
            }
            Err(RetryError::Aborted(Completion::Missing)) => Err(Refusal::NotFound.into()),
            Err(RetryError::Aborted(Completion::Refund)) => {
                let refunded = self.refund_late_payment(region, id, attempt, charge_id, amount, key).await?;
                Err(BookingError::LapsedDuringPayment { refunded })
            }
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    /// A charge that succeeded for seats the booking no longer has: refund it, record it, and end the booking.
    /// Returns whether the refund went through (if not, the attempt stays unresolved and the reconciler retries;
    /// the refund's idempotency key makes that safe).
    async fn refund_late_payment(
        &self,
        region: &Region,
        id: BookingId,
        attempt: i32,
        charge_id: &str,
        amount: i64,
        key: Option<KeyRef<'_>>,
    ) -> Result<bool, BookingError> {
        let refund =
            RefundRequest { idempotency_key: refund_key(id.0, attempt), charge_id: charge_id.to_owned(), amount };
        let refunded = match self.payments.refund(refund).await {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(booking = %id, attempt, error = %err, "refund of a late payment failed; the reconciler retries");
                false
            }
        };
        let stored =
            StoredResponse { status: 410, body: ApiError::from(BookingError::LapsedDuringPayment { refunded }).body() };
        let result = db::retry(&self.db, "finalize_refund", |tx| {
            let stored = &stored;
            async move {
                if refunded {
                    let pending = [PaymentStatus::Pending, PaymentStatus::Unknown];
                    payment_store::resolve(
                        &tx,
                        region,
                        id.0,
                        attempt,
                        PaymentStatus::Refunded,
                        Some(charge_id),
                        &pending,
                    )
                    .await?;
                }
                let mut released = false;
                if let Some(Found { booking, .. }) = store::find(&tx, region, id).await?
                    && matches!(booking.status, BookingStatus::PaymentPending | BookingStatus::Reserved)
                {
                    let from = [BookingStatus::PaymentPending, BookingStatus::Reserved];
                    store::set_status(&tx, region, id, BookingStatus::Expired, &from, booking.hold_expires_at, None)
                        .await?;
                    released = store::delete_claims(&tx, region, id).await? > 0;
                }
                if let Some(k) = key {
                    if refunded {
                        store::complete_key(&tx, region, k.user, k.key, stored.status, &stored.body).await?;
                    } else {
                        store::release_key(&tx, region, k.user, k.key).await?;
                    }
                }
                Ok::<_, TxError<()>>(released)
            }
        })
        .await;
        match result {
            Ok(released) => {
                if released && let Ok(Some(found)) = self.find_quietly(region, id).await {
                    self.after_claims_changed(found.booking.showtime_id);
                }
                Ok(refunded)
            }
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    async fn find_quietly(&self, region: &Region, id: BookingId) -> Result<Option<Found>, BookingError> {
        let client = self.db.write.get().await?;
        Ok(store::find(&client, region, id).await?)
    }

    /// A charge known not to have taken money (declined, failed, never attempted): the attempt gets `status`, and a
    /// booking still `payment_pending` goes back to `reserved` with `restore_hold` (its hold before the payment
    /// window; `None`: keep the current one) — or to `expired`, claims released, if that hold has lapsed. The key
    /// gets `stored` as its response, or is released when there is none.
    #[expect(clippy::too_many_arguments, reason = "one transaction's inputs; a struct would only rename them")]
    async fn release_payment(
        &self,
        region: &Region,
        id: BookingId,
        attempt: i32,
        status: PaymentStatus,
        charge_ref: Option<&str>,
        restore_hold: Option<OffsetDateTime>,
        key: Option<KeyRef<'_>>,
        stored: Option<StoredResponse>,
    ) -> Result<(), BookingError> {
        let stored = &stored;
        let result = db::retry(&self.patient, "finalize_release", |tx| async move {
            let pending = [PaymentStatus::Pending, PaymentStatus::Unknown];
            let (resolved, reverted) = store::resolve_and_change(
                &tx,
                (region, id, attempt, status, charge_ref, &pending),
                StatusChange::Revert { hold: restore_hold },
            )
            .await?;
            if !resolved {
                return Ok(None);
            }
            let mut released = None;
            match reverted {
                Some(Found { booking: Booking { hold_expires_at: Some(hold), .. }, .. }) => {
                    store::set_claims_expiry(&tx, region, id, hold).await?;
                }
                _ => {
                    // Not reverted: the booking moved on, or its hold has lapsed and it ends here.
                    if let Some(Found { booking, .. }) = store::find(&tx, region, id).await?
                        && booking.status == BookingStatus::PaymentPending
                    {
                        let from = [BookingStatus::PaymentPending];
                        let hold = booking.hold_expires_at;
                        store::set_status(&tx, region, id, BookingStatus::Expired, &from, hold, None).await?;
                        store::delete_claims(&tx, region, id).await?;
                        released = Some(booking.showtime_id);
                    }
                }
            }
            if let Some(k) = key {
                match stored {
                    Some(r) => store::complete_key(&tx, region, k.user, k.key, r.status, &r.body).await?,
                    None => store::release_key(&tx, region, k.user, k.key).await?,
                }
            }
            Ok::<_, TxError<()>>(released)
        })
        .await;
        match result {
            Ok(Some(showtime)) => {
                self.after_claims_changed(showtime);
                metrics::counter!("boxoffice_holds_expired_total", "by" => "payment").increment(1);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    /// The provider's answer was lost: the attempt becomes `unknown` (the booking stays `payment_pending` for the
    /// reconciler) and the key is released so that a retry sees the booking's state rather than this error.
    async fn payment_unknown(
        &self,
        region: &Region,
        id: BookingId,
        attempt: i32,
        key: Option<KeyRef<'_>>,
    ) -> Result<(), BookingError> {
        db::retry(&self.db, "finalize_unknown", |tx| async move {
            let pending = [PaymentStatus::Pending];
            payment_store::resolve(&tx, region, id.0, attempt, PaymentStatus::Unknown, None, &pending).await?;
            if let Some(k) = key {
                store::release_key(&tx, region, k.user, k.key).await?;
            }
            Ok::<_, TxError<()>>(())
        })
        .await
        .map_err(BookingError::from_retry)
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Cancel
    // ---------------------------------------------------------------------------------------------------------------

    /// Cancels a booking (DESIGN.md §6 "Cancel"): a hold is released; a paid booking is refunded first.
    ///
    /// # Errors
    /// Not found, expired, payment under way, refund failures, key reuse; database failures.
    pub async fn cancel(&self, cmd: &CancelCommand) -> Result<Answer<Booking>, BookingError> {
        let region = &self.booking_region(cmd.booking).await?;
        let start = db::retry(&self.db, "cancel", |tx| self.cancel_start(tx, region, cmd)).await;
        let key = cmd.idempotency.as_ref().map(|i| i.key_ref(cmd.caller.id));
        let (booking, attempt, charge_id, amount) = match start {
            Ok(CancelStart::Done { booking, released }) => {
                if released {
                    self.after_claims_changed(booking.showtime_id);
                    metrics::counter!("boxoffice_bookings_total", "outcome" => "canceled").increment(1);
                }
                return Ok(Answer::Fresh(booking));
            }
            Ok(CancelStart::NeedsRefund { booking, attempt, charge_id, amount }) => {
                (booking, attempt, charge_id, amount)
            }
            Err(RetryError::Aborted(Stop::Replay(stored))) => return Ok(Answer::Replayed(stored)),
            Err(RetryError::Aborted(Stop::Refused(err))) => return Err(err),
            Err(err) => return Err(BookingError::from_retry(err)),
        };
        let refund =
            RefundRequest { idempotency_key: refund_key(booking.id.0, attempt), charge_id: charge_id.clone(), amount };
        if let Err(err) = self.payments.refund(refund).await {
            if let Some(k) = key {
                let released = db::retry(&self.db, "cancel_release_key", |tx| async move {
                    store::release_key(&tx, region, k.user, k.key).await?;
                    Ok::<_, TxError<()>>(())
                })
                .await;
                if let Err(e) = released {
                    tracing::warn!(booking = %booking.id, error = %e, "could not release the idempotency key");
                }
            }
            return Err(match err {
                GatewayError::Timeout => BookingError::PaymentTimeout,
                GatewayError::CircuitOpen { retry_after } => BookingError::PaymentPaused { retry_after },
                GatewayError::Unavailable(why) | GatewayError::Rejected(why) => BookingError::PaymentProvider(why),
            });
        }
        let booking = &booking;
        let done = db::retry(&self.patient, "cancel_refunded", |tx| async move {
            let succeeded = [PaymentStatus::Succeeded];
            let paid = [BookingStatus::Paid];
            let (_, changed) = store::resolve_and_change(
                &tx,
                (region, booking.id, attempt, PaymentStatus::Refunded, None, &succeeded),
                StatusChange::Set { status: BookingStatus::Canceled, expected: &paid, hold: None, payment_ref: None },
            )
            .await?;
            let released = changed.is_some();
            let Some(found) = (match changed {
                Some(found) => Some(found),
                None => store::find(&tx, region, booking.id).await?,
            }) else {
                return Err(TxError::Abort(()));
            };
            let view = found.booking.as_seen_at(found.now);
            let body = serde_json::to_value(&view).unwrap_or(Value::Null);
            let key_outcome = key.map(|k| (region, k.user, k.key, Some((200, &body))));
            if released {
                let payload = outbox_payload(&view);
                store::settle(&tx, &view, None, Some(("booking.canceled", &payload)), key_outcome).await?;
            } else if let Some(k) = key {
                store::complete_key(&tx, region, k.user, k.key, 200, &body).await?;
            }
            Ok((view, released))
        })
        .await;
        match done {
            Ok((view, released)) => {
                if released {
                    self.after_claims_changed(view.showtime_id);
                    metrics::counter!("boxoffice_bookings_total", "outcome" => "canceled").increment(1);
                }
                Ok(Answer::Fresh(view))
            }
            Err(RetryError::Aborted(())) => Err(Refusal::NotFound.into()),
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    async fn cancel_start(
        &self,
        tx: Arc<Tx>,
        region: &Region,
        cmd: &CancelCommand,
    ) -> Result<CancelStart, TxError<Stop>> {
        let user = cmd.caller.id;
        let guarded = Guarded::CancelHold { user, admin: cmd.caller.is_admin() };
        let idem = cmd.idempotency.as_ref();
        let (Found { booking, now }, after, _) =
            self.guarded_start(&tx, region, &cmd.caller, idem, cmd.booking, guarded, Action::Cancel).await?;
        match cancel_step(booking.status, booking.hold_expires_at, now).or_else(abort)? {
            CancelStep::AlreadyCanceled => {
                let view = booking.as_seen_at(now);
                answer_key(&tx, region, user, idem, &view).await?;
                Ok(CancelStart::Done { booking: view, released: false })
            }
            CancelStep::Release => {
                let Some(canceled) = after else { return abort(disagreement(booking.id, "cancel_hold")) };
                let view = canceled.booking.as_seen_at(canceled.now);
                let body = to_json(&view)?;
                let payload = outbox_payload(&view);
                let key_outcome =
                    cmd.idempotency.as_ref().map(|idem| (region, user, idem.key.as_str(), Some((200, &body))));
                store::settle(&tx, &view, None, Some(("booking.canceled", &payload)), key_outcome).await?;
                Ok(CancelStart::Done { booking: view, released: true })
            }
            CancelStep::RefundThenRelease => {
                let Some(payment) = payment_store::find_succeeded(&tx, region, booking.id.0).await? else {
                    return abort(disagreement(booking.id, "paid booking without a successful charge"));
                };
                Ok(CancelStart::NeedsRefund {
                    booking,
                    attempt: payment.attempt,
                    charge_id: payment.provider_ref,
                    amount: payment.amount,
                })
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Reads
    // ---------------------------------------------------------------------------------------------------------------

    /// A booking, for its owner or an admin (anyone else: not found). Read from the primary: a client reads its
    /// own writes.
    ///
    /// # Errors
    /// Not found; database failures.
    pub async fn get(&self, caller: AuthUser, id: BookingId) -> Result<Booking, BookingError> {
        let client = self.db.write.get().await?;
        let found = store::find_by_id(&client, id).await?.ok_or(Refusal::NotFound)?;
        authorize(found.booking.user_id, caller.id, caller.is_admin(), Action::View)?;
        Ok(found.booking.as_seen_at(found.now))
    }

    /// One page of a user's bookings, newest first, after `(created_at, id)`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn list(
        &self,
        user: UserId,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: usize,
    ) -> Result<(Vec<Booking>, bool), BookingError> {
        let client = self.db.write.get().await?;
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let mut rows = store::list_by_user(&client, user, after, fetch).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows.into_iter().map(|f| f.booking.as_seen_at(f.now)).collect(), more))
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Worker jobs
    // ---------------------------------------------------------------------------------------------------------------

    /// The sweeper: expires lapsed holds in batches of `batch` and releases their claims, until none is left.
    ///
    /// # Errors
    /// Database failures (what was swept before stays swept).
    pub async fn sweep_expired_holds(&self, batch: i64) -> Result<JobReport, BookingError> {
        let mut report = JobReport::default();
        loop {
            let swept = db::retry(&self.db, "sweep_expired", |tx| async move {
                Ok::<_, TxError<()>>(store::sweep_expired(&tx, batch).await?)
            })
            .await
            .map_err(BookingError::from_retry)?;
            let mut showtimes: Vec<Uuid> = swept.iter().filter(|s| s.released > 0).map(|s| s.showtime).collect();
            showtimes.sort_unstable();
            showtimes.dedup();
            for showtime in showtimes {
                self.after_claims_changed(showtime);
            }
            metrics::counter!("boxoffice_holds_expired_total", "by" => "sweeper").increment(swept.len() as u64);
            report.resolved += swept.len() as u64;
            if (swept.len() as i64) < batch {
                return Ok(report);
            }
        }
    }

    /// The reconciler: for each charge attempt unresolved for longer than `older_than`, asks the provider what
    /// happened (by the attempt's idempotency key) and completes the booking (paid, or refunded if its seats are
    /// gone) or releases it (back to `reserved`, or `expired` if the hold has lapsed).
    ///
    /// # Errors
    /// Database failures while listing the attempts; failures on one attempt are logged and left for the next run.
    pub async fn reconcile_payments(&self, older_than: Duration, batch: i64) -> Result<JobReport, BookingError> {
        let unresolved = {
            let client = self.db.write.get().await?;
            payment_store::find_unresolved(&client, older_than.as_secs_f64(), batch).await?
        };
        let mut report = JobReport::default();
        for p in unresolved {
            let id = BookingId(p.booking);
            let outcome = match self.payments.find_charge(charge_key(p.booking, p.attempt)).await {
                Ok(Some(Charge { status: ChargeStatus::Succeeded, id: charge_id, .. })) => {
                    match self.complete_paid(&p.region, id, p.attempt, &charge_id, p.amount, None).await {
                        Ok(_) | Err(BookingError::LapsedDuringPayment { refunded: true }) => Ok("paid_or_refunded"),
                        Err(BookingError::LapsedDuringPayment { refunded: false }) => Err("refund failed".to_owned()),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Ok(Some(Charge { status: ChargeStatus::Declined { .. }, id: charge_id, .. })) => self
                    .release_payment(
                        &p.region,
                        id,
                        p.attempt,
                        PaymentStatus::Declined,
                        Some(&charge_id),
                        None,
                        None,
                        None,
                    )
                    .await
                    .map(|()| "declined")
                    .map_err(|e| e.to_string()),
                Ok(Some(Charge { status: ChargeStatus::Failed, .. }) | None) => self
                    .release_payment(&p.region, id, p.attempt, PaymentStatus::Failed, None, None, None, None)
                    .await
                    .map(|()| "not_charged")
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(outcome) => {
                    report.resolved += 1;
                    metrics::counter!("boxoffice_payments_reconciled_total", "outcome" => outcome).increment(1);
                }
                Err(error) => {
                    report.deferred += 1;
                    tracing::warn!(booking = %id, attempt = p.attempt, %error, "payment not reconciled; next run retries");
                }
            }
        }
        Ok(report)
    }
}

/// The verdict of an existing idempotency key on a request (`None`: the key is gone, expired meanwhile).
async fn existing_key(
    tx: &Tx,
    region: &Region,
    user: UserId,
    idem: &Idempotency,
) -> Result<Option<Stop>, tokio_postgres::Error> {
    let Some(stored) = store::find_key(tx, region, user, idem.key.as_str()).await? else { return Ok(None) };
    Ok(Some(match judge_key(&stored.request_hash, stored.response, &idem.request_hash) {
        KeyVerdict::Replay { status, body } => Stop::Replay(StoredResponse { status, body }),
        KeyVerdict::Reused => Stop::Refused(BookingError::KeyReused),
        KeyVerdict::InFlight => Stop::Refused(BookingError::KeyInFlight),
    }))
}

/// Stops with the existing key's verdict when a key claim found the key taken.
/// Records `view` as the answer (200) of the request's idempotency key, when it has one.
async fn answer_key(
    tx: &Tx,
    region: &Region,
    user: UserId,
    idem: Option<&Idempotency>,
    view: &Booking,
) -> Result<(), TxError<Stop>> {
    if let Some(idem) = idem {
        store::complete_key(tx, region, user, idem.key.as_str(), 200, &to_json(view)?).await?;
    }
    Ok(())
}

async fn check_claimed(
    tx: &Tx,
    region: &Region,
    user: UserId,
    idem: Option<&Idempotency>,
    claimed: Option<bool>,
) -> Result<(), TxError<Stop>> {
    match (idem, claimed) {
        (Some(idem), Some(false)) => {
            let stop = existing_key(tx, region, user, idem).await?.unwrap_or(Stop::Refused(BookingError::KeyInFlight));
            Err(TxError::Abort(stop))
        }
        _ => Ok(()),
    }
}

/// The instant of this process's clock at `at` (now if `at` is past).
fn instant_at(at: OffsetDateTime) -> Instant {
    let now = Instant::now();
    Duration::try_from(at - OffsetDateTime::now_utc()).map_or(now, |left| now + left)
}

/// Counts a hold that runs again because what refused it is gone; the third time it gives up (contention).
fn hold_again(reruns: &mut u32, id: BookingId) -> Result<(), BookingError> {
    *reruns += 1;
    if *reruns >= 3 {
        return Err(BookingError::Contended(anyhow::anyhow!("hold {id}: refused, then unhindered, {reruns} times")));
    }
    Ok(())
}

/// The model allowed a transition whose guarded SQL did not apply, in the same snapshot: a bug, not a race.
fn disagreement(id: BookingId, what: &str) -> BookingError {
    BookingError::Internal(anyhow::anyhow!("booking {id}: the model and {what} disagree"))
}

/// The other bookings whose lapsed claims a claim statement took over (deduplicated).
fn previous_owners(claimed: &[Claimed], own: BookingId) -> Vec<Uuid> {
    let mut owners: Vec<Uuid> = claimed.iter().filter_map(|(_, from)| *from).filter(|b| *b != own.0).collect();
    owners.sort_unstable();
    owners.dedup();
    owners
}

/// Whether an insert hit the primary key of `bookings` (or of one of its partitions, whose index names derive from
/// it: `bookings_us_east_pkey`).
fn is_booking_pkey_violation(err: &tokio_postgres::Error) -> bool {
    err.as_db_error().is_some_and(|db| {
        *db.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            && db
                .constraint()
                .is_some_and(|c| c == "bookings_pkey" || (c.starts_with("bookings_") && c.ends_with("_pkey")))
    })
}

fn clone_declined(err: &BookingError) -> BookingError {
    match err {
        BookingError::Declined { reason } => BookingError::Declined { reason: reason.clone() },
        _ => BookingError::Internal(anyhow::anyhow!("not a decline")),
    }
}

/// The payload of a booking event in the outbox (what a confirmation or cancellation mail needs).
fn outbox_payload(booking: &Booking) -> Value {
    json!({
        "bookingId": booking.id,
        "userId": booking.user_id,
        "showtimeId": booking.showtime_id,
        "status": booking.status,
        "seats": booking.seats,
        "total": booking.total,
        "currency": booking.currency,
        "paymentRef": booking.payment_ref,
    })
}
