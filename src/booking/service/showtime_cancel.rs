//! Canceling a showtime cancels its bookings (issue #17): every hold is released, every paid booking refunded
//! through the provider, and every customer mailed through the outbox.
//!
//! `POST /showtimes/{id}/cancel` marks the showtime canceled and records the cancellation
//! (`showtime_cancellations`, migration 0005) in one transaction; from then on no booking of it can become live: a
//! hold (`hold.sql`), the start of a payment (`start_payment.sql`) and the completion of one (`claim_seats.sql`)
//! each read the showtime's status in their own SERIALIZABLE transaction, so each is ordered before the cancellation
//! (and its booking is found by the batches below) or after it (and refused; a charge already taken is refunded).
//! Then the bookings are ended in batches, never in one giant transaction:
//!
//! 1. holds: up to [`HOLD_BATCH`] reserved bookings per transaction, canceled (and mailed) or, if lapsed, expired,
//!    their claims released (`release_holds.sql`);
//! 2. paid bookings: up to [`REFUND_BATCH`] at a time are refunded through the provider, [`REFUND_CONCURRENCY`] at
//!    once and outside any transaction (DESIGN.md §6), each with the refund idempotency key of its charge
//!    (`{booking}:{attempt}:refund`, the one an owner's own cancellation uses too); then one transaction records the
//!    refunds, cancels the bookings, releases their claims and mails their owners (`refunded.sql`);
//! 3. once none of the showtime's bookings is live, the cancellation is finished (`finish.sql`).
//!
//! Each batch adds what it did to the cancellation's counters in its own transaction, so the counts are exact
//! whatever is retried or interrupted. A payment under way when the showtime was canceled is left to its request or
//! to the reconciler: it ends declined (the hold is then released by a later batch) or charged, and a charge finds
//! no seat on a canceled showtime and is refunded (`claim_seats.sql`). A request works on a cancellation for a
//! bounded time; whatever is left (payments under way, a provider that fails, a very large showtime) the worker
//! resumes ([`BookingService::resume_showtime_cancellations`]). A crash between a refund and its batch's commit is
//! finished by the next run: the provider answers the same refund again for the same key.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use postgres_types::ToSql;
use serde::Serialize;
use uuid::Uuid;

use super::{BookingService, JobReport, disagreement};
use crate::booking::BookingError;
use crate::booking::model::{Booking, check_showtime_open};
use crate::db::queries::{booking as bq, cancellation as q};
use crate::db::{self, Region, TxError};
use crate::ids::ShowtimeId;
use crate::payment::{RefundRequest, refund_key};

/// Reserved bookings ended per transaction.
pub const HOLD_BATCH: i64 = 100;
/// Paid bookings refunded per batch (and per recording transaction).
pub const REFUND_BATCH: i64 = 25;
/// Refunds of a batch in flight at once.
pub const REFUND_CONCURRENCY: usize = 8;

/// Where a showtime's cancellation stands (the answer of `POST /showtimes/{id}/cancel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationProgress {
    /// Bookings the cancellation canceled so far (holds released and paid bookings refunded; each customer is
    /// mailed). Lapsed holds are expired, not counted.
    pub bookings_canceled: i64,
    /// Of those, paid bookings whose payment was refunded.
    pub bookings_refunded: i64,
    /// Bookings whose payment was under way when the showtime was canceled: each ends declined (and its hold is
    /// then released) or refunded; never kept.
    pub payments_pending: i64,
    /// Bookings still to cancel (the worker carries on when the request's time was up or the provider failed).
    pub bookings_remaining: i64,
    /// Whether every booking of the showtime has ended.
    pub complete: bool,
}

/// A paid booking to refund (`paid.sql`).
#[derive(Debug, Clone)]
struct PaidBooking {
    booking: Uuid,
    attempt: i32,
    charge: Option<String>,
    amount: i64,
}

impl BookingService {
    /// Cancels the bookings of a canceled showtime, batch after batch, for at most about `budget` (a batch under way
    /// is finished), and says where the cancellation stands. Safe to run twice, or at the same time as another run
    /// or the worker: every batch re-checks its rows in its own transaction, and refunds are idempotent.
    ///
    /// # Errors
    /// Database failures (what the batches before did stays done and counted).
    pub async fn cancel_showtime_bookings(
        &self,
        region: &Region,
        showtime: ShowtimeId,
        budget: Duration,
    ) -> Result<CancellationProgress, BookingError> {
        let deadline = Instant::now() + budget;
        loop {
            let ended = self.release_hold_batch(region, showtime).await?;
            if ended < HOLD_BATCH || Instant::now() >= deadline {
                break;
            }
        }
        while Instant::now() < deadline {
            let due = self.paid_batch(region, showtime).await?;
            if due.is_empty() {
                break;
            }
            let refunded = self.refund_all(&due).await;
            if !refunded.is_empty() {
                self.record_refunds(region, showtime, &refunded).await?;
            }
            if refunded.len() < due.len() {
                // The provider failed some: they stay paid, and the worker tries again later.
                break;
            }
        }
        db::retry(&self.db, "cancel_showtime_finish", |tx| async move {
            let stmt = tx.prepare_cached(q::FINISH).await?;
            tx.query_opt(&stmt, &[region, &showtime]).await?;
            Ok::<_, TxError<()>>(())
        })
        .await
        .map_err(BookingError::from_retry)?;
        self.cancellation_progress(region, showtime).await
    }

    /// The worker's job: resumes the cancellations without progress for `idle` (interrupted, or left with payments
    /// under way or refunds the provider failed), up to `batch` of them, each for at most `budget`.
    ///
    /// # Errors
    /// Database failures while listing them; a failure on one is logged and left for the next run.
    pub async fn resume_showtime_cancellations(
        &self,
        idle: Duration,
        batch: i64,
        budget: Duration,
    ) -> Result<JobReport, BookingError> {
        let unfinished = {
            let client = self.db.write.get().await?;
            let stmt = client.prepare_cached(q::UNFINISHED).await?;
            let rows = client.query(&stmt, &[&idle.as_secs_f64(), &batch]).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<_, Region>("region")?, r.try_get::<_, ShowtimeId>("showtime_id")?)))
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()?
        };
        let mut report = JobReport::default();
        for (region, showtime) in unfinished {
            match self.cancel_showtime_bookings(&region, showtime, budget).await {
                Ok(progress) if progress.complete => report.resolved += 1,
                Ok(_) => report.deferred += 1,
                Err(error) => {
                    report.deferred += 1;
                    tracing::warn!(%showtime, %error, "showtime cancellation not advanced; next run retries");
                }
            }
        }
        Ok(report)
    }

    /// Where the cancellation of `showtime` stands (all zero and not complete when there is none).
    ///
    /// # Errors
    /// Database failures.
    pub async fn cancellation_progress(
        &self,
        region: &Region,
        showtime: ShowtimeId,
    ) -> Result<CancellationProgress, BookingError> {
        let client = self.db.write.get().await?;
        let stmt = client.prepare_cached(q::PROGRESS).await?;
        let Some(row) = client.query_opt(&stmt, &[region, &showtime]).await? else {
            return Ok(CancellationProgress {
                bookings_canceled: 0,
                bookings_refunded: 0,
                payments_pending: 0,
                bookings_remaining: 0,
                complete: false,
            });
        };
        Ok(CancellationProgress {
            bookings_canceled: row.try_get("canceled")?,
            bookings_refunded: row.try_get("refunded")?,
            payments_pending: row.try_get("pending")?,
            bookings_remaining: row.try_get("remaining")?,
            complete: row.try_get("finished")?,
        })
    }

    /// One transaction of step 1; returns how many bookings it ended.
    async fn release_hold_batch(&self, region: &Region, showtime: ShowtimeId) -> Result<i64, BookingError> {
        let (ended, canceled, released) = db::retry(&self.db, "cancel_showtime_holds", |tx| async move {
            let params: [&(dyn ToSql + Sync); 3] = [region, &showtime, &HOLD_BATCH];
            let stmt = tx.prepare_cached(q::RELEASE_HOLDS).await?;
            let row = tx.query_one(&stmt, &params).await?;
            let counts: (i64, i64, i64) = (row.try_get("ended")?, row.try_get("canceled")?, row.try_get("released")?);
            if counts.0 > 0 {
                count(&tx, region, showtime, counts.1, 0).await?;
            }
            Ok::<_, TxError<()>>(counts)
        })
        .await
        .map_err(BookingError::from_retry)?;
        if released > 0 {
            self.after_claims_changed(showtime);
        }
        metrics::counter!("boxoffice_bookings_total", "outcome" => "canceled").increment(canceled.unsigned_abs());
        Ok(ended)
    }

    /// The next paid bookings to refund (step 2).
    async fn paid_batch(&self, region: &Region, showtime: ShowtimeId) -> Result<Vec<PaidBooking>, BookingError> {
        let client = self.db.write.get().await?;
        let stmt = client.prepare_cached(q::PAID).await?;
        let rows = client.query(&stmt, &[region, &showtime, &REFUND_BATCH]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(PaidBooking {
                    booking: r.try_get("booking_id")?,
                    attempt: r.try_get("attempt")?,
                    charge: r.try_get("provider_ref")?,
                    amount: r.try_get("amount")?,
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()?)
    }

    /// Refunds `due` through the provider, a few at a time; returns the (booking, attempt) of each refund that went
    /// through. A failure is logged; the booking stays paid for a later run.
    async fn refund_all(&self, due: &[PaidBooking]) -> Vec<(Uuid, i32)> {
        // Owned items: a stream over references makes a future that is not `Send` for every lifetime (rustc #100013).
        stream::iter(due.to_vec())
            .map(|paid| async move {
                let Some(charge) = paid.charge.clone() else {
                    tracing::error!(booking = %paid.booking, "paid booking whose charge has no provider reference");
                    return None;
                };
                let request = RefundRequest {
                    idempotency_key: refund_key(paid.booking, paid.attempt),
                    charge_id: charge,
                    amount: paid.amount,
                };
                match self.payments.refund(request).await {
                    Ok(_) => Some((paid.booking, paid.attempt)),
                    Err(error) => {
                        tracing::warn!(booking = %paid.booking, %error, "refund for a canceled showtime failed; retried later");
                        None
                    }
                }
            })
            .buffer_unordered(REFUND_CONCURRENCY)
            .filter_map(std::future::ready)
            .collect()
            .await
    }

    /// The transaction of step 2 after the refunds: charges refunded, bookings canceled, claims released, mails.
    async fn record_refunds(
        &self,
        region: &Region,
        showtime: ShowtimeId,
        refunded: &[(Uuid, i32)],
    ) -> Result<(), BookingError> {
        let ids: Vec<Uuid> = refunded.iter().map(|(id, _)| *id).collect();
        let attempts: Vec<i32> = refunded.iter().map(|(_, attempt)| *attempt).collect();
        let (ids, attempts) = (&ids, &attempts);
        // Money has moved: the larger retry budget, as for a payment's completion.
        let (canceled, released) = db::retry(&self.patient, "cancel_showtime_refunds", |tx| async move {
            let params: [&(dyn ToSql + Sync); 3] = [region, ids, attempts];
            let stmt = tx.prepare_cached(q::REFUNDED).await?;
            let row = tx.query_one(&stmt, &params).await?;
            let counts: (i64, i64) = (row.try_get("canceled")?, row.try_get("released")?);
            if counts.0 > 0 {
                count(&tx, region, showtime, counts.0, counts.0).await?;
            }
            Ok::<_, TxError<()>>(counts)
        })
        .await
        .map_err(BookingError::from_retry)?;
        if released > 0 {
            self.after_claims_changed(showtime);
        }
        metrics::counter!("boxoffice_bookings_total", "outcome" => "canceled").increment(canceled.unsigned_abs());
        Ok(())
    }
}

/// Adds a batch's work to the cancellation's counters (`count.sql`), in the batch's transaction.
async fn count(
    tx: &db::Tx,
    region: &Region,
    showtime: ShowtimeId,
    canceled: i64,
    refunded: i64,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx.prepare_cached(q::COUNT).await?;
    tx.execute(&stmt, &[region, &showtime, &canceled, &refunded]).await.map(drop)
}

/// Why finalize's `start_payment.sql` matched no row for a booking the model would charge (finalize tx1): its
/// showtime is canceled or has started (`showtime-closed`, nothing charged); anything else is a bug.
///
/// # Errors
/// Database failures.
pub(super) async fn not_started(
    tx: &db::Tx,
    region: &Region,
    booking: &Booking,
) -> Result<BookingError, tokio_postgres::Error> {
    let stmt = tx.prepare_cached(bq::SHOWTIME_STATE).await?;
    let Some(row) = tx.query_opt(&stmt, &[region, &booking.showtime_id]).await? else {
        return Ok(disagreement(booking.id, "start_payment (no showtime)"));
    };
    let status: String = row.try_get("status")?;
    Ok(match check_showtime_open(&status, row.try_get("start_time")?, row.try_get("now")?) {
        Err(closed) => BookingError::ShowtimeClosed(closed),
        Ok(()) => disagreement(booking.id, "start_payment"),
    })
}
