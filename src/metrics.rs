//! The Prometheus recorder and the HTTP metrics of every request.
//!
//! Names are snake_case with units; business counters start with `boxoffice_`; labels are low-cardinality (the
//! route template, never the raw path). Histograms use explicit buckets suited to a service whose p99 goal is
//! milliseconds.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds (seconds) of every `*_seconds` histogram: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle (later calls return the same handle, so tests
/// that build several applications in one process share it).
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
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_histogram!(
        "http_server_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method, route template and status"
    );
    describe_counter!(
        "boxoffice_db_tx_retries_total",
        "Serializable transaction retries, by transaction and reason (serialization_failure, deadlock)"
    );
    describe_histogram!(
        "boxoffice_db_tx_duration_seconds",
        Unit::Seconds,
        "Duration of a serializable transaction including its retries, by transaction and outcome"
    );
    describe_counter!("boxoffice_users_registered_total", "Accounts created");
    describe_counter!("boxoffice_logins_total", "Login attempts by outcome (ok, refused)");
    describe_counter!("boxoffice_worker_runs_total", "Background job runs by job and outcome");
    describe_counter!(
        "boxoffice_bookings_total",
        "Booking requests and events by outcome (held, replayed, seats_unavailable, seat_limit, refused, error, paid, canceled)"
    );
    describe_counter!("boxoffice_seats_claimed_total", "Seats claimed by committed holds");
    describe_counter!(
        "boxoffice_holds_expired_total",
        "Holds expired, by what expired them (sweeper, takeover, payment)"
    );
    describe_counter!(
        "boxoffice_payments_total",
        "Payment provider calls by outcome (succeeded, declined, failed, timeout, provider_error, rejected, circuit_open, refunded, refund_failed)"
    );
    describe_counter!(
        "boxoffice_payments_reconciled_total",
        "Unresolved payments resolved by the reconciler, by outcome"
    );
    metrics::describe_gauge!(
        "boxoffice_payment_circuit_state",
        "Payment circuit breaker: 0 closed, 1 open, 2 half-open"
    );
}
