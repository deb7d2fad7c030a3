//! `boxoffice worker`: background jobs, each its own task on its own interval with its own timeout, stopped by the
//! shutdown token.
//!
//! Jobs: purging expired idempotency keys; the double-booking audit (invariant I1 checked from the bookings' side,
//! exported as `boxoffice_audit_double_bookings`, alert `BoxofficeDoubleBooking`); the hold-expiry sweeper (lapsed
//! `reserved` bookings -> `expired`, claims released, seat cache invalidated: [`crate::booking::sweep`]); the payment
//! reconciler (charge attempts whose answer was lost are looked up at the provider, by their idempotency key, and
//! completed or released); resuming showtime cancellations (bookings of a canceled showtime not yet canceled and
//! refunded: `booking::service::showtime_cancel`); the outbox dispatcher ([`crate::notify`]), which delivers booking
//! mails. The sweeper's, reconciler's and dispatcher's runs are functions that tests call directly.
//!
//! Independence (issue 23): the jobs once shared one `select!` loop, so a sweep of a large backlog (ten minutes after
//! an on-sale) held back every mail, reconciliation and audit. Now a slow or stuck job delays only itself: each job
//! is a task of its own, and a run still going after its timeout is abandoned (its transaction, if any, is rolled
//! back with its connection) and counted as `timeout`. A run with more work than its bound (a sweep that stopped at
//! `BOXOFFICE_SWEEP_MAX_BATCHES` with lapsed holds left, a full outbox batch) is followed at once by the next
//! instead of waiting for its interval. Every run is counted in `boxoffice_worker_runs_total{task, outcome}`
//! (`task`, not `job`: Prometheus owns the `job` label) and timed in `boxoffice_worker_run_seconds{task}`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::booking::BookingService;
use crate::config::WorkerConfig;
use crate::db::{Db, queries};
use crate::notify::Dispatcher;

/// Unresolved payments looked at per reconciler run.
const RECONCILE_BATCH: i64 = 100;

/// Showtime cancellations resumed per run, and how long each may take; one is resumed once it has made no progress
/// for [`CANCELLATION_IDLE`] (longer than a request works on one: `catalog::routes::cancel_showtime`). The budget
/// stays inside the job's timeout.
const CANCELLATION_BATCH: i64 = 10;
const CANCELLATION_BUDGET: Duration = Duration::from_secs(30);
const CANCELLATION_IDLE: Duration = Duration::from_secs(30);

/// Rows deleted per purge statement.
const PURGE_BATCH: i64 = 1000;

/// How often the double-booking audit runs.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(60);

/// How often expired idempotency keys are purged.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// The audit looks at bookings created this recently: every upcoming showtime's sales (showtimes are scheduled
/// 14 days ahead), at a bounded cost.
pub const AUDIT_LOOKBACK: Duration = Duration::from_secs(30 * 24 * 3600);

/// How a run ended: its `outcome` label, and whether there is more to do at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunEnd {
    /// `idle` (nothing to do), `ok`, or `error` (logged by the run).
    pub outcome: &'static str,
    /// The run stopped at its bound with work left: run again without waiting for the interval.
    pub more: bool,
}

impl RunEnd {
    const IDLE: Self = Self { outcome: "idle", more: false };
    const OK: Self = Self { outcome: "ok", more: false };
    const ERROR: Self = Self { outcome: "error", more: false };
}

/// One job's schedule.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// Its `task` label.
    pub task: &'static str,
    /// Time between the starts of two runs when a run leaves nothing more to do.
    pub interval: Duration,
    /// A run still going after this is abandoned.
    pub timeout: Duration,
}

/// Runs the jobs until `shutdown` is cancelled, each as its own task; a failed run is logged and counted, and retried
/// next tick. Returns when every job has stopped.
pub async fn run(
    db: Db,
    bookings: Arc<BookingService>,
    dispatcher: Dispatcher,
    config: WorkerConfig,
    shutdown: CancellationToken,
) {
    tracing::info!("worker started");
    let dispatcher = Arc::new(dispatcher);
    let mut jobs = JoinSet::new();

    let sweeper = bookings.clone();
    jobs.spawn(every(
        Schedule { task: "sweep_expired_holds", interval: config.sweep_interval, timeout: config.job_timeout },
        shutdown.clone(),
        move || {
            let bookings = sweeper.clone();
            async move {
                let started = Instant::now();
                match bookings.sweep_lapsed_holds(config.sweep_batch, config.sweep_max_batches).await {
                    Ok(report) if report.expired == 0 && report.remaining == 0 => RunEnd::IDLE,
                    Ok(report) => {
                        let seconds = started.elapsed().as_secs_f64();
                        #[expect(clippy::cast_precision_loss, reason = "a rate for the log")]
                        let per_second = (report.expired as f64 / seconds.max(1e-3)).round();
                        tracing::info!(
                            expired = report.expired,
                            batches = report.batches,
                            remaining = report.remaining,
                            oldest_lapsed_secs = report.oldest_seconds.round(),
                            per_second,
                            "lapsed holds expired"
                        );
                        RunEnd { outcome: "ok", more: report.more() && report.expired > 0 }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "hold sweep failed");
                        RunEnd::ERROR
                    }
                }
            }
        },
    ));

    let sender = dispatcher.clone();
    jobs.spawn(every(
        Schedule { task: "dispatch_outbox", interval: dispatcher.interval(), timeout: dispatcher.run_timeout() },
        shutdown.clone(),
        move || {
            let dispatcher = sender.clone();
            async move {
                match dispatcher.dispatch().await {
                    Ok(report) if report.total() == 0 => RunEnd::IDLE,
                    Ok(report) => {
                        tracing::info!(
                            sent = report.sent,
                            rejected = report.rejected,
                            skipped = report.skipped,
                            failed = report.failed,
                            "outbox dispatched"
                        );
                        // A full batch that failed nothing: the next is probably waiting. After a failure the
                        // batch was put back with a back-off: wait for the interval.
                        let full = i64::try_from(report.total()).unwrap_or(i64::MAX) >= dispatcher.batch();
                        if report.failed > 0 { RunEnd::ERROR } else { RunEnd { outcome: "ok", more: full } }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox dispatch failed");
                        RunEnd::ERROR
                    }
                }
            }
        },
    ));

    let canceller = bookings.clone();
    jobs.spawn(every(
        Schedule {
            task: "resume_showtime_cancellations",
            interval: config.reconcile_interval,
            timeout: config.job_timeout,
        },
        shutdown.clone(),
        move || {
            let bookings = canceller.clone();
            async move {
                let run =
                    bookings.resume_showtime_cancellations(CANCELLATION_IDLE, CANCELLATION_BATCH, CANCELLATION_BUDGET);
                match run.await {
                    Ok(report) if report.resolved == 0 && report.deferred == 0 => RunEnd::IDLE,
                    Ok(report) => {
                        tracing::info!(
                            finished = report.resolved,
                            unfinished = report.deferred,
                            "showtime cancellations resumed"
                        );
                        RunEnd::OK
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "showtime cancellations not resumed");
                        RunEnd::ERROR
                    }
                }
            }
        },
    ));

    let reconciler = bookings;
    jobs.spawn(every(
        Schedule { task: "reconcile_payments", interval: config.reconcile_interval, timeout: config.job_timeout },
        shutdown.clone(),
        move || {
            let bookings = reconciler.clone();
            async move {
                match bookings.reconcile_payments(config.reconcile_after, RECONCILE_BATCH).await {
                    Ok(report) if report.resolved == 0 && report.deferred == 0 => RunEnd::IDLE,
                    Ok(report) => {
                        tracing::info!(resolved = report.resolved, deferred = report.deferred, "payments reconciled");
                        if report.deferred > 0 { RunEnd::ERROR } else { RunEnd::OK }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "payment reconciliation failed");
                        RunEnd::ERROR
                    }
                }
            }
        },
    ));

    let purger = db.clone();
    jobs.spawn(every(
        Schedule { task: "purge_idempotency_keys", interval: PURGE_INTERVAL, timeout: config.job_timeout },
        shutdown.clone(),
        move || {
            let db = purger.clone();
            async move {
                match purge_idempotency_keys(&db).await {
                    Ok(0) => RunEnd::IDLE,
                    Ok(n) => {
                        tracing::info!(deleted = n, "expired idempotency keys purged");
                        RunEnd::OK
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "idempotency key purge failed");
                        RunEnd::ERROR
                    }
                }
            }
        },
    ));

    jobs.spawn(every(
        Schedule { task: "audit_double_bookings", interval: AUDIT_INTERVAL, timeout: config.job_timeout },
        shutdown.clone(),
        move || {
            let db = db.clone();
            async move {
                match audit_double_bookings(&db).await {
                    Ok(found) => {
                        found.record();
                        if found.total() > 0 {
                            tracing::error!(
                                duplicate_seats = found.duplicate_seats,
                                foreign_claims = found.foreign_claims,
                                "double booking detected by the audit (invariant I1)"
                            );
                        }
                        RunEnd::OK
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "double-booking audit failed");
                        RunEnd::ERROR
                    }
                }
            }
        },
    ));

    while let Some(stopped) = jobs.join_next().await {
        if let Err(e) = stopped {
            tracing::error!(error = %e, "a worker job stopped abnormally");
        }
    }
    tracing::info!("worker stopped");
}

/// Runs `run` at `schedule`'s interval until `shutdown`: the first run at once, a run that reports more work again
/// at once, and every run under the schedule's timeout. A late tick is not made up for (the runs themselves catch
/// up on a backlog).
async fn every<F, Fut>(schedule: Schedule, shutdown: CancellationToken, mut run: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = RunEnd>,
{
    let mut ticks = tokio::time::interval(schedule.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        loop {
            let started = Instant::now();
            let end = tokio::select! {
                () = shutdown.cancelled() => return,
                end = tokio::time::timeout(schedule.timeout, run()) => end,
            };
            let end = end.unwrap_or_else(|_| {
                tracing::warn!(
                    task = schedule.task,
                    timeout_secs = schedule.timeout.as_secs_f64(),
                    "worker run abandoned after its timeout"
                );
                RunEnd { outcome: "timeout", more: false }
            });
            metrics::counter!("boxoffice_worker_runs_total", "task" => schedule.task, "outcome" => end.outcome)
                .increment(1);
            metrics::histogram!("boxoffice_worker_run_seconds", "task" => schedule.task)
                .record(started.elapsed().as_secs_f64());
            if !end.more {
                break;
            }
            // Let the runtime's other tasks in between two runs of a backlog.
            tokio::task::yield_now().await;
        }
        // The interval counts from the end of the last run of a burst, not from its first.
        ticks.reset();
    }
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
