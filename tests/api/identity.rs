//! Register, log in, tokens, roles.

use std::sync::Arc;

use boxoffice::auth::model::Role;
use boxoffice::auth::token::{Claims, TokenKeys};
use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;
use tokio::task::JoinSet;

use crate::helpers::{TestApp, expect_problem, expect_status};

#[tokio::test]
async fn register_returns_201_with_the_user_and_no_secret() {
    let app = TestApp::spawn().await;
    let response = app.register("  Ada@Example.com ", "correct horse battery").await;
    let location = response.headers()["location"].to_str().expect("ascii").to_owned();
    let body = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(location, format!("/users/{}", body["id"].as_str().expect("id")), "Location names the new account");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["phoneNumber"], "+12125550100");
    assert_eq!(body["role"], "customer");
    let text = body.to_string();
    assert!(!text.contains("argon2") && !text.contains("correct horse"), "{text}");
}

#[tokio::test]
async fn register_returns_409_for_a_taken_email_whatever_its_case() {
    let app = TestApp::spawn().await;
    expect_status(app.register("bob@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    expect_problem(app.register("BOB@example.COM", "another password").await, StatusCode::CONFLICT, "email-taken")
        .await;
}

#[tokio::test]
async fn register_lists_every_invalid_field() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("/users", &json!({"name": "", "email": "nope", "phoneNumber": "12", "password": "short"}), None)
        .await;
    let body = expect_problem(response, StatusCode::BAD_REQUEST, "validation-error").await;
    let fields: Vec<_> = body["errors"].as_array().expect("errors").iter().map(|e| e["field"].clone()).collect();
    assert_eq!(fields, [json!("body.name"), json!("body.email"), json!("body.phoneNumber"), json!("body.password")]);
}

#[tokio::test]
async fn login_with_the_right_password_returns_a_working_token() {
    let app = TestApp::spawn().await;
    expect_status(app.register("cy@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    let body = expect_status(app.login("CY@example.com", "correct horse battery").await, StatusCode::OK).await;
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 3600);
    let token = body["accessToken"].as_str().expect("token");
    let me = expect_status(app.get("/users/me", Some(token)).await, StatusCode::OK).await;
    assert_eq!(me["email"], "cy@example.com");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401() {
    let app = TestApp::spawn().await;
    expect_status(app.register("dee@example.com", "correct horse battery").await, StatusCode::CREATED).await;
    let wrong =
        expect_problem(app.login("dee@example.com", "wrong password!").await, StatusCode::UNAUTHORIZED, "unauthorized")
            .await;
    let unknown = expect_problem(
        app.login("nobody@example.com", "wrong password!").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let malformed =
        expect_problem(app.login("not-an-email", "wrong password!").await, StatusCode::UNAUTHORIZED, "unauthorized")
            .await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, malformed);
}

#[tokio::test]
async fn users_me_needs_a_valid_token() {
    let app = TestApp::spawn().await;
    let (_, token) = app.customer().await;
    let response = app.get("/users/me", None).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "not.a.jwt", ""] {
        expect_problem(app.get("/users/me", Some(bad)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let response = app
        .request(reqwest::Method::GET, "/users/me")
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .expect("sent");
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn an_expired_token_is_refused_with_a_clear_reason() {
    let app = TestApp::spawn().await;
    let (id, _) = app.customer().await;
    let keys: &TokenKeys = &app.state.tokens;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let expired = keys
        .sign(&Claims {
            sub: id,
            role: Role::Customer,
            iat: now - 7200,
            exp: now - 3600,
            iss: "boxoffice".into(),
            aud: "boxoffice-api".into(),
        })
        .expect("signed");
    let body =
        expect_problem(app.get("/users/me", Some(&expired)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(body["detail"].as_str().expect("detail").contains("expired"), "{body}");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let app = TestApp::spawn().await;
    let (id, _) = app.customer().await;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let foreign = app
        .state
        .tokens
        .sign(&Claims {
            sub: id,
            role: Role::Admin,
            iat: now,
            exp: now + 600,
            iss: "boxoffice".into(),
            aud: "someone-else".into(),
        })
        .expect("signed");
    expect_problem(app.get("/users/me", Some(&foreign)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn admin_routes_refuse_customers_with_403_and_anonymous_with_401() {
    let app = TestApp::spawn().await;
    let (customer_id, customer) = app.customer().await;
    let (other_id, _) = app.customer().await;
    let (_, admin) = app.admin().await;
    let path = format!("/users/{customer_id}");
    expect_problem(app.get(&path, None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Its owner reads it (the Location of POST /users); another customer is refused, existing account or not.
    expect_status(app.get(&path, Some(&customer)).await, StatusCode::OK).await;
    let others = format!("/users/{other_id}");
    expect_problem(app.get(&others, Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let nobody = format!("/users/{}", uuid::Uuid::new_v4());
    expect_problem(app.get(&nobody, Some(&customer)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let body = expect_status(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(body["id"], customer_id.to_string());
    let unknown = format!("/users/{}", uuid::Uuid::new_v4());
    expect_problem(app.get(&unknown, Some(&admin)).await, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn an_admin_configured_by_environment_exists_at_start_up() {
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_ADMIN_EMAIL", "root@example.com"),
        ("BOXOFFICE_ADMIN_PASSWORD", "bootstrap pass"),
    ])
    .await;
    let body = expect_status(app.login("root@example.com", "bootstrap pass").await, StatusCode::OK).await;
    let token = body["accessToken"].as_str().expect("token");
    let me = expect_status(app.get("/users/me", Some(token)).await, StatusCode::OK).await;
    assert_eq!(me["role"], "admin");
}

/// argon2 runs with no pooled connection held (the connection goes back before the hash, and a new one is taken only
/// for the writes after it): with a write pool of 2 and a pool wait of 250 ms, a burst of logins (right password,
/// wrong password, unknown email), registrations and cheap reads from that same pool are all answered, none with a
/// 503. A login or registration that held its connection across the hash made the burst queue on 2 connections for
/// tens of milliseconds each, and the requests at the back waited out the pool timeout (503s even with a 600 ms wait
/// when measured; the fixed code passed with 60 ms, so 250 ms leaves room for a busy machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_and_registrations_leaves_the_connection_pool_to_other_requests() {
    let app =
        Arc::new(TestApp::spawn_with(&[("BOXOFFICE_DB_POOL_SIZE", "2"), ("BOXOFFICE_DB_TIMEOUT_MS", "250")]).await);
    let (_, reader) = app.customer().await;
    let accounts: Vec<String> = (0..4).map(|n| format!("burst{n}@example.com")).collect();
    for email in &accounts {
        expect_status(app.register(email, "correct horse battery").await, StatusCode::CREATED).await;
    }

    const ROUNDS: usize = 8;
    let mut requests = JoinSet::new();
    for round in 0..ROUNDS {
        for kind in ["login", "wrong password", "unknown email", "register", "read", "read"] {
            let (app, reader, email) = (Arc::clone(&app), reader.clone(), accounts[round % accounts.len()].clone());
            requests.spawn(async move {
                let response = match kind {
                    "login" => app.login(&email, "correct horse battery").await,
                    "wrong password" => app.login(&email, "wrong horse battery").await,
                    "unknown email" => app.login(&format!("nobody{round}@example.com"), "correct horse battery").await,
                    "register" => app.register(&format!("new{round}@example.com"), "correct horse battery").await,
                    _ => app.get("/users/me/bookings", Some(&reader)).await,
                };
                (kind, response.status(), response.text().await.unwrap_or_default())
            });
        }
    }

    let mut answered = 0;
    while let Some(joined) = requests.join_next().await {
        let (kind, status, body) = joined.expect("request task");
        let expected = match kind {
            // Two wrong passwords per account in the burst: far under the login limits (relaxed in tests).
            "login" => vec![StatusCode::OK],
            "wrong password" | "unknown email" => vec![StatusCode::UNAUTHORIZED],
            "register" => vec![StatusCode::CREATED],
            _ => vec![StatusCode::OK],
        };
        assert!(expected.contains(&status), "{kind}: {status} {body}");
        answered += 1;
    }
    assert_eq!(answered, ROUNDS * 6);
}
