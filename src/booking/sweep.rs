//! The worker's hold-expiry sweeper (DESIGN.md §6 "Expiry"), bounded so that it keeps pace with an on-sale without
//! taking over the worker (issue 23).
//!
//! A run expires lapsed holds in batches of one statement each (`sql/queries/sweep/lapsed.sql`: bookings to
//! `expired`, their claims deleted, one short SERIALIZABLE transaction through [`crate::db::retry`]), at most
//! `max_batches` of them, then reads what is left (`sql/queries/sweep/backlog.sql`) into the gauges
//! `boxoffice_holds_lapsed_pending` and `boxoffice_holds_lapsed_oldest_seconds` and says whether to go on. The worker
//! runs it as its own task ([`crate::worker`]): a large backlog is worked through run after run, each logged, while
//! the dispatcher and the reconciler keep their own pace.
//! (It replaced a sweep that looped until nothing was left, within one run: during a ten-minute sweep no mail was
//! sent.) Tests that want a whole backlog gone call it with `max_batches = u32::MAX`.

use std::convert::Infallible;

use crate::ids::ShowtimeId;

use super::{BookingError, BookingService};
use crate::db::{self, TxError, queries::sweep as q};

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

impl BookingService {
    /// Expires lapsed holds in batches of `batch`, at most `max_batches` of them (a short batch ends the run early),
    /// invalidates the seat caches of the showtimes whose claims were released, then measures the backlog left and
    /// sets its gauges.
    ///
    /// # Errors
    /// Database failures (what was swept before stays swept).
    pub async fn sweep_lapsed_holds(&self, batch: i64, max_batches: u32) -> Result<SweepReport, BookingError> {
        let mut report = SweepReport::default();
        while report.batches < max_batches {
            let (expired, showtimes) = db::retry(&self.db, "sweep_lapsed", |tx| async move {
                let stmt = tx.prepare_cached(q::LAPSED).await?;
                let row = tx.query_one(&stmt, &[&batch]).await?;
                Ok::<_, TxError<Infallible>>((
                    row.try_get::<_, i64>("expired")?,
                    row.try_get::<_, Vec<ShowtimeId>>("showtimes")?,
                ))
            })
            .await
            .map_err(BookingError::from_retry)?;
            for showtime in showtimes {
                self.after_claims_changed(showtime);
            }
            let expired = u64::try_from(expired).unwrap_or(0);
            metrics::counter!("boxoffice_holds_expired_total", "by" => "sweeper").increment(expired);
            report.expired += expired;
            report.batches += 1;
            if expired < u64::try_from(batch).unwrap_or(u64::MAX) {
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
