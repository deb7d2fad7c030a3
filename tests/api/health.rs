//! Liveness, readiness (including a database that goes away and comes back), metrics, graceful shutdown.

use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use reqwest::StatusCode;

use crate::helpers::booking::sum_of;
use crate::helpers::{
    TestApp, app_behind_proxy, database_url, expect_problem, expect_status, fresh_database, pg_addr, test_config,
};
use crate::proxy::Proxy;

/// A database timeout short enough for the outage tests to see it fire.
const DB_TIMEOUT: &[(&str, &str)] = &[("BOXOFFICE_DB_TIMEOUT_MS", "500")];

#[tokio::test]
async fn healthz_answers_without_any_dependency() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_REDIS_URL", "redis://127.0.0.1:1")]).await;
    let body = expect_status(app.get("/healthz", None).await, StatusCode::OK).await;
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_the_database_and_redis_up() {
    let app = TestApp::spawn().await;
    let body = expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(body["checks"]["database"], "up");
    assert_eq!(body["checks"]["redis"], "up");
}

#[tokio::test]
async fn readyz_stays_ready_with_redis_down_and_says_so() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_REDIS_URL", "redis://127.0.0.1:1")]).await;
    let body = expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["checks"]["database"], "up");
}

#[tokio::test]
async fn readyz_is_503_promptly_when_the_database_stops_and_recovers_when_it_returns() {
    let (app, proxy) = app_behind_proxy(DB_TIMEOUT).await;
    expect_status(app.get("/readyz", None).await, StatusCode::OK).await;

    proxy.cut();
    let started = Instant::now();
    let body =
        expect_problem(app.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE, "service-unavailable").await;
    assert_eq!(body["checks"]["database"], "down");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get("/readyz", None).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} after the database came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_only_the_read_database_up_readyz_is_degraded_and_seat_maps_still_answer() {
    // The primary behind a proxy the test cuts (a failover in progress); the read database reached directly.
    let db = fresh_database().await;
    let proxy = Proxy::start(pg_addr()).await;
    let direct = database_url(&db);
    let primary = direct.replace(&pg_addr().to_string(), &proxy.addr().to_string());
    let vars = [
        ("BOXOFFICE_DATABASE_URL", primary.as_str()),
        ("BOXOFFICE_READ_DATABASE_URL", direct.as_str()),
        ("BOXOFFICE_DB_TIMEOUT_MS", "500"),
    ];
    let app = TestApp::spawn_on(&db, test_config(&db, &vars)).await;
    let show = crate::helpers::booking::show(&app, 1).await;

    proxy.cut();
    let body = expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["database"], "down");
    assert_eq!(body["checks"]["readDatabase"], "up");
    // Built from the replica while the primary is away, instead of a 503.
    expect_status(app.get(&format!("/showtimes/{}/seats", show.id), None).await, StatusCode::OK).await;
}

#[tokio::test]
async fn readyz_does_not_hang_on_a_database_that_never_answers() {
    let (app, proxy) = app_behind_proxy(DB_TIMEOUT).await;
    proxy.blackhole();
    let started = Instant::now();
    expect_problem(app.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE, "service-unavailable").await;
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn metrics_expose_request_latency_by_route_template() {
    // A recorder of this test's own, with the service's buckets: the test, the server and its handlers share one
    // thread (tokio's current-thread runtime), so the counts below are this test's requests and no other test's.
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), boxoffice::metrics::LATENCY_BUCKETS)
        .expect("buckets")
        .build_recorder();
    let samples = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::spawn().await;
    app.get("/healthz", None).await;
    app.get("/users/me", None).await;
    app.get("/users/me", None).await;

    let text = samples.render();
    assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"), "{text}");
    let count = |labels: &[&str]| sum_of(&text, "http_server_request_duration_seconds_count", labels);
    assert_eq!(count(&[r#"route="/users/me""#, r#"status="401""#]), 2.0, "{text}");
    assert_eq!(count(&[r#"route="/healthz""#, r#"status="200""#]), 1.0, "{text}");
    assert_eq!(count(&[]), 3.0, "only this test's requests: {text}");
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK, "/metrics serves the process's recorder");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz", None).await;
    assert!(response.headers().contains_key("x-request-id"));
    let response =
        app.request(reqwest::Method::GET, "/healthz").header("x-request-id", "abc-123").send().await.expect("sent");
    assert_eq!(response.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn a_request_id_too_long_or_with_odd_characters_is_replaced_by_a_fresh_one() {
    let app = TestApp::spawn().await;
    let echoed = |id: String| {
        let app = &app;
        async move {
            let response =
                app.request(reqwest::Method::GET, "/healthz").header("x-request-id", &id).send().await.expect("sent");
            response.headers()["x-request-id"].to_str().expect("ascii").to_owned()
        }
    };
    let longest = "a".repeat(128);
    assert_eq!(echoed(longest.clone()).await, longest, "128 plain characters are kept");
    assert_eq!(echoed("trace-1:span.2_x".into()).await, "trace-1:span.2_x");
    for unfit in ["a".repeat(129), "x".repeat(3000), "id with spaces".into(), "<script>".into(), "a\"b".into()] {
        let id = echoed(unfit.clone()).await;
        assert_ne!(id, unfit);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{unfit:.20}... was replaced by a UUID, not {id}");
    }
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_and_then_stops_listening() {
    let (mut app, proxy) = app_behind_proxy(DB_TIMEOUT).await;
    // A request that takes about the database timeout (500 ms) to answer.
    proxy.blackhole();
    let in_flight = tokio::spawn({
        let request = app.request(reqwest::Method::GET, "/readyz");
        async move { request.send().await }
    });
    // The request is in its handler once the handler's database connection hangs in the black hole.
    tokio::time::timeout(Duration::from_secs(5), proxy.holding())
        .await
        .expect("the readiness check reached the database");
    app.shutdown.cancel();
    let response = in_flight.await.expect("joined").expect("the in-flight request got an answer");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let finished = tokio::time::timeout(Duration::from_secs(5), &mut app.server).await;
    assert!(finished.is_ok(), "the server did not stop after draining");
    assert!(app.get_result("/healthz").await.is_err(), "still accepting after shutdown");
}

#[tokio::test]
async fn a_request_past_the_timeout_gets_a_503_timeout_problem() {
    let (app, proxy) =
        app_behind_proxy(&[("BOXOFFICE_DB_TIMEOUT_MS", "5000"), ("BOXOFFICE_REQUEST_TIMEOUT_MS", "300")]).await;
    // A token minted from the app's own keys: no registration, so no argon2 time inside the short timeout.
    let user = boxoffice::auth::model::UserId(uuid::Uuid::new_v4());
    let token = app.state.tokens.issue(user, boxoffice::auth::model::Role::Customer).expect("signed").token;
    proxy.blackhole();
    let started = Instant::now();
    expect_problem(app.get("/users/me", Some(&token)).await, StatusCode::SERVICE_UNAVAILABLE, "timeout").await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3), "took {elapsed:?}");
}
