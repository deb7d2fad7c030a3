//! `boxoffice worker`: background jobs, each on its own interval, stopped by the shutdown token.
//!
//! Jobs: purging expired idempotency keys; the double-booking audit (invariant I1 checked from the bookings' side,
//! exported as `boxoffice_audit_double_bookings`, alert `BoxofficeDoubleBooking`); the hold-expiry sweeper (lapsed
//! `reserved` bookings -> `expired`, claims released, seat cache invalidated); the payment reconciler (charge
//! attempts whose answer was lost are looked up at the provider, by their idempotency key, and completed or
//! released); resuming showtime cancellations (bookings of a canceled showtime not yet canceled and refunded: see
//! `booking::service::showtime_cancel`). The sweeper's and reconciler's runs are functions of [`BookingService`] that tests call directly.
//! Every run is counted in `boxoffice_worker_runs_total{task, outcome}` (`task`, not `job`: Prometheus owns the
//! `job` label). The outbox dispatcher ([`crate::notify`]) delivers booking mails.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::booking::BookingService;
use crate::config::WorkerConfig;
use crate::db::{Db, queries};
use crate::notify::Dispatcher;

/// Unresolved payments looked at per reconciler run.
const RECONCILE_BATCH: i64 = 100;

/// Showtime cancellations resumed per run, and how long each may take; one is resumed once it has made no progress
/// for [`CANCELLATION_IDLE`] (longer than a request works on one: `catalog::routes::cancel_showtime`).
const CANCELLATION_BATCH: i64 = 10;
const CANCELLATION_BUDGET: Duration = Duration::from_secs(30);
const CANCELLATION_IDLE: Duration = Duration::from_secs(30);

/// Rows deleted per purge statement.
const PURGE_BATCH: i64 = 1000;

/// How often the double-booking audit runs.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(60);

/// The audit looks at bookings created this recently: every upcoming showtime's sales (showtimes are scheduled
/// 14 days ahead), at a bounded cost.
pub const AUDIT_LOOKBACK: Duration = Duration::from_secs(30 * 24 * 3600);

/// Runs the jobs until `shutdown` is cancelled; a failed run is logged and counted, and retried next tick.
pub async fn run(
    db: Db,
    bookings: Arc<BookingService>,
    dispatcher: Dispatcher,
    config: WorkerConfig,
    shutdown: CancellationToken,
) {
    tracing::info!("worker started");
    let mut dispatch = tokio::time::interval(dispatcher.interval());
    dispatch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purge = tokio::time::interval(Duration::from_secs(60));
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut audit = tokio::time::interval(AUDIT_INTERVAL);
    audit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = tokio::time::interval(config.sweep_interval);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconcile = tokio::time::interval(config.reconcile_interval);
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cancellations = tokio::time::interval(config.reconcile_interval);
    cancellations.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = cancellations.tick() => {
                let run = bookings.resume_showtime_cancellations(CANCELLATION_IDLE, CANCELLATION_BATCH, CANCELLATION_BUDGET);
                let outcome = match run.await {
                    Ok(report) if report.resolved == 0 && report.deferred == 0 => "idle",
                    Ok(report) => {
                        tracing::info!(finished = report.resolved, unfinished = report.deferred, "showtime cancellations resumed");
                        "ok"
                    }
                    Err(e) => { tracing::warn!(error = %e, "showtime cancellations not resumed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "task" => "resume_showtime_cancellations", "outcome" => outcome)
                    .increment(1);
            }
            _ = sweep.tick() => {
                let outcome = match bookings.sweep_expired_holds(config.sweep_batch).await {
                    Ok(report) if report.resolved == 0 => "idle",
                    Ok(report) => { tracing::info!(expired = report.resolved, "lapsed holds expired"); "ok" }
                    Err(e) => { tracing::warn!(error = %e, "hold sweep failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "task" => "sweep_expired_holds", "outcome" => outcome)
                    .increment(1);
            }
            _ = dispatch.tick() => {
                let outcome = match dispatcher.dispatch().await {
                    Ok(report) if report.total() == 0 => "idle",
                    Ok(report) => {
                        tracing::info!(sent = report.sent, rejected = report.rejected, skipped = report.skipped,
                            failed = report.failed, "outbox dispatched");
                        if report.failed > 0 { "error" } else { "ok" }
                    }
                    Err(e) => { tracing::warn!(error = %e, "outbox dispatch failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "task" => "dispatch_outbox", "outcome" => outcome)
                    .increment(1);
            }
            _ = reconcile.tick() => {
                let outcome = match bookings.reconcile_payments(config.reconcile_after, RECONCILE_BATCH).await {
                    Ok(report) if report.resolved == 0 && report.deferred == 0 => "idle",
                    Ok(report) => {
                        tracing::info!(resolved = report.resolved, deferred = report.deferred, "payments reconciled");
                        if report.deferred > 0 { "error" } else { "ok" }
                    }
                    Err(e) => { tracing::warn!(error = %e, "payment reconciliation failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "task" => "reconcile_payments", "outcome" => outcome)
                    .increment(1);
            }
            _ = purge.tick() => {
                let outcome = match purge_idempotency_keys(&db).await {
                    Ok(0) => "idle",
                    Ok(n) => { tracing::info!(deleted = n, "expired idempotency keys purged"); "ok" }
                    Err(e) => { tracing::warn!(error = %e, "idempotency key purge failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "task" => "purge_idempotency_keys", "outcome" => outcome)
                    .increment(1);
            }
            _ = audit.tick() => {
                let outcome = match audit_double_bookings(&db).await {
                    Ok(found) => {
                        found.record();
                        if found.total() > 0 {
                            tracing::error!(
                                duplicate_seats = found.duplicate_seats,
                                foreign_claims = found.foreign_claims,
                                "double booking detected by the audit (invariant I1)"
                            );
                        }
                        "ok"
                    }
                    Err(e) => { tracing::warn!(error = %e, "double-booking audit failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "task" => "audit_double_bookings", "outcome" => outcome)
                    .increment(1);
            }
        }
    }
    tracing::info!("worker stopped");
}

/// Deletes expired idempotency keys in batches; returns how many.
///
/// # Errors
/// No connection, or a failed statement.
pub async fn purge_idempotency_keys(db: &Db) -> anyhow::Result<u64> {
    let client = db.write.get().await?;
    let stmt = client.prepare_cached(queries::maintenance::PURGE_IDEMPOTENCY_KEYS).await?;
    let mut total = 0;
    loop {
        let deleted = client.execute(&stmt, &[&PURGE_BATCH]).await?;
        total += deleted;
        if deleted < PURGE_BATCH as u64 {
            return Ok(total);
        }
    }
}

/// The answer of the double-booking audit (`sql/queries/audit/double_bookings.sql`). Both counts must be 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DoubleBookingAudit {
    /// Seats (region, showtime, label) listed by two or more live bookings.
    pub duplicate_seats: i64,
    /// Seats of a live booking whose claim row belongs to another booking.
    pub foreign_claims: i64,
}

impl DoubleBookingAudit {
    /// Both counts together.
    pub fn total(self) -> i64 {
        self.duplicate_seats + self.foreign_claims
    }

    /// Sets the `boxoffice_audit_double_bookings{check}` gauges.
    pub fn record(self) {
        metrics::gauge!("boxoffice_audit_double_bookings", "check" => "duplicate_seats")
            .set(self.duplicate_seats as f64);
        metrics::gauge!("boxoffice_audit_double_bookings", "check" => "foreign_claims").set(self.foreign_claims as f64);
    }
}

/// Runs the double-booking audit over the bookings of the last [`AUDIT_LOOKBACK`], on the read pool: one
/// statement, so one consistent snapshot (a follower read on CockroachDB, off the booking path's leaseholders).
///
/// # Errors
/// No connection, or a failed statement.
pub async fn audit_double_bookings(db: &Db) -> anyhow::Result<DoubleBookingAudit> {
    let since = time::OffsetDateTime::now_utc() - AUDIT_LOOKBACK;
    let client = db.read.get().await?;
    let stmt = client.prepare_cached(queries::audit::DOUBLE_BOOKINGS).await?;
    let row = crate::metrics::timed("audit.double_bookings", client.query_one(&stmt, &[&since])).await?;
    Ok(DoubleBookingAudit { duplicate_seats: row.try_get(0)?, foreign_claims: row.try_get(1)? })
}
