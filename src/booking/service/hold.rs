//! The hold (DESIGN.md §6 "Hold"): the seat gate, one transaction in one round trip (or a place in a batch of
//! [`crate::booking::combine`]), the refusal explained after the rollback, the outcome of a lost COMMIT looked up by
//! the booking id the service made, and the effects after the commit.
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{Answer, BookingService, HoldCommand, Stop, abort, previous_owners, to_json};
use crate::booking::BookingError;
use crate::booking::combine::Outcome as BatchOutcome;
use crate::booking::gate::Refused as GateRefusal;
use crate::booking::model::{Booking, BookingId, BookingStatus, check_showtime_open, check_user_cap, unknown_seats};
use crate::booking::store::{self, HeldRow, NewHold};
use crate::cache::changes::SeatState;
use crate::db::{self, RetryError, Tx, TxError};

/// A successful hold, before its post-commit effects.
struct Held {
    booking: Booking,
    /// The bookings whose lapsed claims it took over.
    taken_over: Vec<BookingId>,
}

impl BookingService {
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
            Err(BookingError::SeatsUnavailable(_) | BookingError::WouldStrand(_)) => "conflict",
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
        let hold = &NewHold {
            region,
            id: BookingId::new(),
            user: cmd.user,
            showtime: cmd.showtime,
            labels,
            ttl_secs: self.hold_ttl.as_secs_f64(),
            cap: i64::try_from(self.limits.max_seats_per_user_showtime).unwrap_or(i64::MAX),
        };
        // Every write connection busy: the first attempt goes with a batch (booking::combine). Its outcome reads as
        // an attempt of this hold's own: a batch that committed nothing is run again here, alone.
        let mut batched = match &self.combiner {
            // A best-available proposal checks its guards in its own transaction: never batched.
            Some(combiner) if cmd.idempotency.is_none() && cmd.guards.is_empty() && combiner.busy(&hold.region) => {
                Some(combiner.submit(hold.clone()).await)
            }
            _ => None,
        };
        let (mut unknown_commits, mut reruns) = (0, 0);
        loop {
            let result = match batched.take() {
                Some(BatchOutcome::Committed(Some(row))) => Ok(self.held(hold, row)),
                Some(BatchOutcome::Committed(None)) => Err(RetryError::Aborted(Stop::NotHeld)),
                Some(BatchOutcome::Unknown) => Err(RetryError::Aborted(Stop::MaybeCommitted)),
                Some(BatchOutcome::Alone) | None => {
                    db::retry(&self.db, "hold", |tx| self.hold_attempt(tx, hold, cmd)).await
                }
            };
            let uncertainty = match result {
                Ok(held) => {
                    self.after_hold(&held.booking, &held.taken_over).await;
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
                Err(RetryError::Aborted(Stop::MaybeCommitted)) => None,
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
    async fn hold_attempt(&self, tx: Arc<Tx>, hold: &NewHold, cmd: &HoldCommand) -> Result<Held, TxError<Stop>> {
        if !cmd.guards.is_empty() {
            let stranded = strands(&tx, hold, &cmd.guards).await?;
            if !stranded.is_empty() {
                return abort(BookingError::WouldStrand(stranded));
            }
        }
        let key = cmd.idempotency.as_ref().map(|idem| self.in_flight(&hold.region, cmd.user, idem));
        let writes = match store::hold_writes(&tx, key, hold).await {
            Ok(writes) => writes,
            Err(TxError::Db(e)) if is_booking_pkey_violation(&e) => return abort(Stop::MaybeCommitted),
            Err(e) => return Err(e),
        };
        if writes.key_claimed == Some(false) {
            return abort(Stop::KeyTaken);
        }
        let Some(row) = writes.booking else { return abort(Stop::NotHeld) };
        let held = self.held(hold, row);
        if let Some(idem) = &cmd.idempotency {
            let body = to_json(&held.booking)?;
            store::complete_key_and_commit(&tx, &hold.region, cmd.user, idem.key.as_str(), 201, &body).await?;
        }
        Ok(held)
    }

    /// The booking `hold.sql` inserted, and the bookings whose lapsed claims it took over.
    fn held(&self, hold: &NewHold, row: HeldRow) -> Held {
        let booking = Booking {
            region: hold.region.clone(),
            id: hold.id,
            user_id: hold.user,
            showtime_id: hold.showtime,
            status: BookingStatus::Reserved,
            seats: row.seats,
            total: row.total,
            currency: row.currency,
            hold_expires_at: Some(row.hold_expires_at),
            payment_ref: None,
            created_at: row.created_at,
            updated_at: row.created_at,
        };
        Held { taken_over: previous_owners(&row.claimed, hold.id), booking }
    }

    /// Why `hold.sql` inserted no booking, read after its transaction: an unknown showtime, a closed one, seats its
    /// screen lacks, seats another booking holds, or the per-user cap. `None`: nothing is in the way any more.
    async fn why_not_held(&self, hold: &NewHold, cmd: &HoldCommand) -> Result<Option<BookingError>, BookingError> {
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
    ///
    /// The one place a hold's seat-cache invalidation is queued, however it committed: alone, with a batch
    /// (`booking::combine`), or found committed after a lost COMMIT. Queuing is cheap (the flusher sends one Redis
    /// call for all the invalidations queued meanwhile: an on-sale batch's holds of one showtime become one).
    async fn after_hold(&self, booking: &Booking, taken_over: &[BookingId]) {
        self.booking_regions.insert(booking.id, booking.region.clone());
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
        if taken_over.is_empty() {
            let taken = booking.seats.iter().map(|s| SeatState { label: s.label.clone(), available: false });
            self.seats.invalidate_seats(booking.showtime_id, Some(taken.collect()));
        } else {
            // Expiring a taken-over booking released its other claims: the seat gate forgets too.
            self.after_claims_changed(booking.showtime_id);
        }
        metrics::counter!("boxoffice_seats_claimed_total").increment(booking.seats.len() as u64);
    }

    /// A hold found committed after a COMMIT whose outcome was lost: its post-commit effects, once.
    async fn committed_after_all(&self, answer: Answer<Booking>) -> Answer<Booking> {
        if let Answer::Fresh(booking) = &answer {
            self.after_hold(booking, &[]).await;
        }
        answer
    }

    /// After a COMMIT whose outcome is unknown: did the hold commit? Asked on a fresh connection.
    async fn hold_outcome(&self, hold: &NewHold, cmd: &HoldCommand) -> Result<Option<Answer<Booking>>, BookingError> {
        if let Some(found) = self.find_committed(&hold.region, hold.id).await? {
            return Ok(Some(Answer::Fresh(found.booking.as_seen_at(found.now))));
        }
        // Not this attempt's booking; the key may still answer for an earlier request with the same key.
        self.key_answer(hold, cmd).await?.transpose()
    }

    /// The verdict of the request's idempotency key as stored now: its response replayed, or the refusal of a key
    /// reused for another request or still in flight. `None`: no key, or it is gone.
    async fn key_answer(
        &self,
        hold: &NewHold,
        cmd: &HoldCommand,
    ) -> Result<Option<Result<Answer<Booking>, BookingError>>, BookingError> {
        let Some(idem) = &cmd.idempotency else { return Ok(None) };
        let client = self.db.write.get().await?;
        Ok(idem.verdict(&client, &hold.region, cmd.user).await?.map(|verdict| verdict.map(Answer::Replayed)))
    }
}

/// A best-available proposal's check in its transaction, before it claims: the guarded seats it would strand now
/// (a free seat next to it whose other neighbour is taken), named by the taken seats beyond them. Reading the
/// guards' claims under SERIALIZABLE makes a concurrent hold that claims one of them conflict with this one.
async fn strands(tx: &Tx, hold: &NewHold, guards: &[super::StrandGuard]) -> Result<Vec<String>, TxError<Stop>> {
    let mut labels: Vec<String> =
        guards.iter().flat_map(|g| std::iter::once(g.next.clone()).chain(g.beyond.clone())).collect();
    labels.sort();
    labels.dedup();
    let claimed = store::live_claims_of(tx, &hold.region, hold.showtime, &labels).await?;
    let taken = |label: &String| claimed.contains(label) || hold.labels.contains(label);
    let mut beyond: Vec<String> = guards
        .iter()
        .filter(|g| !taken(&g.next) && g.beyond.as_ref().is_none_or(taken))
        .filter_map(|g| g.beyond.clone().filter(|b| claimed.contains(b)))
        .collect();
    beyond.sort();
    beyond.dedup();
    // A guard with nothing beyond (a wall) was never free to strand: the picker leaves no single seat there.
    Ok(beyond)
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
