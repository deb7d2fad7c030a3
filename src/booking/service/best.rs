//! Best available, held atomically (issue #20): the picker's proposal ([`crate::booking::pick`]) goes through the
//! normal hold ([`BookingService::hold`]), whose transaction is the truth. A proposal refused because a seat was
//! taken meanwhile (by a hold of this pod still in flight, by another pod, or a guard seat taken so that the proposal
//! would now strand a seat) is picked again on the seat map as it is now, with the seats known taken added; after
//! [`ATTEMPTS`] proposals the request gives up with a 503 (contention). A 201 only ever answers a committed hold.
//!
//! **Turns.** On one pod, the best-available holds of one showtime take turns: each picks on the map its predecessor
//! left (the seat cache, settled after the predecessor's invalidation, so rebuilt from the primary) and holds before
//! the next one picks. Without turns, a crowd asking at once all proposed the same best seats from the same map:
//! one won each round, the others learned a little and tried again, and most gave up after [`ATTEMPTS`] (in the
//! race test, 50 of 58 buyers got a 503); and their guard reads, all on the same few index pages of `booking_seats`,
//! made SERIALIZABLE roll most of them back besides. A turn costs one hold's latency per buyer in the queue; manual
//! holds never wait for it. Across pods the proposals still race, and the transaction (claims, guards) decides.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Answer, BookingService, HoldCommand, Idempotency, StrandGuard};
use crate::auth::model::UserId;
use crate::booking::BookingError;
use crate::booking::model::{Booking, SeatSelection};
use crate::booking::pick::{self, BestRequest, SweetSpot};
use crate::catalog::model::seatmap::{SeatLayout, ShowtimeKey};
use crate::error::ApiError;

/// Proposals one request tries before giving up (each refused one teaches it the seats that were in the way).
pub const ATTEMPTS: usize = 6;

/// A best-available hold to make.
#[derive(Debug, Clone)]
pub struct BestCommand {
    /// The caller.
    pub user: UserId,
    /// The showtime and its region.
    pub showtime: ShowtimeKey,
    /// Its screen's layout.
    pub layout: Arc<SeatLayout>,
    /// Where the best seats are.
    pub spot: SweetSpot,
    /// What is asked for.
    pub request: BestRequest,
    /// Its idempotency, if the client sent a key (the fingerprint is of the request, not of the seats picked).
    pub idempotency: Option<Idempotency>,
}

/// The turns of best-available holds, per showtime (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Turns(Mutex<HashMap<uuid::Uuid, Arc<tokio::sync::Mutex<()>>>>);

impl Turns {
    /// Waits for the showtime's turn; the turn passes on when the returned guard is dropped.
    async fn take(&self, showtime: uuid::Uuid) -> Turn<'_> {
        let turn = self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(showtime).or_default().clone();
        let held = turn.clone().lock_owned().await;
        Turn { turns: self, showtime, turn, _held: held }
    }
}

/// A showtime's turn, held.
struct Turn<'a> {
    turns: &'a Turns,
    showtime: uuid::Uuid,
    turn: Arc<tokio::sync::Mutex<()>>,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut turns = self.turns.0.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's reference, ours, and the guard's: nobody else waits; the entry goes.
        if Arc::strong_count(&self.turn) <= 3 {
            turns.remove(&self.showtime);
        }
    }
}

impl BookingService {
    /// Picks and holds the best seats (see the module docs).
    ///
    /// # Errors
    /// No seats fit (409 `no-seats-fit`), the refusals of a hold, contention after [`ATTEMPTS`] proposals, the seat
    /// map or the database unavailable.
    pub async fn hold_best(&self, cmd: &BestCommand) -> Result<Answer<Booking>, ApiError> {
        let layout = &cmd.layout;
        let _turn = self.best_turns.take(cmd.showtime.id.0).await;
        // Positions a refused proposal found taken; the cache may not show them yet.
        let mut known: Vec<usize> = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut taken = self.seats.taken(&self.db, &cmd.showtime, layout).await?;
            for &i in &known {
                taken.set(i);
            }
            let proposal = match pick::pick(layout, &taken, &cmd.request, cmd.spot) {
                Ok(proposal) => proposal,
                Err(no_fit) => return self.no_fit(cmd, no_fit).await,
            };
            let label = |i: usize| layout.seats()[i].label.clone();
            let labels: Vec<String> = proposal.seats.iter().map(|i| label(*i)).collect();
            let seats = SeatSelection::parse(&labels, labels.len())
                .map_err(|e| BookingError::Internal(anyhow::anyhow!("layout label is no seat label: {e}")))?;
            let guards = proposal
                .guards
                .iter()
                .map(|g| StrandGuard { next: label(g.next), beyond: g.beyond.map(label) })
                .collect();
            let hold = HoldCommand {
                user: cmd.user,
                showtime: cmd.showtime.id,
                seats,
                idempotency: cmd.idempotency.clone(),
                guards,
            };
            match self.hold(&hold).await {
                Ok(answer) => {
                    metrics::counter!("boxoffice_best_picks_total", "outcome" => "held").increment(1);
                    return Ok(answer);
                }
                Err(BookingError::SeatsUnavailable(in_the_way) | BookingError::WouldStrand(in_the_way)) => {
                    metrics::counter!("boxoffice_best_picks_total", "outcome" => "repicked").increment(1);
                    known.extend(in_the_way.iter().filter_map(|l| layout.position(l)));
                }
                Err(err) => return Err(err.into()),
            }
        }
        metrics::counter!("boxoffice_best_picks_total", "outcome" => "gave_up").increment(1);
        Err(BookingError::Contended(anyhow::anyhow!("best available: {ATTEMPTS} proposals refused")).into())
    }

    /// Nothing fits now; a request whose key already has an answer (an earlier attempt held the seats that are
    /// now missing) gets that answer instead.
    async fn no_fit(&self, cmd: &BestCommand, no_fit: pick::NoFit) -> Result<Answer<Booking>, ApiError> {
        if let Some(idem) = &cmd.idempotency {
            let client = self.db.write.get().await.map_err(BookingError::from)?;
            match idem.verdict(&client, &cmd.showtime.region, cmd.user).await.map_err(BookingError::from)? {
                Some(Ok(stored)) => return Ok(Answer::Replayed(stored)),
                Some(Err(err)) => return Err(err.into()),
                None => {}
            }
        }
        metrics::counter!("boxoffice_best_picks_total", "outcome" => "no_fit").increment(1);
        Err(BookingError::NoFit(no_fit).into())
    }
}
