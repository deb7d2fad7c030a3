//! The Prometheus recorder, the catalogue of every metric the service exports, and the samplers and listener that
//! go with them.
//!
//! Names are snake_case with their unit (`_seconds`, `_total` for counters); business series start with
//! `boxoffice_`; labels are low-cardinality: route templates (never raw paths), fixed outcome words, pool and cache
//! names. Histograms use explicit buckets ([`LATENCY_BUCKETS`]). Every metric is described here, with its HELP
//! text, even when another module emits it, so `/metrics` documents itself and the dashboard and alert rules
//! (k8s/monitoring/, checked against [`CATALOGUE`] by `scripts/k8s-check.sh`) have one list to refer to.
//!
//! `/metrics` is served on the public port, or, when `BOXOFFICE_METRICS_ADDR` is set, only on that separate
//! listener ([`ops_router`]), which the worker also uses.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::Unit;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cache::Redis;
use crate::db::Db;

/// Bucket bounds (seconds) of every `*_seconds` histogram: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often [`sample_pools`] records the pool gauges.
pub const POOL_SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// The commit the binary was built from: `BOXOFFICE_GIT_SHA` at compile time (the Dockerfile passes it), else
/// `unknown`.
pub const GIT_SHA: &str = match option_env!("BOXOFFICE_GIT_SHA") {
    Some(sha) => sha,
    None => "unknown",
};

/// What kind of series a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total`).
    Counter,
    /// Goes up and down, or is a state.
    Gauge,
    /// Observations in [`LATENCY_BUCKETS`] (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Its name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Its unit, if it has one.
    pub unit: Option<Unit>,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// The HELP text (label values are listed in it).
    pub help: &'static str,
}

const fn counter(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind: Kind::Counter, unit: None, labels, help }
}

const fn gauge(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind: Kind::Gauge, unit: None, labels, help }
}

const fn seconds(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind: Kind::Histogram, unit: Some(Unit::Seconds), labels, help }
}

/// Every metric the service exports (k8s/monitoring/README.md, "Metrics", is this table).
pub const CATALOGUE: &[Metric] = &[
    // HTTP (RED by route template)
    seconds(
        "http_server_request_duration_seconds",
        &["method", "route", "status"],
        "HTTP request latency by method, route template (unmatched for no route) and status code",
    ),
    // Bookings
    counter(
        "boxoffice_bookings_total",
        &["outcome"],
        "Booking operations by outcome: held, replayed (an Idempotency-Key answered again), conflict (409, a seat \
         was taken), rejected (other 4xx), paid, payment_failed, canceled, error",
    ),
    counter("boxoffice_seats_claimed_total", &[], "Seats claimed by committed holds"),
    // Tickets
    counter(
        "boxoffice_checkins_total",
        &["outcome", "mode"],
        "Ticket scans at the door by outcome: admitted, replayed (the same scanner's retry), already_admitted (409), \
         canceled (410), forged (400), wrong_showtime (409); mode online (POST /checkins) or offline (uploads)",
    ),
    counter(
        "boxoffice_seat_gate_refusals_total",
        &["reason"],
        "Holds answered 409 by the seat gate without a transaction (also counted as conflicts), by why: claiming \
         (another hold of the pod is claiming a seat) or claimed (a hold of the pod committed it moments ago)",
    ),
    counter(
        "boxoffice_hold_batches_total",
        &[],
        "Transactions of holds committed together because every write connection was busy (booking::combine)",
    ),
    counter(
        "boxoffice_hold_batch_members_total",
        &[],
        "Holds sent in those transactions (divided by boxoffice_hold_batches_total: the mean batch size)",
    ),
    counter(
        "boxoffice_holds_expired_total",
        &["by"],
        "Holds that expired unpaid, by what expired them: sweeper (worker), takeover (a new hold took a lapsed seat), \
         payment (a failed payment found the hold lapsed)",
    ),
    // Database
    counter(
        "boxoffice_db_tx_retries_total",
        &["tx", "reason"],
        "Serializable transaction retries, by transaction and reason (serialization_failure, deadlock; a node lost \
         before COMMIT: node_shutdown, read_only, connection_lost)",
    ),
    counter(
        "boxoffice_db_pool_fallbacks_total",
        &["from"],
        "Reads served by the other pool because this one could not connect: from read (catalog reads on the \
         primary) or write (seat maps from a replica during a failover)",
    ),
    seconds(
        "boxoffice_db_tx_duration_seconds",
        &["tx", "outcome"],
        "Duration of a serializable transaction including its retries, by transaction and outcome (committed, \
         aborted, exhausted, ambiguous, error)",
    ),
    seconds(
        "boxoffice_db_query_duration_seconds",
        &["query"],
        "Duration of individually timed statements (background jobs, audits), by statement",
    ),
    gauge(
        "boxoffice_db_pool_connections",
        &["pool", "state"],
        "Database connections by pool (write, read) and state: max (configured size), size (open), available \
         (open and idle), waiting (tasks queued for one)",
    ),
    // Redis
    counter(
        "boxoffice_cache_requests_total",
        &["cache", "result"],
        "Redis cache lookups by cache and result: hit, miss, error (Redis down or slow; the database answered); \
         memory (seats: served from the pod's memory, neither Redis nor the database asked)",
    ),
    gauge("boxoffice_redis_pool_connections", &["state"], "Redis connections by state: size (open), idle"),
    // Rate limits
    counter(
        "boxoffice_rate_limited_total",
        &["scope"],
        "Requests refused with 429, by limiter scope (e.g. pod, user_writes, login)",
    ),
    // Payments
    counter(
        "boxoffice_payments_total",
        &["outcome"],
        "Payment provider calls (charges and refunds) by outcome: succeeded, declined, failed (provider error or \
         refusal), timeout (outcome unknown), refunded",
    ),
    counter(
        "boxoffice_payments_reconciled_total",
        &["outcome"],
        "Charges of unknown outcome settled by the worker's reconciler: paid_or_refunded, declined, not_charged",
    ),
    seconds("boxoffice_payment_duration_seconds", &["outcome"], "Payment provider call latency, by outcome"),
    gauge(
        "boxoffice_payment_circuit_state",
        &[],
        "State of the payment provider circuit breaker: 0 closed, 1 half-open, 2 open",
    ),
    // Outbox
    gauge("boxoffice_outbox_pending", &[], "Outbox events not yet sent"),
    gauge("boxoffice_outbox_oldest_pending_seconds", &[], "Age of the oldest unsent outbox event, in seconds"),
    counter(
        "boxoffice_mails_total",
        &["topic", "outcome"],
        "Booking mails by topic and outcome: sent, rejected (refused for good), skipped (no mail), failed (retried)",
    ),
    // Audit, worker, identity
    gauge(
        "boxoffice_audit_double_bookings",
        &["check"],
        "Result of the last double-booking audit (sql/queries/audit/double_bookings.sql), by check: \
         duplicate_seats, foreign_claims. Anything but 0 breaks invariant I1",
    ),
    counter(
        "boxoffice_worker_runs_total",
        &["task", "outcome"],
        "Background job runs by task and outcome (ok, idle, error, timeout: abandoned after its timeout)",
    ),
    seconds("boxoffice_worker_run_seconds", &["task"], "Duration of a background job run, by task"),
    gauge(
        "boxoffice_holds_lapsed_pending",
        &[],
        "Reserved bookings past their hold not yet expired by the sweeper (counted after each sweep, capped at 10 M)",
    ),
    gauge(
        "boxoffice_holds_lapsed_oldest_seconds",
        &[],
        "How long ago the oldest hold not yet expired lapsed, in seconds (after each sweep; 0 when none)",
    ),
    counter(
        "boxoffice_sweep_contention_total",
        &[],
        "Sweeper chunks that exhausted their retries against concurrent holds (each is tried again at half the size)",
    ),
    gauge(
        "boxoffice_sweep_chunk_size",
        &[],
        "Lapsed holds the sweeper expires per SERIALIZABLE transaction now (at most 100; halved on contention)",
    ),
    counter("boxoffice_users_registered_total", &[], "Accounts created"),
    counter("boxoffice_logins_total", &["outcome"], "Login attempts by outcome (ok, refused)"),
    // Build
    gauge("boxoffice_build_info", &["version", "git_sha"], "Always 1; the labels name the running build"),
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle (later calls return the same handle, so tests
/// that build several applications in one process share it). Describes the catalogue and sets
/// `boxoffice_build_info`.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("the bucket list is non-empty");
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is already installed (an embedding program): render ours detached.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            describe();
            metrics::gauge!("boxoffice_build_info", "version" => env!("CARGO_PKG_VERSION"), "git_sha" => GIT_SHA)
                .set(1.0);
            handle
        })
        .clone()
}

fn describe() {
    for m in CATALOGUE {
        match (m.kind, m.unit) {
            (Kind::Counter, _) => metrics::describe_counter!(m.name, m.help),
            (Kind::Gauge, _) => metrics::describe_gauge!(m.name, m.help),
            (Kind::Histogram, Some(unit)) => metrics::describe_histogram!(m.name, unit, m.help),
            (Kind::Histogram, None) => metrics::describe_histogram!(m.name, m.help),
        }
    }
}

/// Records the duration of `work` in `boxoffice_db_query_duration_seconds{query}` and returns its output.
pub async fn timed<T>(query: &'static str, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let output = work.await;
    metrics::histogram!("boxoffice_db_query_duration_seconds", "query" => query)
        .record(started.elapsed().as_secs_f64());
    output
}

/// Records the pool gauges once: `boxoffice_db_pool_connections` for both database pools and, with Redis,
/// `boxoffice_redis_pool_connections`.
pub fn record_pools(db: &Db, redis: Option<&Redis>) {
    for (pool, status) in [("write", db.write.status()), ("read", db.read.status())] {
        for (state, value) in [
            ("max", status.max_size),
            ("size", status.size),
            ("available", status.available),
            ("waiting", status.waiting),
        ] {
            metrics::gauge!("boxoffice_db_pool_connections", "pool" => pool, "state" => state).set(value as f64);
        }
    }
    if let Some(redis) = redis {
        let (size, idle) = redis.pool_state();
        for (state, value) in [("size", size), ("idle", idle)] {
            metrics::gauge!("boxoffice_redis_pool_connections", "state" => state).set(f64::from(value));
        }
    }
}

/// Records the pool gauges every [`POOL_SAMPLE_INTERVAL`] (the first time at once) until `shutdown`.
pub async fn sample_pools(db: Db, redis: Option<Redis>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(POOL_SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => record_pools(&db, redis.as_ref()),
        }
    }
}

/// The router of the separate metrics listener (`BOXOFFICE_METRICS_ADDR`): `GET /metrics` and `GET /healthz`
/// (the worker's liveness probe; it has no other HTTP port).
pub fn ops_router(handle: PrometheusHandle) -> Router {
    Router::new().route("/metrics", get(render)).route("/healthz", get(|| async { "ok" })).with_state(handle)
}

/// Serves [`ops_router`] on `listener` until `shutdown`.
///
/// # Errors
/// The server failed.
pub async fn serve_ops(
    listener: TcpListener,
    handle: PrometheusHandle,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, ops_router(handle)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition format (on `BOXOFFICE_METRICS_ADDR` instead when it is set)", content_type = "text/plain", body = String),
))]
pub async fn render(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_follow_the_conventions() {
        let mut seen = std::collections::HashSet::new();
        for m in CATALOGUE {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(
                m.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{} is not snake_case",
                m.name
            );
            assert!(
                m.name.starts_with("boxoffice_") || m.name.starts_with("http_server_"),
                "{} lacks a prefix",
                m.name
            );
            match m.kind {
                Kind::Counter => assert!(m.name.ends_with("_total"), "counter {} must end in _total", m.name),
                Kind::Histogram => {
                    assert_eq!(m.unit, Some(Unit::Seconds), "{}", m.name);
                    assert!(m.name.ends_with("_seconds"), "histogram {} must carry its unit", m.name);
                }
                Kind::Gauge => assert!(!m.name.ends_with("_total"), "gauge {} must not end in _total", m.name),
            }
            assert!(
                !m.labels.contains(&"job") && !m.labels.contains(&"instance"),
                "{}: Prometheus owns job/instance",
                m.name
            );
            assert!(m.help.len() > 10, "{} needs a real HELP text", m.name);
        }
    }

    #[test]
    fn buckets_are_increasing() {
        assert!(LATENCY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}
