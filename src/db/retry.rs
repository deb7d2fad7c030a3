//! `retry`: the one way to run a multi-statement write (CONVENTIONS.md rule 5, DESIGN.md §6 "Retries").
//!
//! The body runs inside `BEGIN ISOLATION LEVEL SERIALIZABLE`. A serialization failure (40001) or deadlock (40P01),
//! from any statement or from COMMIT, rolls back, sleeps a full-jitter back-off and runs the whole body again on a
//! fresh connection, up to the policy's attempts; so does a node lost before COMMIT ([`node_lost`]: a primary
//! switch, a reset connection, a demoted node), whose connection is closed instead of rolled back; then the caller
//! gets [`RetryError::Exhausted`] (a 503 with `Retry-After`). A COMMIT that fails with 40003 or a lost connection may or may not have committed: that is
//! [`RetryError::AmbiguousCommit`], never retried blindly; the caller decides (the booking path looks its
//! idempotency key up on a fresh connection). The body does SQL only: cache writes, HTTP calls and events belong
//! after the commit, because the body may run several times.

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Object, PoolError};
use futures_util::future::{join, join_all, try_join_all};
use rand::Rng;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::{Db, Step};
use crate::config::RetryPolicy;
use crate::error::ApiError;

/// A pooled connection inside an open SERIALIZABLE transaction, handed to a [`retry`] body.
///
/// It derefs to the client, so a body calls `tx.prepare_cached(..)`, `tx.query(..)` and so on. The body receives
/// it by `Arc` (not by reference) so that its future is one concrete type that may borrow the caller's data and is
/// `Send`. The helper begins and rolls back; it commits too, unless the body sent its COMMIT itself with its last
/// statements through [`Tx::commit_with`] (one round trip instead of two: the hold and the batch of holds do), and
/// then it sends none. Either way a failed COMMIT is handled by the helper alike (retried, or reported ambiguous). If
/// a `Tx` is dropped while its transaction is still open (a panicking body), its connection is detached from the pool
/// and closed, never reused mid-transaction.
pub struct Tx {
    client: Option<Object>,
    open: AtomicBool,
}

impl Deref for Tx {
    type Target = ClientWrapper;
    fn deref(&self) -> &ClientWrapper {
        self.client.as_ref().expect("a Tx owns its client until dropped")
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open.load(Ordering::SeqCst)
            && let Some(client) = self.client.take()
        {
            drop(Object::take(client));
        }
    }
}

/// Opens every transaction of [`retry`].
const BEGIN: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";

impl Tx {
    /// A connection about to begin its transaction: counted open from the start, so that dropping it before COMMIT
    /// or ROLLBACK closes the connection.
    fn opening(client: Object) -> Self {
        Self { client: Some(client), open: AtomicBool::new(true) }
    }

    async fn finish(&self, statement: &str) -> Result<(), tokio_postgres::Error> {
        let result = self.batch_execute(statement).await;
        if result.is_ok() {
            self.open.store(false, Ordering::SeqCst);
        }
        result
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// Runs `steps` (a [`super::pipeline`]) and COMMIT in one round trip, for a body whose last statements need no
    /// decision before the commit: the transaction is committed when every step and COMMIT succeed, and rolled back
    /// when a step fails (PostgreSQL answers the COMMIT of a failed transaction with a rollback). Either way it is
    /// over, and the helper sends no COMMIT of its own.
    ///
    /// # Errors
    /// [`TxError::Db`]: a step failed, and nothing was committed; [`TxError::Commit`]: COMMIT failed, which the
    /// helper retries (a serialization failure) or reports as of unknown outcome (the connection went away).
    pub async fn commit_with<E>(&self, steps: &[Step<'_>]) -> Result<Vec<Vec<Row>>, TxError<E>> {
        let statements = try_join_all(steps.iter().map(|(sql, _)| self.prepare_cached(sql))).await?;
        let runs = join_all(statements.iter().zip(steps).map(|(statement, (_, params))| self.query(statement, params)));
        let (results, committed) = join(runs, self.batch_execute("COMMIT")).await;
        if committed.is_ok() {
            self.open.store(false, Ordering::SeqCst);
        }
        match (results.into_iter().collect::<Result<Vec<_>, _>>(), committed) {
            (Ok(rows), Ok(())) => Ok(rows),
            // A statement failed: nothing was committed, whatever COMMIT answered (a rollback; or an error from a
            // server that wants an explicit ROLLBACK, which the helper sends while the Tx is still open).
            (Err(err), _) if !commit_outcome_unknown(&err) => Err(TxError::Db(err)),
            (_, Err(err)) => Err(TxError::Commit(err)),
            (Err(err), Ok(())) => Err(TxError::Db(err)),
        }
    }
}

/// Why a transaction body stopped.
#[derive(Debug)]
pub enum TxError<E> {
    /// A database error; retried when it is a serialization failure or a deadlock.
    Db(tokio_postgres::Error),
    /// A business answer (e.g. "seats taken"): roll back and return it, never retried.
    Abort(E),
    /// The COMMIT that the body sent itself ([`Tx::commit_with`]) failed: handled as the helper's own COMMIT.
    Commit(tokio_postgres::Error),
}

impl<E> From<tokio_postgres::Error> for TxError<E> {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Db(err)
    }
}

/// Why [`retry`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum RetryError<E> {
    /// The body returned a business answer.
    #[error("transaction aborted by its body")]
    Aborted(E),
    /// Every attempt hit a serialization failure or deadlock.
    #[error("transaction {tx} still conflicting after {attempts} attempts: {last}")]
    Exhausted {
        /// Transaction name.
        tx: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last conflict.
        last: tokio_postgres::Error,
    },
    /// COMMIT failed in a way that leaves its outcome unknown (40003, or the connection went away).
    #[error("transaction {tx}: outcome of COMMIT unknown: {source}")]
    AmbiguousCommit {
        /// Transaction name.
        tx: &'static str,
        /// What COMMIT returned.
        source: tokio_postgres::Error,
    },
    /// No connection could be had within the pool's timeouts.
    #[error("no database connection: {0}")]
    Pool(#[from] PoolError),
    /// Any other database error (a bug, a constraint the body did not expect, a lost connection before COMMIT).
    #[error("database error: {0}")]
    Db(tokio_postgres::Error),
}

impl<E: Into<ApiError>> From<RetryError<E>> for ApiError {
    fn from(err: RetryError<E>) -> Self {
        match err {
            RetryError::Aborted(answer) => answer.into(),
            RetryError::Exhausted { tx, attempts, last } => {
                ApiError::unavailable("too much contention on this resource right now; retry shortly", 1)
                    .caused_by(anyhow::Error::new(last).context(format!("{tx}: {attempts} attempts")))
            }
            RetryError::Pool(e) => ApiError::from(e),
            RetryError::AmbiguousCommit { tx, source } => ApiError::unavailable(
                "the outcome of this request is unknown; retry it with the same Idempotency-Key",
                1,
            )
            .caused_by(anyhow::Error::new(source).context(format!("{tx}: ambiguous commit"))),
            RetryError::Db(e) => ApiError::internal(e),
        }
    }
}

/// Which retryable condition a database error is, as the `reason` label of the retry metric.
fn retry_reason(err: &tokio_postgres::Error) -> Option<&'static str> {
    match err.code() {
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE => Some("serialization_failure"),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED => Some("deadlock"),
        _ => node_lost(err),
    }
}

/// Whether an error says that this connection's server is gone or no longer the primary, as the `reason` label of
/// the retry metric. A primary switch breaks connections in these ways (DESIGN.md §10): the old primary's backends
/// are terminated (57P01) or crash (57P02), a restarting node refuses sessions (57P03), a demoted node refuses
/// writes (25006), or the socket is reset or closed under the client (class 08, or no SQLSTATE at all). Before
/// COMMIT nothing was committed, so the transaction is run again on a fresh connection (which the pool makes to
/// the new primary); the broken connection is closed, never pooled again.
pub fn node_lost(err: &tokio_postgres::Error) -> Option<&'static str> {
    match err.code() {
        Some(code) if *code == SqlState::READ_ONLY_SQL_TRANSACTION => Some("read_only"),
        Some(code)
            if [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW].contains(code) =>
        {
            Some("node_shutdown")
        }
        Some(code) if code.code().starts_with("08") => Some("connection_lost"),
        Some(_) => None,
        None if err.is_closed() || is_io(err) => Some("connection_lost"),
        None => None,
    }
}

/// Whether the error came from the socket (reset, refused, timed out) rather than from a statement.
fn is_io(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A failed COMMIT: the error again when it is a conflict to retry, else what the helper returns.
fn retryable_commit_failure<E>(
    tx: &'static str,
    err: tokio_postgres::Error,
) -> Result<tokio_postgres::Error, RetryError<E>> {
    // Unknown first: a connection lost at COMMIT is also a lost node, but what it committed is not known.
    if commit_outcome_unknown(&err) {
        Err(RetryError::AmbiguousCommit { tx, source: err })
    } else if retry_reason(&err).is_some() {
        Ok(err)
    } else {
        Err(RetryError::Db(err))
    }
}

/// Whether a failed COMMIT may nonetheless have committed: 40003, a lost connection, or the server shutting the
/// session down while it waited for its synchronous standby (PostgreSQL has then committed locally: "the
/// transaction has already committed locally, but might not have been replicated").
fn commit_outcome_unknown(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&SqlState::T_R_STATEMENT_COMPLETION_UNKNOWN)
        || err.is_closed()
        || err.code().is_none()
        || node_lost(err).is_some_and(|reason| reason != "read_only")
}

/// Full-jitter back-off before attempt `attempt + 1`: uniform in `[0, min(max, base * 2^(attempt-1))]`.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy.base_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(policy.max_backoff);
    let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::rng().random_range(0..=micros))
}

/// Runs `body` in a SERIALIZABLE transaction on the write pool, retrying conflicts (see the module docs).
///
/// `tx` names the transaction in metrics (`boxoffice_db_tx_retries_total{tx,reason}`,
/// `boxoffice_db_tx_duration_seconds{tx,outcome}`) and logs.
///
/// # Errors
/// See [`RetryError`].
pub async fn retry<T, E, F, Fut>(db: &Db, tx: &'static str, body: F) -> Result<T, RetryError<E>>
where
    F: FnMut(Arc<Tx>) -> Fut,
    Fut: Future<Output = Result<T, TxError<E>>>,
{
    let started = Instant::now();
    let result = run(db, tx, body).await;
    let outcome = match &result {
        Ok(_) => "committed",
        Err(RetryError::Aborted(_)) => "aborted",
        Err(RetryError::Exhausted { .. }) => "exhausted",
        Err(RetryError::AmbiguousCommit { .. }) => "ambiguous",
        Err(RetryError::Pool(_) | RetryError::Db(_)) => "error",
    };
    metrics::histogram!("boxoffice_db_tx_duration_seconds", "tx" => tx, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
    result
}

async fn run<T, E, F, Fut>(db: &Db, tx: &'static str, mut body: F) -> Result<T, RetryError<E>>
where
    F: FnMut(Arc<Tx>) -> Fut,
    Fut: Future<Output = Result<T, TxError<E>>>,
{
    let policy = db.retry_policy;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let client = match db.write.get().await {
            Ok(client) => client,
            // The pool could not connect (the primary is being replaced, or a node refuses sessions): try again
            // within the attempts, the next connection may reach the new primary.
            Err(PoolError::Backend(err)) if node_lost(&err).is_some() && attempt < policy.max_attempts => {
                note_retry(tx, attempt, &policy, &err).await;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let transaction = Arc::new(Tx::opening(client));
        // BEGIN goes out in the same write as the body's first statements (one round trip fewer a transaction):
        // `join` polls BEGIN first, which queues its message on the connection before the body's. PostgreSQL runs
        // them in that order. BEGIN cannot fail on a connection that is not in a transaction (the pool never hands
        // out one that is: see `Tx`'s drop) unless the connection is lost, and then the body's statements are lost
        // with it; if it ever failed, the result is an error and the connection is closed, never committed.
        let (begun, body_result) = join(transaction.batch_execute(BEGIN), body(transaction.clone())).await;
        if let Err(err) = begun {
            // Nothing of this attempt can have committed: BEGIN itself failed. A node that refuses SERIALIZABLE
            // (0A000) is a hot standby: a balancer or a multi-host URL reached a replica that Patroni is still
            // promoting, or a demoted primary. Like a lost node, its connection is closed and the attempt rerun.
            let standby = err.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED);
            if node_lost(&err).is_none() && !standby {
                return Err(RetryError::Db(err));
            }
            drop(body_result);
            drop(transaction);
            if attempt >= policy.max_attempts {
                return Err(RetryError::Exhausted { tx, attempts: attempt, last: err });
            }
            note_retry(tx, attempt, &policy, &err).await;
            continue;
        }
        // Ends the transaction if the body has not (a failed ROLLBACK leaves the Tx open, and its drop closes the
        // connection).
        let roll_back = || async {
            if transaction.is_open() {
                let _ = transaction.finish("ROLLBACK").await;
            }
        };
        let conflict = match body_result {
            Ok(value) if !transaction.is_open() => return Ok(value),
            Ok(value) => match transaction.finish("COMMIT").await {
                Ok(()) => return Ok(value),
                Err(err) => {
                    let err = retryable_commit_failure(tx, err)?;
                    // PostgreSQL ends the transaction on a failed COMMIT; the ROLLBACK is a harmless no-op there
                    // and required on CockroachDB.
                    roll_back().await;
                    err
                }
            },
            Err(TxError::Commit(err)) => {
                let err = retryable_commit_failure(tx, err)?;
                roll_back().await;
                err
            }
            Err(TxError::Abort(answer)) => {
                roll_back().await;
                return Err(RetryError::Aborted(answer));
            }
            // The node went away or is no longer the primary: no ROLLBACK (it would hand a connection to a dead or
            // demoted node back to the pool); the Tx, still open, closes the connection when dropped below.
            Err(TxError::Db(err)) if node_lost(&err).is_some() => err,
            Err(TxError::Db(err)) => {
                roll_back().await;
                if retry_reason(&err).is_none() {
                    return Err(RetryError::Db(err));
                }
                err
            }
        };
        drop(transaction);
        if attempt >= policy.max_attempts {
            metrics::counter!("boxoffice_db_tx_retries_total", "tx" => tx, "reason" => retry_reason(&conflict).unwrap_or("unknown"))
                .increment(1);
            tracing::warn!(tx, attempts = attempt, error = %conflict, "transaction retries exhausted");
            return Err(RetryError::Exhausted { tx, attempts: attempt, last: conflict });
        }
        note_retry(tx, attempt, &policy, &conflict).await;
    }
}

/// Counts a retry of `tx` and sleeps its back-off.
async fn note_retry(tx: &'static str, attempt: u32, policy: &RetryPolicy, err: &tokio_postgres::Error) {
    let reason = retry_reason(err).unwrap_or("unknown");
    metrics::counter!("boxoffice_db_tx_retries_total", "tx" => tx, "reason" => reason).increment(1);
    tracing::debug!(tx, attempt, reason, error = %err, "transaction failed before COMMIT; retrying");
    tokio::time::sleep(backoff(policy, attempt)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Axum handlers need `Send` futures: a body borrowing caller data must still give one.
    #[expect(dead_code, reason = "a compile-time check: it only has to type-check")]
    async fn bodies_borrowing_caller_data_are_send(db: &Db) {
        let owned = vec!["A1".to_owned(), "A2".to_owned()];
        let seats = &owned;
        let fut = retry::<u64, (), _, _>(db, "send_check", |tx| async move {
            let n = tx.execute("SELECT $1::text[]", &[seats]).await?;
            Ok(n)
        });
        assert_send(&fut);
        let _ = fut.await;
    }

    #[test]
    fn backoff_stays_under_a_doubling_capped_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_backoff: Duration::from_millis(4),
            max_backoff: Duration::from_millis(50),
        };
        for attempt in 1..=12 {
            let ceiling = Duration::from_millis((4u64 << (attempt - 1)).min(50));
            for _ in 0..200 {
                assert!(backoff(&policy, attempt) <= ceiling, "attempt {attempt}");
            }
        }
        // Full jitter really spreads: over many draws at a 50 ms ceiling, some land in each half.
        let draws: Vec<_> = (0..400).map(|_| backoff(&policy, 8)).collect();
        assert!(draws.iter().any(|d| *d < Duration::from_millis(25)));
        assert!(draws.iter().any(|d| *d >= Duration::from_millis(25)));
    }
}
