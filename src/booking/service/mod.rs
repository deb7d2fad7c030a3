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
//!
//! Rooms, each with its own `impl BookingService` block: [`hold`], [`payment`] (finalize, and the settling of a
//! charge attempt that the reconciler shares), [`cancel`], [`jobs`] (sweeper, reconciler) and [`idempotency`]
//! (keys, stored responses, a taken key's verdict). Here: the commands, the service and what they share.

mod best;
mod cancel;
mod extend;
mod hold;
mod idempotency;
mod jobs;
mod payment;
pub mod showtime_cancel;

pub use best::BestCommand;
use idempotency::check_claimed;
pub use idempotency::{Idempotency, StoredResponse};
pub use jobs::JobReport;
pub use showtime_cancel::CancellationProgress;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::combine::HoldCombiner;
use super::gate::SeatGate;
use super::model::{Action, Booking, BookingId, Refusal, SeatSelection, authorize};
use super::store::{self, Claimed, Found, Guarded};
use super::{BookingError, RegionCache};
use crate::auth::AuthUser;
use crate::auth::model::UserId;
use crate::cache::seats::SeatCache;
use crate::config::{BookingConfig, Config};
use crate::db::{Db, Region, Tx, TxError};
use crate::ids::ShowtimeId;
use crate::payment::Payments;

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
    /// The hold may have committed, which is looked up on a connection of its own: its booking id exists (an earlier
    /// attempt whose COMMIT looked lost did commit), or the COMMIT of the batch it went with was lost.
    MaybeCommitted,
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
    pub showtime: ShowtimeId,
    /// The seats.
    pub seats: SeatSelection,
    /// Its idempotency, if the client sent a key.
    pub idempotency: Option<Idempotency>,
    /// A best-available proposal's guards (`booking::pick`): the free seats next to it and the seats beyond them,
    /// checked in the hold's transaction; empty for a manual selection.
    pub guards: Vec<StrandGuard>,
}

/// A [`crate::booking::pick::Guard`] by seat label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrandGuard {
    /// The free seat next to the selection.
    pub next: String,
    /// The seat beyond it in the same block (`None`: an aisle or a wall).
    pub beyond: Option<String>,
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
    showtime_regions: RegionCache<ShowtimeId>,
    booking_regions: RegionCache<BookingId>,
    /// Seats being claimed by holds of this process (`None`: disabled by configuration).
    gate: Option<SeatGate>,
    /// Group commit of holds waiting for a write connection (`None`: disabled by configuration).
    combiner: Option<Arc<HoldCombiner>>,
    /// Best-available holds take turns per showtime on this pod ([`best`] says why); entries live while someone
    /// holds or waits for the turn. A std mutex: held only to find or drop an entry, never across an await.
    best_turns: best::Turns,
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
        let combiner =
            (config.booking.hold_batch_max > 1).then(|| HoldCombiner::new(db.clone(), config.booking.hold_batch_max));
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
            best_turns: best::Turns::default(),
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

    async fn showtime_region(&self, showtime: ShowtimeId) -> Result<Option<Region>, BookingError> {
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
            .get_or_fetch(booking, || async {
                let client = self.db.write.get().await?;
                Ok::<_, BookingError>(store::booking_region(&client, booking).await?)
            })
            .await?;
        Ok(region.ok_or(Refusal::NotFound)?)
    }

    /// The booking as committed now, read on a pooled connection of its own (outside any transaction: after one
    /// whose outcome is to be established, or that another request won).
    async fn find_committed(&self, region: &Region, id: BookingId) -> Result<Option<Found>, BookingError> {
        let client = self.db.write.get().await?;
        Ok(store::find(&client, region, id).await?)
    }

    /// After a commit that released claims of `showtime`: the seat gate forgets the seats it remembers as claimed,
    /// and the seat cache's invalidation is queued.
    pub(super) fn after_claims_changed(&self, showtime: ShowtimeId) {
        if let Some(gate) = &self.gate {
            gate.forget(showtime);
        }
        self.seats.invalidate(showtime);
    }

    /// The start shared by the guarded changes (pay, cancel), in one round trip: the key claimed in flight (with
    /// one) and the guarded write tried; then a key already used is answered from what it recorded, a missing booking
    /// is not found, and the caller must be allowed `action`. Returns the booking as it was and, when the write's
    /// guard held, as it is now, with the charge attempt `start_payment.sql` counted.
    #[expect(clippy::too_many_arguments, reason = "one round trip's inputs, shared by pay and cancel")]
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
        after: Option<(OffsetDateTime, BookingId)>,
        limit: usize,
    ) -> Result<(Vec<Booking>, bool), BookingError> {
        let client = self.db.write.get().await?;
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let mut rows = store::list_by_user(&client, user, after, fetch).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows.into_iter().map(|f| f.booking.as_seen_at(f.now)).collect(), more))
    }
}

/// The model allowed a transition whose guarded SQL did not apply, in the same snapshot: a bug, not a race.
fn disagreement(id: BookingId, what: &str) -> BookingError {
    BookingError::Internal(anyhow::anyhow!("booking {id}: the model and {what} disagree"))
}

/// The other bookings whose lapsed claims a claim statement took over (deduplicated).
fn previous_owners(claimed: &[Claimed], own: BookingId) -> Vec<BookingId> {
    let mut owners: Vec<BookingId> = claimed.iter().filter_map(|(_, from)| *from).filter(|b| *b != own).collect();
    owners.sort_unstable();
    owners.dedup();
    owners
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
