//! `boxoffice worker`: background jobs, each on its own interval, stopped by the shutdown token.
//!
//! Jobs: purging expired idempotency keys. (The hold-expiry sweeper, the outbox dispatcher and the payment
//! reconciler of DESIGN.md §2 join this loop with the booking service.)

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::db::{Db, queries};

/// Rows deleted per purge statement.
const PURGE_BATCH: i64 = 1000;

/// Runs the jobs until `shutdown` is cancelled; a failed run is logged and counted, and retried next tick.
pub async fn run(db: Db, shutdown: CancellationToken) {
    tracing::info!("worker started");
    let mut purge = tokio::time::interval(Duration::from_secs(60));
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
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
