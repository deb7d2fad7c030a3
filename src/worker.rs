//! `boxoffice worker`: background jobs, each on its own interval, stopped by the shutdown token.
//!
//! Jobs: purging expired idempotency keys; the hold-expiry sweeper (lapsed `reserved` bookings -> `expired`, claims
//! released, seat cache invalidated); the payment reconciler (charge attempts whose answer was lost are looked up at
//! the provider and completed or released). Each job's run is a function of [`BookingService`] that tests call
//! directly. The outbox dispatcher of DESIGN.md §2 is not written yet: events accumulate in `outbox` unsent.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::booking::BookingService;
use crate::config::WorkerConfig;
use crate::db::{Db, queries};

/// Unresolved payments looked at per reconciler run.
const RECONCILE_BATCH: i64 = 100;

/// Rows deleted per purge statement.
const PURGE_BATCH: i64 = 1000;

/// Runs the jobs until `shutdown` is cancelled; a failed run is logged and counted, and retried next tick.
pub async fn run(db: Db, bookings: Arc<BookingService>, config: WorkerConfig, shutdown: CancellationToken) {
    tracing::info!("worker started");
    let mut purge = tokio::time::interval(Duration::from_secs(60));
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = tokio::time::interval(config.sweep_interval);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconcile = tokio::time::interval(config.reconcile_interval);
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = sweep.tick() => {
                let outcome = match bookings.sweep_expired_holds(config.sweep_batch).await {
                    Ok(report) if report.resolved == 0 => "idle",
                    Ok(report) => { tracing::info!(expired = report.resolved, "lapsed holds expired"); "ok" }
                    Err(e) => { tracing::warn!(error = %e, "hold sweep failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "job" => "sweep_expired_holds", "outcome" => outcome)
                    .increment(1);
            }
            _ = reconcile.tick() => {
                let outcome = match bookings.reconcile_payments(config.reconcile_after, RECONCILE_BATCH).await {
                    Ok(report) if report.resolved == 0 && report.deferred == 0 => "idle",
                    Ok(report) => {
                        tracing::info!(resolved = report.resolved, deferred = report.deferred, "payments reconciled");
                        "ok"
                    }
                    Err(e) => { tracing::warn!(error = %e, "payment reconciliation failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "job" => "reconcile_payments", "outcome" => outcome)
                    .increment(1);
            }
            _ = purge.tick() => {
                let outcome = match purge_idempotency_keys(&db).await {
                    Ok(0) => "idle",
                    Ok(n) => { tracing::info!(deleted = n, "expired idempotency keys purged"); "ok" }
                    Err(e) => { tracing::warn!(error = %e, "idempotency key purge failed"); "error" }
                };
                metrics::counter!("boxoffice_worker_runs_total", "job" => "purge_idempotency_keys", "outcome" => outcome)
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
