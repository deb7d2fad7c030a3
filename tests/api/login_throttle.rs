//! Login throttling (issue #17, section 2): failed logins from many addresses never lock the owner out, a
//! throttled attempt is a 429 `login-throttled` with `Retry-After`, and no answer tells whether an account exists.

use std::time::Instant;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, expect_status};

/// A login from `address` (the test client is a trusted proxy, so `X-Forwarded-For` names the client).
async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> Response {
    app.request(Method::POST, "/auth/token")
        .header("X-Forwarded-For", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request sent")
}

/// The service with real limits and the test client as a trusted proxy; `extra` overrides.
async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("BOXOFFICE_RATE_LIMITS", "on"), ("BOXOFFICE_TRUSTED_PROXIES", "127.0.0.1/32,::1/128")];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

/// A problem without the members that may differ between two refusals of the same kind.
fn shape(mut problem: Value) -> Value {
    problem.as_object_mut().expect("a problem object").remove("detail");
    problem
}

#[tokio::test]
async fn wrong_passwords_from_many_addresses_do_not_keep_the_owner_out() {
    // The case: six wrong passwords for someone else's email, each from a different address.
    let app = app_with(&[]).await;
    expect_status(app.register("owner@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    for i in 1..=6 {
        let response = login_from(&app, &format!("198.51.100.{i}"), "owner@example.com", "guess").await;
        expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    let owner = login_from(&app, "203.0.113.7", "owner@example.com", "correct horse battery").await;

    expect_status(owner, StatusCode::OK).await;
}

#[tokio::test]
async fn a_throttled_attempt_is_a_429_login_throttled_and_the_same_for_an_account_that_does_not_exist() {
    let app = app_with(&[("BOXOFFICE_LOGIN_ATTEMPTS", "3"), ("BOXOFFICE_LOGIN_WINDOW_SECS", "600")]).await;
    expect_status(app.register("real@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    let mut answers = Vec::new();
    for email in ["real@example.com", "ghost@example.com"] {
        let mut statuses = Vec::new();
        for attempt in 0..3 {
            let response = login_from(&app, "198.51.100.9", email, &format!("guess {attempt}")).await;
            statuses.push(response.status());
        }
        let started = Instant::now();
        let refused = login_from(&app, "198.51.100.9", email, "correct horse battery").await;
        let took = started.elapsed();
        let retry_after: u64 =
            refused.headers()["retry-after"].to_str().expect("ascii").parse().expect("Retry-After in seconds");
        let problem = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "login-throttled").await;
        assert!((190..=200).contains(&retry_after), "{email}: Retry-After {retry_after}");
        assert_eq!(problem["violatedPolicies"], json!(["login"]), "{email}: {problem}");
        answers.push((statuses, shape(problem), took));
    }
    let (real, ghost) = (&answers[0], &answers[1]);
    assert_eq!(real.0, [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!((&real.0, &real.1), (&ghost.0, &ghost.1), "an unknown account is answered exactly like a real one");
    // The owner, from another address, is not throttled.
    let owner = login_from(&app, "203.0.113.7", "real@example.com", "correct horse battery").await;
    expect_status(owner, StatusCode::OK).await;
}

#[tokio::test]
async fn the_account_ceiling_stops_guesses_from_new_addresses_but_not_the_owner_from_a_known_one() {
    let app =
        app_with(&[("BOXOFFICE_LOGIN_ACCOUNT_FAILURES", "5"), ("BOXOFFICE_LOGIN_ACCOUNT_WINDOW_SECS", "600")]).await;
    expect_status(app.register("star@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    // The owner logged in from home once: that address is known.
    expect_status(login_from(&app, "203.0.113.7", "star@example.com", "correct horse battery").await, StatusCode::OK)
        .await;
    // Guesses spread over many addresses, one each: the per-address limit never sees more than one.
    for i in 1..=5 {
        let response = login_from(&app, &format!("198.51.100.{i}"), "star@example.com", "guess").await;
        expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    // The ceiling is spent: a new address is refused before its password is looked at, even a right one.
    let refused = login_from(&app, "198.51.100.99", "star@example.com", "correct horse battery").await;
    let problem = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "login-throttled").await;
    assert_eq!(problem["violatedPolicies"], json!(["login-account"]), "{problem}");
    // The owner at home still gets in.
    expect_status(login_from(&app, "203.0.113.7", "star@example.com", "correct horse battery").await, StatusCode::OK)
        .await;

    // An account that does not exist meets the same ceiling after the same failures: nothing tells them apart.
    for i in 1..=5 {
        let response = login_from(&app, &format!("198.51.100.{i}"), "nobody@example.com", "guess").await;
        expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let ghost = login_from(&app, "198.51.100.99", "nobody@example.com", "guess").await;
    let ghost = expect_problem(ghost, StatusCode::TOO_MANY_REQUESTS, "login-throttled").await;
    assert_eq!(shape(ghost), shape(problem));
}
