//! The worker's hold-expiry sweeper (DESIGN.md §6 "Expiry"), bounded so that it keeps pace with an on-sale without
//! taking over the worker (issue 23).
//!
//! A run reads up to `batch` lapsed holds (`sql/queries/sweep/lapsed.sql`, a plain read, a hint only), then expires
//! them by key in short SERIALIZABLE transactions through [`crate::db::retry`] (`sql/queries/sweep/expire.sql`:
//! bookings to `expired`, their claims deleted), an adaptive [`Chunk`] of at most [`CHUNK_MAX`] bookings each; at
//! most `max_batches` reads, then it reads what is left (`sql/queries/sweep/backlog.sql`) into the gauges
//! `boxoffice_holds_lapsed_pending` and `boxoffice_holds_lapsed_oldest_seconds` and says whether to go on. The worker
//! runs it as its own task ([`crate::worker`]): a large backlog is worked through run after run, each logged, while
//! the dispatcher and the reconciler keep their own pace.
//! (It replaced a sweep that looped until nothing was left, within one run: during a ten-minute sweep no mail was
//! sent. Then a sweep of 2,000 holds in one SERIALIZABLE statement, which read the lapsed range inside its
//! transaction: under concurrent holds it was cancelled as the pivot of a read/write cycle until its retries ran
//! out, and expired 639 holds/s; see lapsed.sql.) Tests that want a whole backlog gone call it with
//! `max_batches = u32::MAX`.

use std::convert::Infallible;

use crate::ids::ShowtimeId;
use uuid::Uuid;

use super::{BookingError, BookingService};
use crate::db::{self, RetryError, TxError, queries::sweep as q};

/// The most lapsed holds the backlog gauge counts: the count is a bounded index range, whatever the backlog.
pub const BACKLOG_COUNT_CAP: i64 = 10_000_000;

/// What one bounded sweep did and what it left.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SweepReport {
    /// Holds expired by this run.
    pub expired: u64,
    /// Statements run (batches).
    pub batches: u32,
    /// Lapsed holds still waiting after the run (at most [`BACKLOG_COUNT_CAP`]).
    pub remaining: u64,
    /// How long ago the oldest of them lapsed, in seconds (0 when none is left).
    pub oldest_seconds: f64,
}

impl SweepReport {
    /// Whether the run stopped at its bound with lapsed holds left: the worker sweeps again at once.
    pub fn more(&self) -> bool {
        self.remaining > 0
    }
}

/// The most bookings one expiring transaction touches (`expire.sql`), whatever the run's `batch`: at 100 its
/// predicate locks stay row and page locks (a PostgreSQL server for boxoffice has `max_pred_locks_per_transaction =
/// 256`, half of it per relation before a relation-wide lock), so it conflicts only with holds on its own rows.
pub const CHUNK_MAX: usize = 100;
/// The smallest chunk: a chunk that still exhausts its retries at this size fails the run.
pub const CHUNK_MIN: usize = 10;
/// Chunks committed in a row at one size before the size doubles again (up to [`CHUNK_MAX`]).
const GROW_AFTER: u32 = 4;

/// The size of the expiring transactions, adapted to contention: halved when a chunk exhausts its retries
/// (down to [`CHUNK_MIN`]), doubled after [`GROW_AFTER`] chunks committed in a row (up to the cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    size: usize,
    max: usize,
    streak: u32,
}

impl Chunk {
    /// A chunk of at most `max` (itself capped by [`CHUNK_MAX`]), starting there.
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, CHUNK_MAX);
        Self { size: max, max, streak: 0 }
    }

    /// Bookings per transaction now.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Sets the gauge `boxoffice_sweep_chunk_size`.
    fn meter(&self) {
        #[expect(clippy::cast_precision_loss, reason = "a gauge of at most CHUNK_MAX")]
        metrics::gauge!("boxoffice_sweep_chunk_size").set(self.size as f64);
    }

    /// A chunk committed.
    pub fn committed(&mut self) {
        self.streak += 1;
        if self.streak >= GROW_AFTER && self.size < self.max {
            self.size = (self.size * 2).min(self.max);
            self.streak = 0;
        }
    }

    /// A chunk exhausted its retries: false when it was already at the floor (the run gives up).
    pub fn contended(&mut self) -> bool {
        self.streak = 0;
        let floor = CHUNK_MIN.min(self.max);
        if self.size <= floor {
            return false;
        }
        self.size = (self.size / 2).max(floor);
        true
    }
}

impl BookingService {
    /// Expires lapsed holds: at most `max_batches` times, reads up to `batch` lapsed bookings (`lapsed.sql`, a plain
    /// read) and expires them by key in short SERIALIZABLE transactions of an adaptive [`Chunk`] each
    /// (`expire.sql`; a short read ends the run early), invalidates the seat caches of the showtimes whose claims
    /// were released, then measures the backlog left and sets its gauges.
    ///
    /// A chunk that exhausts its retries (the sweep lost to concurrent holds: `boxoffice_sweep_contention_total`)
    /// is tried again at half the size, down to [`CHUNK_MIN`]; the size in use is `boxoffice_sweep_chunk_size`.
    ///
    /// # Errors
    /// Database failures, or a chunk still contended at the floor (what was swept before stays swept).
    pub async fn sweep_lapsed_holds(&self, batch: i64, max_batches: u32) -> Result<SweepReport, BookingError> {
        let mut report = SweepReport::default();
        let mut chunk = Chunk::new(usize::try_from(batch).unwrap_or(CHUNK_MAX));
        while report.batches < max_batches {
            let candidates = {
                let client = self.db.write.get().await?;
                let stmt = client.prepare_cached(q::LAPSED).await?;
                client.query(&stmt, &[&batch]).await?
            };
            let mut regions = Vec::with_capacity(candidates.len());
            let mut ids = Vec::with_capacity(candidates.len());
            for row in &candidates {
                regions.push(row.try_get::<_, String>("region")?);
                ids.push(row.try_get::<_, Uuid>("id")?);
            }
            report.batches += 1;
            let mut at = 0;
            while at < ids.len() {
                let end = (at + chunk.size()).min(ids.len());
                let (regions, ids) = (&regions[at..end], &ids[at..end]);
                let outcome = db::retry(&self.db, "sweep_lapsed", |tx| async move {
                    let stmt = tx.prepare_cached(q::EXPIRE).await?;
                    let row = tx.query_one(&stmt, &[&regions, &ids]).await?;
                    Ok::<_, TxError<Infallible>>((
                        row.try_get::<_, i64>("expired")?,
                        row.try_get::<_, Vec<ShowtimeId>>("showtimes")?,
                    ))
                })
                .await;
                let (expired, showtimes) = match outcome {
                    Ok(done) => done,
                    Err(RetryError::Exhausted { attempts, last, .. }) => {
                        metrics::counter!("boxoffice_sweep_contention_total").increment(1);
                        let from = chunk.size();
                        if !chunk.contended() {
                            return Err(BookingError::from_retry(RetryError::<Infallible>::Exhausted {
                                tx: "sweep_lapsed",
                                attempts,
                                last,
                            }));
                        }
                        tracing::info!(from, to = chunk.size(), error = %last, "hold sweep contended: smaller chunks");
                        chunk.meter();
                        continue;
                    }
                    Err(err) => return Err(BookingError::from_retry(err)),
                };
                at = end;
                chunk.committed();
                chunk.meter();
                for showtime in showtimes {
                    self.after_claims_changed(showtime);
                }
                let expired = u64::try_from(expired).unwrap_or(0);
                metrics::counter!("boxoffice_holds_expired_total", "by" => "sweeper").increment(expired);
                report.expired += expired;
            }
            if candidates.len() < usize::try_from(batch).unwrap_or(usize::MAX) {
                break;
            }
        }
        let client = self.db.write.get().await?;
        let stmt = client.prepare_cached(q::BACKLOG).await?;
        let row = client.query_one(&stmt, &[&BACKLOG_COUNT_CAP]).await?;
        report.remaining = u64::try_from(row.try_get::<_, i64>("pending")?).unwrap_or(0);
        report.oldest_seconds = row.try_get("oldest_seconds")?;
        #[expect(clippy::cast_precision_loss, reason = "a gauge; the count is capped far below 2^53")]
        metrics::gauge!("boxoffice_holds_lapsed_pending").set(report.remaining as f64);
        metrics::gauge!("boxoffice_holds_lapsed_oldest_seconds").set(report.oldest_seconds);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_halves_on_contention_to_its_floor_and_grows_back_after_commits() {
        let mut chunk = Chunk::new(2000);
        assert_eq!(chunk.size(), CHUNK_MAX);
        let mut sizes = Vec::new();
        while chunk.contended() {
            sizes.push(chunk.size());
        }
        assert_eq!(sizes, [50, 25, 12, CHUNK_MIN]);
        for _ in 0..GROW_AFTER {
            chunk.committed();
        }
        assert_eq!(chunk.size(), 2 * CHUNK_MIN);
        for _ in 0..10 * GROW_AFTER {
            chunk.committed();
        }
        assert_eq!(chunk.size(), CHUNK_MAX);
        assert_eq!(Chunk::new(5).size(), 5);
        assert!(!Chunk::new(5).clone().contended());
    }
}
