//! Operations: the separate metrics listener, the build and pool gauges, the double-booking audit, follower reads
//! on the read pool.

use boxoffice::app::{Application, Routes};
use boxoffice::db::{Dialect, Region};
use boxoffice::worker::{self, DoubleBookingAudit};
use metrics_exporter_prometheus::PrometheusBuilder;
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{TestApp, expect_problem, fresh_database, server_dialect, test_config};

/// The value of the series `name{labels}` in a Prometheus text exposition (labels in the exporter's order).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port_and_not_on_the_public_one_when_configured() {
    let db = fresh_database().await;
    let config = test_config(&db, &[("BOXOFFICE_METRICS_ADDR", "127.0.0.1:0")]);
    let app = Application::build(config, Routes::All).await.expect("builds");
    let public = format!("http://{}", app.local_addr().expect("bound"));
    let ops = format!("http://{}", app.metrics_addr().expect("a metrics listener"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until(shutdown.clone()));
    let client = reqwest::Client::new();

    client.get(format!("{public}/healthz")).send().await.expect("served");
    let response = client.get(format!("{ops}/metrics")).send().await.expect("served");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");
    assert!(text.contains("# HELP http_server_request_duration_seconds "), "{text}");
    assert!(text.contains(r#"route="/healthz""#), "the public port's requests are measured: {text}");
    assert!(
        text.lines().any(|l| l.starts_with("boxoffice_build_info{")
            && l.contains(&format!(r#"version="{}""#, env!("CARGO_PKG_VERSION")))
            && l.ends_with(" 1")),
        "{text}"
    );
    let health = client.get(format!("{ops}/healthz")).send().await.expect("served");
    assert_eq!(health.status(), StatusCode::OK, "the worker's liveness probe lives here");

    let hidden = client.get(format!("{public}/metrics")).send().await.expect("served");
    expect_problem(hidden, StatusCode::NOT_FOUND, "not-found").await;

    shutdown.cancel();
    server.await.expect("joined").expect("clean shutdown");
}

#[tokio::test]
async fn the_pool_gauges_are_sampled_while_the_service_runs() {
    let app = TestApp::spawn().await;
    // The sampler records at start; other tests' applications share the process-wide recorder, so only the
    // presence of every series is asserted here (values: the next test).
    let mut text = String::new();
    for _ in 0..50 {
        text = app.get("/metrics", None).await.text().await.expect("text");
        if text.contains("boxoffice_redis_pool_connections{") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for pool in ["write", "read"] {
        for state in ["max", "size", "available", "waiting"] {
            let series = format!(r#"boxoffice_db_pool_connections{{pool="{pool}",state="{state}"}}"#);
            assert!(sample(&text, &series).is_some(), "{series} missing from:\n{text}");
        }
    }
    assert!(text.contains("# HELP boxoffice_db_pool_connections "), "{text}");
}

#[tokio::test]
async fn the_pool_gauges_count_connections_in_use_and_waiting() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_DB_POOL_SIZE", "2")]).await;
    let db = &app.state.db;
    let first = db.write.get().await.expect("connection");
    let second = db.write.get().await.expect("connection");
    let waiter = tokio::spawn({
        let pool = db.write.clone();
        async move { pool.get().await.map(drop) }
    });
    while db.write.status().waiting == 0 {
        tokio::task::yield_now().await;
    }
    // A recorder of this test's own, so that no other application's sampler interferes.
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || boxoffice::metrics::record_pools(db, Some(&app.state.redis)));
    let text = handle.render();
    let value =
        |state: &str| sample(&text, &format!(r#"boxoffice_db_pool_connections{{pool="write",state="{state}"}}"#));
    assert_eq!(value("max"), Some(2.0), "{text}");
    assert_eq!(value("size"), Some(2.0), "{text}");
    assert_eq!(value("available"), Some(0.0), "{text}");
    assert_eq!(value("waiting"), Some(1.0), "{text}");
    assert!(sample(&text, r#"boxoffice_redis_pool_connections{state="size"}"#).is_some(), "{text}");
    drop((first, second));
    waiter.await.expect("joined").expect("the waiter gets a connection once one is returned");
}

/// A booking row written directly: the audit must judge what is in the tables, whatever wrote it.
async fn insert_booking(
    client: &deadpool_postgres::Object,
    (region, showtime): (&str, Uuid),
    user: Uuid,
    status: &str,
    seat: &str,
    hold_minutes: Option<i64>,
) -> Uuid {
    let seats = json!([{ "label": seat, "kind": "standard", "price": 1250 }]);
    let region = Region::new(region);
    let row = client
        .query_one(
            "INSERT INTO bookings (region, user_id, showtime_id, status, seats, seat_count, total_amount, currency, \
             hold_expires_at) \
             VALUES ($1, $2, $3, $4, $5, 1, 1250, 'USD', now() + $6 * INTERVAL '1 minute') RETURNING id",
            &[&region, &user, &showtime, &status, &seats, &hold_minutes.map(|m| m as f64)],
        )
        .await
        .expect("insert booking");
    row.get(0)
}

async fn claim(client: &deadpool_postgres::Object, (region, showtime): (&str, Uuid), seat: &str, booking: Uuid) {
    client
        .execute(
            "INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id) VALUES ($1, $2, $3, $4)",
            &[&Region::new(region), &showtime, &seat, &booking],
        )
        .await
        .expect("insert claim");
}

#[tokio::test]
async fn the_double_booking_audit_counts_a_seat_sold_twice_and_nothing_else() {
    let app = TestApp::spawn().await;
    let client = app.db().await;
    let row = client
        .query_one("SELECT region::TEXT, id FROM showtimes ORDER BY start_time, id LIMIT 1", &[])
        .await
        .expect("a demo showtime");
    let (region, showtime): (String, Uuid) = (row.get(0), row.get(1));
    let show = (region.as_str(), showtime);
    let (user, _) = app.customer().await;

    // Healthy: a paid booking with its claim, an expired hold on the same seat, a live hold on another seat.
    let paid = insert_booking(&client, show, user, "paid", "A1", None).await;
    claim(&client, show, "A1", paid).await;
    insert_booking(&client, show, user, "expired", "A1", Some(-30)).await;
    insert_booking(&client, show, user, "reserved", "A1", Some(-1)).await;
    let held = insert_booking(&client, show, user, "reserved", "A2", Some(10)).await;
    claim(&client, show, "A2", held).await;
    let healthy = worker::audit_double_bookings(&app.state.db).await.expect("audit runs");
    assert_eq!(healthy, DoubleBookingAudit::default(), "expired holds and distinct seats are no double booking");

    // Broken: a second live booking lists A1, which the first booking's claim holds.
    insert_booking(&client, show, user, "payment_pending", "A1", Some(5)).await;
    let broken = worker::audit_double_bookings(&app.state.db).await.expect("audit runs");
    assert_eq!(broken, DoubleBookingAudit { duplicate_seats: 1, foreign_claims: 1 });

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || broken.record());
    let text = handle.render();
    assert_eq!(sample(&text, r#"boxoffice_audit_double_bookings{check="duplicate_seats"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"boxoffice_audit_double_bookings{check="foreign_claims"}"#), Some(1.0), "{text}");
}

#[tokio::test]
async fn the_worker_runs_the_audit_and_exports_it() {
    let app = TestApp::spawn().await;
    let shutdown = CancellationToken::new();
    let job = tokio::spawn(worker::run(
        app.state.db.clone(),
        app.state.bookings.clone(),
        boxoffice::notify::Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher"),
        app.state.config.worker,
        shutdown.clone(),
    ));
    // The audit's first run is at start; its counter and gauges land in the process-wide recorder.
    let mut text = String::new();
    for _ in 0..100 {
        text = app.get("/metrics", None).await.text().await.expect("text");
        if text.contains(r#"task="audit_double_bookings""#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    job.await.expect("the worker stops on shutdown");
    assert!(
        text.lines().any(|l| l.starts_with("boxoffice_worker_runs_total{")
            && l.contains(r#"task="audit_double_bookings""#)
            && l.contains(r#"outcome="ok""#)),
        "{text}"
    );
    assert!(text.contains(r#"boxoffice_audit_double_bookings{check="duplicate_seats"}"#), "{text}");
}

/// On CockroachDB every read-pool session reads from followers; the write pool never does. Against PostgreSQL the
/// same configuration proves the hook runs on the read pool only: PostgreSQL rejects the unknown setting there.
#[tokio::test]
async fn the_read_pool_and_only_it_turns_on_follower_reads_on_cockroach() {
    let db = fresh_database().await;
    let config = test_config(&db, &[("BOXOFFICE_DB_DIALECT", "cockroach")]);
    let pools = boxoffice::db::Db::connect(&config.database).await.expect("pools");
    let write = pools.write.get().await.expect("the write pool is untouched");
    write.simple_query("SELECT 1").await.expect("write pool works");
    match server_dialect().await {
        Dialect::Cockroach => {
            let read = pools.read.get().await.expect("read connection");
            let row = read.query_one("SHOW default_transaction_use_follower_reads", &[]).await.expect("show");
            assert_eq!(row.get::<_, String>(0), "on");
        }
        Dialect::Postgres => {
            let err = pools.read.get().await.expect_err("PostgreSQL refuses the CockroachDB setting");
            let refused = match &err {
                deadpool_postgres::PoolError::PostCreateHook(deadpool_postgres::HookError::Backend(e)) => {
                    e.as_db_error().map(|db| db.message().to_owned())
                }
                _ => None,
            };
            assert!(
                refused.as_deref().is_some_and(|m| m.contains("default_transaction_use_follower_reads")),
                "{err:?}"
            );
        }
    }
    // And with the PostgreSQL dialect no setting is sent at all.
    let config = test_config(&db, &[("BOXOFFICE_DB_DIALECT", "postgres")]);
    if server_dialect().await == Dialect::Postgres {
        let pools = boxoffice::db::Db::connect(&config.database).await.expect("pools");
        drop(pools.read.get().await.expect("plain read connection"));
    }
}
