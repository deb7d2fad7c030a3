//! Rate limits: the per-pod limiter, the Redis-backed ones, their 429 and headers, and Redis going away.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use axum::routing::post;
use axum::{Router, middleware};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::{TestApp, expect_problem, expect_status, fresh_database, redis_url, test_config};
use crate::proxy::Proxy;

fn header(response: &Response, name: &str) -> String {
    response.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", ")
}

/// The member of policy `policy` in a `RateLimit-Policy` or `RateLimit` list (several policies may apply).
fn member(response: &Response, name: &str, policy: &str) -> String {
    let list = header(response, name);
    let prefix = format!("\"{policy}\";");
    list.split(", ")
        .find(|m| m.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {policy} in {name}: {list}"))
        .to_owned()
}

/// Sends `send` until it is refused (at most `max` times); returns how many were allowed first and the refusal.
async fn until_refused<F, Fut>(max: usize, mut send: F) -> (usize, Response)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    for allowed in 0..max {
        let response = send().await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return (allowed, response);
        }
        assert!(!response.status().is_server_error(), "{}", response.status());
    }
    panic!("still not refused after {max} requests");
}

/// A recorder of the calling test's own, installed for its thread: the test and the server share that thread
/// (tokio's current-thread runtime), so what it counts is this test's and no other test's. Keep the guard alive.
/// The recorder is leaked (a few hundred bytes a test) so that the guard can outlive this function.
fn own_recorder() -> (PrometheusHandle, metrics::LocalRecorderGuard<'static>) {
    let recorder: &'static PrometheusRecorder = Box::leak(Box::new(PrometheusBuilder::new().build_recorder()));
    (recorder.handle(), metrics::set_default_local_recorder(recorder))
}

/// Parses `name value` from the recorder's text (0 when absent).
fn counter(samples: &PrometheusHandle, name_and_labels: &str) -> f64 {
    samples
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(name_and_labels).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn an_address_over_its_quota_gets_a_429_problem_with_retry_after_and_ratelimit_headers() {
    let (samples, _local) = own_recorder();
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_RATE_LIMITS", "on"),
        ("BOXOFFICE_RATE_LIMIT_PER_IP", "1"),
        ("BOXOFFICE_RATE_LIMIT_PER_IP_BURST", "3"),
    ])
    .await;
    let started = Instant::now();
    let first = app.get("/openapi.json", None).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, "ratelimit-policy"), r#""per-ip";q=3;w=3"#);
    assert_eq!(header(&first, "ratelimit"), r#""per-ip";r=2;t=1"#);

    let (allowed, refused) = until_refused(10, || app.get("/users/me", None)).await;
    // Exactly the burst's 2 more, plus one a second at most for the time the requests took on a slow machine.
    let replenished = started.elapsed().as_secs_f64().ceil() as usize;
    assert!((2..=2 + replenished).contains(&allowed), "{allowed} more after the first, in {replenished} s");
    let retry_after: u64 = header(&refused, "retry-after").parse().expect("Retry-After in seconds");
    assert!((1..=1).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&refused, "ratelimit-policy"), r#""per-ip";q=3;w=3"#);
    assert_eq!(header(&refused, "ratelimit"), format!(r#""per-ip";r=0;t={retry_after}"#));
    let problem = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    assert_eq!(problem["violatedPolicies"], json!(["per-ip"]));

    // Probes and scrapes are never limited, even for an address that has spent its quota.
    for path in ["/healthz", "/readyz", "/metrics", "/healthz"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers().get("ratelimit").is_none(), "{path}");
    }
    // The one refusal above, and none of the probes.
    assert_eq!(counter(&samples, r#"boxoffice_rate_limited_total{scope="per-ip"}"#), 1.0);
}

#[tokio::test]
async fn x_forwarded_for_is_believed_only_from_trusted_proxies() {
    let limits = [
        ("BOXOFFICE_RATE_LIMITS", "on"),
        ("BOXOFFICE_RATE_LIMIT_PER_IP", "1"),
        ("BOXOFFICE_RATE_LIMIT_PER_IP_BURST", "2"),
    ];
    let as_client = |app: &TestApp, forwarded: &'static str| {
        app.request(Method::GET, "/openapi.json").header("x-forwarded-for", forwarded).send()
    };

    // The test client is the trusted proxy: each forwarded address has its own bucket.
    let mut trusted = limits.to_vec();
    trusted.push(("BOXOFFICE_TRUSTED_PROXIES", "127.0.0.1/32"));
    let app = TestApp::spawn_with(&trusted).await;
    let (allowed, _) =
        until_refused(10, || async { as_client(&app, "203.0.113.5, 198.51.100.1").await.expect("sent") }).await;
    assert!(allowed >= 1);
    let other = as_client(&app, "203.0.113.5, 198.51.100.2").await.expect("sent");
    assert_eq!(other.status(), StatusCode::OK, "another client behind the same proxy has its own quota");
    let spoofed = as_client(&app, "198.51.100.2, 198.51.100.1").await.expect("sent");
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS, "a made-up left part does not change the client");

    // Not a trusted proxy: the header is ignored and every request is the peer's.
    let app = TestApp::spawn_with(&limits).await;
    let (allowed, _) = until_refused(10, || async { as_client(&app, "198.51.100.1").await.expect("sent") }).await;
    assert!(allowed >= 1);
    let other = as_client(&app, "198.51.100.2").await.expect("sent");
    assert_eq!(other.status(), StatusCode::TOO_MANY_REQUESTS, "a forged X-Forwarded-For escaped the limit");
}

#[tokio::test]
async fn logins_are_limited_per_account_and_address_before_the_password_is_checked() {
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_RATE_LIMITS", "on"),
        ("BOXOFFICE_LOGIN_ATTEMPTS", "3"),
        ("BOXOFFICE_LOGIN_WINDOW_SECS", "600"),
    ])
    .await;
    expect_status(app.register("gus@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    let first = app.login("gus@example.com", "wrong password 1").await;
    assert_eq!(member(&first, "ratelimit-policy", "login"), r#""login";q=3;w=600"#);
    assert_eq!(member(&first, "ratelimit", "login"), r#""login";r=2;t=200"#);
    expect_problem(first, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for attempt in 2..=3 {
        let response = app.login(" GUS@example.com", &format!("wrong password {attempt}")).await;
        expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // The right password now gets the 429: the limiter answers before anything is verified.
    let refused = app.login("gus@example.com", "correct horse battery").await;
    let retry_after: u64 = header(&refused, "retry-after").parse().expect("Retry-After");
    assert!((190..=200).contains(&retry_after), "{retry_after}");
    assert_eq!(member(&refused, "ratelimit", "login"), format!(r#""login";r=0;t={retry_after}"#));
    let problem = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "login-throttled").await;
    assert_eq!(problem["violatedPolicies"], json!(["login"]));

    // Another account from the same address is not affected.
    expect_status(app.register("hal@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    expect_status(app.login("hal@example.com", "correct horse battery").await, StatusCode::OK).await;
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_RATE_LIMITS", "on"), ("BOXOFFICE_SIGNUPS_PER_HOUR", "2")]).await;
    let mut n = 0;
    let (allowed, refused) = until_refused(5, || {
        n += 1;
        let email = format!("signup{n}@example.com");
        let app = &app;
        async move { app.register(&email, "correct horse battery").await }
    })
    .await;
    assert_eq!(allowed, 2);
    assert_eq!(member(&refused, "ratelimit-policy", "signup"), r#""signup";q=2;w=3600"#);
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
}

#[tokio::test]
async fn the_user_write_limiter_counts_per_user_across_pods() {
    // Two "pods" on one database and one Redis prefix: the quota is shared.
    let db = fresh_database().await;
    let overrides = [
        ("BOXOFFICE_RATE_LIMITS", "on"),
        ("BOXOFFICE_RATE_LIMIT_USER_WRITES", "1"),
        ("BOXOFFICE_RATE_LIMIT_USER_WRITES_BURST", "3"),
    ];
    let pod_a = TestApp::spawn_on(&db, test_config(&db, &overrides)).await;
    let pod_b = TestApp::spawn_on(&db, test_config(&db, &overrides)).await;
    let (_, alice) = pod_a.customer().await;
    let (_, bob) = pod_a.customer().await;
    // A stand-in write route with the middleware, as the booking routes use it.
    let write_route = |app: &TestApp| {
        Router::new()
            .route("/write", post(|| async { "written" }))
            .route_layer(middleware::from_fn_with_state(
                app.state.clone(),
                boxoffice::edge::middleware::user_writes::<boxoffice::app::AppState>,
            ))
            .with_state(app.state.clone())
    };
    let (a, b) = (write_route(&pod_a), write_route(&pod_b));
    let write = |router: &Router, token: Option<&str>| {
        let mut request = Request::post("/write");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        router.clone().oneshot(request.body(Body::empty()).expect("request"))
    };
    let statuses = [
        write(&a, Some(&alice)).await.expect("served").status(),
        write(&b, Some(&alice)).await.expect("served").status(),
        write(&a, Some(&alice)).await.expect("served").status(),
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [200, 200, 200]);
    let refused = write(&b, Some(&alice)).await.expect("served");
    assert_eq!(refused.status().as_u16(), 429, "the other pod must see the same count");
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["ratelimit-policy"], r#""user-writes";q=3;w=180"#);
    assert_eq!(write(&a, Some(&bob)).await.expect("served").status().as_u16(), 200, "each user has a quota");
    assert_eq!(write(&a, None).await.expect("served").status().as_u16(), 200, "anonymous requests pass to the handler");
    assert_eq!(write(&a, Some("not-a-token")).await.expect("served").status().as_u16(), 200);
}

#[tokio::test]
async fn with_redis_stopped_the_local_limiter_takes_over_and_the_service_keeps_serving() {
    let (samples, _local) = own_recorder();
    let redis_addr = redis_url().trim_start_matches("redis://").trim_end_matches('/').to_owned();
    let proxy = Proxy::start(redis_addr.parse().expect("the test Redis URL is host:port")).await;
    let db = fresh_database().await;
    let config = test_config(
        &db,
        &[
            ("BOXOFFICE_REDIS_URL", &format!("redis://{}", proxy.addr())),
            ("BOXOFFICE_RATE_LIMITS", "on"),
            ("BOXOFFICE_LOGIN_ATTEMPTS", "2"),
            ("BOXOFFICE_LOGIN_WINDOW_SECS", "600"),
        ],
    );
    let app = TestApp::spawn_on(&db, config).await;
    let login = |email: &'static str| app.login(email, "wrong password");
    let (allowed, _) = until_refused(5, || login("ivy@example.com")).await;
    assert_eq!(allowed, 2);
    assert!(!app.state.edge.is_degraded());
    assert_eq!(counter(&samples, r#"boxoffice_rate_limit_fallback_total{scope="login"}"#), 0.0, "Redis is up");

    proxy.cut();
    let started = Instant::now();
    let (allowed, refused) = until_refused(5, || login("jay@example.com")).await;
    assert_eq!(allowed, 2, "the local limiter applies the same quota");
    // Not a speed test: it only catches a fallback that hangs on the dead Redis instead of giving up.
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert_eq!(member(&refused, "ratelimit-policy", "login"), r#""login";q=2;w=600"#);
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "login-throttled").await;
    assert!(app.state.edge.is_degraded());
    // The three logins during the outage (two allowed, one refused), each decided by the local limiter.
    assert_eq!(counter(&samples, r#"boxoffice_rate_limit_fallback_total{scope="login"}"#), 3.0);
    expect_status(app.register("kim@example.com", "correct horse battery").await, StatusCode::CREATED).await;

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.state.edge.is_degraded() {
        assert!(Instant::now() < deadline, "still degraded after Redis came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = login("lee@example.com").await;
    }
    // Back on Redis: the account limited there before the outage still is.
    let response = login("ivy@example.com").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn relaxed_limits_multiply_the_quota_and_off_removes_the_limiter() {
    let tight = [("BOXOFFICE_RATE_LIMIT_PER_IP", "1"), ("BOXOFFICE_RATE_LIMIT_PER_IP_BURST", "2")];
    let mut relaxed = tight.to_vec();
    relaxed.push(("BOXOFFICE_RATE_LIMITS", "relaxed"));
    let app = TestApp::spawn_with(&relaxed).await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(header(&response, "ratelimit-policy"), r#""per-ip";q=200;w=2"#);
    for _ in 0..10 {
        assert_eq!(app.get("/users/me", None).await.status(), StatusCode::UNAUTHORIZED);
    }

    let mut off = tight.to_vec();
    off.push(("BOXOFFICE_RATE_LIMITS", "off"));
    let app = TestApp::spawn_with(&off).await;
    for _ in 0..10 {
        let response = app.get("/users/me", None).await;
        assert!(response.headers().get("ratelimit").is_none());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(app.state.edge.per_ip().is_none());
}

/// Asserts the user-writes refusal: 429 `rate-limited` problem naming the policy, `Retry-After` within the policy's
/// emission interval (one write a minute here) and the `RateLimit` fields saying nothing is left until then.
async fn expect_user_writes_refusal(response: Response, route: &str) {
    let retry_after: u64 = header(&response, "retry-after").parse().unwrap_or_else(|_| panic!("{route}: Retry-After"));
    assert!((1..=60).contains(&retry_after), "{route}: {retry_after}");
    assert_eq!(member(&response, "ratelimit-policy", "user-writes"), r#""user-writes";q=4;w=240"#, "{route}");
    assert_eq!(
        member(&response, "ratelimit", "user-writes"),
        format!(r#""user-writes";r=0;t={retry_after}"#),
        "{route}"
    );
    let problem = expect_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    assert_eq!(problem["violatedPolicies"], json!(["user-writes"]), "{route}");
}

#[tokio::test]
async fn holds_payments_and_cancellations_share_each_users_write_quota_and_reads_do_not_count() {
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_RATE_LIMITS", "on"),
        ("BOXOFFICE_RATE_LIMIT_USER_WRITES", "1"),
        ("BOXOFFICE_RATE_LIMIT_USER_WRITES_BURST", "4"),
    ])
    .await;
    let show = crate::helpers::booking::show(&app, 0).await;
    let seats = show.standard(0, 6);
    let mut users = crate::helpers::booking::customers(&app, 2).await.into_iter();
    let (_, alice) = users.next().expect("alice");
    let (_, bob) = users.next().expect("bob");

    // Alice spends her burst of 4 on one write of each kind (and reads in between, which cost nothing).
    let first = crate::helpers::booking::hold(&app, &alice, show.id, &seats[0..1], None).await;
    assert_eq!(member(&first, "ratelimit-policy", "user-writes"), r#""user-writes";q=4;w=240"#);
    assert_eq!(member(&first, "ratelimit", "user-writes"), r#""user-writes";r=3;t=60"#);
    let paid = crate::helpers::booking::id_of(&expect_status(first, StatusCode::CREATED).await);
    expect_status(crate::helpers::booking::finalize(&app, Some(&alice), &paid, "tok_visa", None).await, StatusCode::OK)
        .await;
    for _ in 0..3 {
        let reads = app.get("/users/me/bookings", Some(&alice)).await;
        assert!(reads.headers().get_all("ratelimit").iter().all(|v| !v.to_str().unwrap_or("").contains("user-writes")));
        expect_status(reads, StatusCode::OK).await;
        expect_status(app.get(&format!("/bookings/{paid}"), Some(&alice)).await, StatusCode::OK).await;
    }
    let held =
        crate::helpers::booking::id_of(&crate::helpers::booking::held(&app, &alice, show.id, &seats[1..2]).await);
    let canceled = crate::helpers::booking::cancel(&app, Some(&alice), &held, None).await;
    assert!(member(&canceled, "ratelimit", "user-writes").starts_with(r#""user-writes";r=0;"#));
    expect_status(canceled, StatusCode::OK).await;

    // Her next write of every kind is refused before it reaches the booking service.
    let hold = crate::helpers::booking::hold(&app, &alice, show.id, &seats[2..3], None).await;
    expect_user_writes_refusal(hold, "POST /bookings").await;
    let finalize = crate::helpers::booking::finalize(&app, Some(&alice), &paid, "tok_visa", None).await;
    expect_user_writes_refusal(finalize, "PUT /bookings/{id}/finalize").await;
    expect_user_writes_refusal(
        crate::helpers::booking::cancel(&app, Some(&alice), &paid, None).await,
        "DELETE /bookings/{id}",
    )
    .await;
    let claimed = crate::helpers::booking::live_claims(&app, show.id).await;
    assert!(!claimed.iter().any(|(label, _)| *label == seats[2]), "the refused hold claimed a seat: {claimed:?}");
    assert_eq!(crate::helpers::booking::status_of(&app, &paid).await, "paid", "the refused cancellation refunded");
    // Reads still answer.
    expect_status(app.get(&format!("/bookings/{paid}"), Some(&alice)).await, StatusCode::OK).await;

    // Bob has his own quota: the same three writes go through.
    let bobs = crate::helpers::booking::hold(&app, &bob, show.id, &seats[2..3], None).await;
    assert_eq!(member(&bobs, "ratelimit", "user-writes"), r#""user-writes";r=3;t=60"#);
    let bobs = crate::helpers::booking::id_of(&expect_status(bobs, StatusCode::CREATED).await);
    expect_status(crate::helpers::booking::finalize(&app, Some(&bob), &bobs, "tok_visa", None).await, StatusCode::OK)
        .await;
    let refunded =
        expect_status(crate::helpers::booking::cancel(&app, Some(&bob), &bobs, None).await, StatusCode::OK).await;
    assert_eq!(refunded["status"], "canceled");
}
