//! Security headers, CORS, the docs page, the web client, connection timeouts, and signing-key rotation (login
//! throttling: login_throttle.rs).

use std::time::{Duration, Instant};

use boxoffice::auth::model::Role;
use boxoffice::auth::token::TokenKeys;
use boxoffice::config::AuthConfig;
use boxoffice::edge::docs::DOCS_CSP;
use boxoffice::edge::middleware::API_CSP;
use boxoffice::web::APP_CSP;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{JWT_SECRET, TestApp, expect_problem, expect_status};

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn assert_security_headers(response: &Response, what: &str) {
    assert_eq!(header(response, "x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(header(response, "referrer-policy"), Some("no-referrer"), "{what}");
    assert_eq!(header(response, "x-frame-options"), Some("DENY"), "{what}");
    assert!(
        header(response, "content-security-policy").is_some_and(|csp| csp.contains("frame-ancestors 'none'")),
        "{what}"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers_errors_and_429s_included() {
    let app = TestApp::spawn().await;
    let (_, token) = app.customer().await;
    let cases = [
        (app.get("/healthz", None).await, StatusCode::OK, "healthz"),
        (app.get("/users/me", Some(&token)).await, StatusCode::OK, "me"),
        (app.get("/users/me", None).await, StatusCode::UNAUTHORIZED, "401"),
        (app.get("/no/such/route", None).await, StatusCode::NOT_FOUND, "404"),
        (app.request(Method::DELETE, "/healthz").send().await.expect("sent"), StatusCode::METHOD_NOT_ALLOWED, "405"),
    ];
    for (response, status, what) in &cases {
        assert_eq!(response.status(), *status, "{what}");
        assert_security_headers(response, what);
        assert_eq!(header(response, "content-security-policy"), Some(API_CSP), "{what}");
        assert!(header(response, "strict-transport-security").is_none(), "HSTS is off unless configured");
    }
    // Identity answers are never stored by caches; others are left to their handlers.
    assert_eq!(header(&cases[1].0, "cache-control"), Some("no-store"));
    assert_eq!(header(&cases[2].0, "cache-control"), Some("no-store"));
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_RATE_LIMITS", "on"),
        ("BOXOFFICE_RATE_LIMIT_PER_IP", "1"),
        ("BOXOFFICE_RATE_LIMIT_PER_IP_BURST", "2"),
    ])
    .await;
    let mut refused = None;
    for _ in 0..20 {
        let response = app.get("/openapi.json", None).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(response);
            break;
        }
    }
    assert_security_headers(&refused.expect("the per-ip limit was reached"), "429");

    let app = TestApp::spawn_with(&[("BOXOFFICE_HSTS", "true")]).await;
    let response = app.get("/healthz", None).await;
    assert_eq!(header(&response, "strict-transport-security"), Some("max-age=31536000; includeSubDomains"));
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary_with_its_own_csp() {
    let app = TestApp::spawn().await;
    let page = app.get("/docs", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, "content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(header(&page, "content-security-policy"), Some(DOCS_CSP));
    assert_security_headers(&page, "docs");
    let html = page.text().await.expect("html");
    assert!(html.contains("/docs/swagger-ui-bundle.js") && !html.contains("https://"), "{html}");
    for (path, media_type) in [
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/docs/swagger-ui.css", "text/css"),
        ("/docs/init.js", "text/javascript"),
        ("/docs/LICENSE", "text/plain"),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(header(&response, "content-type").is_some_and(|ct| ct.starts_with(media_type)), "{path}");
        assert!(!response.bytes().await.expect("body").is_empty(), "{path}");
    }
    expect_problem(app.get("/docs/../Cargo.toml", None).await, StatusCode::NOT_FOUND, "not-found").await;
    expect_problem(app.get("/docs/nothing.js", None).await, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn the_web_client_is_served_at_the_root_with_a_strict_csp_and_revalidates() {
    let app = TestApp::spawn().await;
    let page = app.get("/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, "content-type"), Some("text/html; charset=utf-8"));
    let csp = header(&page, "content-security-policy").expect("a CSP").to_owned();
    assert_eq!(csp, APP_CSP);
    assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_security_headers(&page, "web client");
    let html = page.text().await.expect("html");
    assert!(html.contains("/app/app.js") && !html.contains("https://"), "{html}");
    for (path, media_type) in [
        ("/app/app.js", "text/javascript"),
        ("/app/api.js", "text/javascript"),
        ("/app/dom.js", "text/javascript"),
        ("/app/seatmap.js", "text/javascript"),
        ("/app/style.css", "text/css"),
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(header(&response, "content-type").is_some_and(|ct| ct.starts_with(media_type)), "{path}");
        let etag = header(&response, "etag").expect("an ETag").to_owned();
        assert!(!response.bytes().await.expect("body").is_empty(), "{path}");
        let again = app.request(Method::GET, path).header("if-none-match", &etag).send().await.expect("request");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    expect_problem(app.get("/app/../Cargo.toml", None).await, StatusCode::NOT_FOUND, "not-found").await;
    expect_problem(app.get("/app/nothing.js", None).await, StatusCode::NOT_FOUND, "not-found").await;
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    app.request(Method::OPTIONS, "/auth/token")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, idempotency-key")
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let app =
        TestApp::spawn_with(&[("BOXOFFICE_CORS_ORIGINS", "https://tickets.example.com,http://localhost:5173")]).await;
    let allowed = preflight(&app, "https://tickets.example.com").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(header(&allowed, "access-control-allow-origin"), Some("https://tickets.example.com"));
    assert!(header(&allowed, "access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    let allow_headers = header(&allowed, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allow_headers.contains("content-type") && allow_headers.contains("idempotency-key"), "{allow_headers}");
    assert!(header(&allowed, "access-control-allow-credentials").is_none());
    assert_security_headers(&allowed, "preflight");

    let foreign = preflight(&app, "https://evil.example.com").await;
    assert!(header(&foreign, "access-control-allow-origin").is_none(), "a foreign origin got CORS headers");

    let simple =
        app.request(Method::GET, "/healthz").header("origin", "http://localhost:5173").send().await.expect("sent");
    assert_eq!(header(&simple, "access-control-allow-origin"), Some("http://localhost:5173"));
    assert!(
        header(&simple, "access-control-expose-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("retry-after"))
    );
    let simple =
        app.request(Method::GET, "/healthz").header("origin", "https://evil.example.com").send().await.expect("sent");
    assert!(header(&simple, "access-control-allow-origin").is_none());

    // Without configured origins there is no CORS at all.
    let app = TestApp::spawn().await;
    let response = preflight(&app, "https://tickets.example.com").await;
    assert!(header(&response, "access-control-allow-origin").is_none());
}

/// Reads until the server closes the connection; returns what it sent and how long it took.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let outcome = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "the connection was still open after {limit:?}");
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn a_client_that_stalls_in_its_request_head_is_disconnected() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_HEADER_READ_TIMEOUT_MS", "300")]).await;
    let addr = app.address.trim_start_matches("http://").to_owned();

    // Half a request head, then nothing.
    let mut stalled = TcpStream::connect(&addr).await.expect("connect");
    stalled.write_all(b"GET /healthz HTTP/1.1\r\nHost: boxoffice\r\nX-Slow: ").await.expect("write");
    let (received, took) = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    assert!(!received.contains("200 OK"), "{received}");
    assert!(took >= Duration::from_millis(250), "closed before the timeout: {took:?}");

    // Nothing at all.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    read_until_closed(&mut silent, Duration::from_secs(5)).await;

    // A complete request on a fresh connection is served, and the idle keep-alive connection is then closed.
    let mut prompt = TcpStream::connect(&addr).await.expect("connect");
    prompt.write_all(b"GET /healthz HTTP/1.1\r\nHost: boxoffice\r\n\r\n").await.expect("write");
    let (received, _) = read_until_closed(&mut prompt, Duration::from_secs(5)).await;
    assert!(received.starts_with("HTTP/1.1 200 OK"), "{received}");
}

fn auth_config(secret: &str, kid: &str) -> AuthConfig {
    AuthConfig {
        jwt_secret: Some(boxoffice::config::Secret::new(secret)),
        jwt_key_id: kid.into(),
        jwt_previous_keys: Vec::new(),
        issuer: "boxoffice".into(),
        audience: "boxoffice-api".into(),
        token_ttl: Duration::from_secs(600),
        bootstrap_admin: None,
        ticket_keys: Vec::new(),
    }
}

#[tokio::test]
async fn after_a_key_rotation_tokens_of_the_previous_key_still_work_and_unknown_kids_do_not() {
    const NEW_SECRET: &str = "rotated-secret-rotated-secret-0002";
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_JWT_SECRET", NEW_SECRET),
        ("BOXOFFICE_JWT_KEY_ID", "k2"),
        ("BOXOFFICE_JWT_PREVIOUS_KEYS", &format!("k1:{JWT_SECRET}")),
    ])
    .await;
    let (id, fresh) = app.customer().await;
    let header = jsonwebtoken::decode_header(&fresh).expect("header");
    assert_eq!(header.kid.as_deref(), Some("k2"), "new tokens use the current key");

    let before_rotation = TokenKeys::from_config(&auth_config(JWT_SECRET, "k1"));
    let old = before_rotation.issue(boxoffice::auth::model::UserId(id), Role::Customer).expect("signed").token;
    let me: Value = expect_status(app.get("/users/me", Some(&old)).await, StatusCode::OK).await;
    assert_eq!(me["id"], id.to_string());

    let unknown_kid = TokenKeys::from_config(&auth_config(JWT_SECRET, "k9"));
    let token = unknown_kid.issue(boxoffice::auth::model::UserId(id), Role::Customer).expect("signed").token;
    expect_problem(app.get("/users/me", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong_secret = TokenKeys::from_config(&auth_config("some-other-secret-some-other-secret", "k1"));
    let token = wrong_secret.issue(boxoffice::auth::model::UserId(id), Role::Admin).expect("signed").token;
    expect_problem(app.get("/users/me", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_nul_character_anywhere_in_a_request_is_a_400_not_a_database_error() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    // Every one of these reached PostgreSQL as a bound text parameter and came back as a 500.
    for path in ["/movies?q=%00", "/movies?genre=a%00", "/theaters?city=a%00b", "/movies?city=x%00"] {
        let body = expect_problem(app.get(path, None).await, StatusCode::BAD_REQUEST, "validation-error").await;
        assert_eq!(body["errors"][0]["field"], "query", "{path}: {body}");
    }
    let movie = serde_json::json!({
        "title": "Nul", "durationMin": 90, "genre": "Drama", "rating": "PG", "description": "a\u{0}b"
    });
    let body = expect_problem(
        app.post_json("/movies", &movie, Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "body");
    let escaped_backslash = r#"{"email": "a\\u0000@example.com", "password": "whatever"}"#;
    let response = app
        .request(Method::POST, "/auth/token")
        .header("content-type", "application/json")
        .body(escaped_backslash)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "an escaped backslash before u0000 is not a NUL");
    // Other control characters are refused by the catalog's own validation.
    let movie = serde_json::json!({ "title": "Bell\u{7}", "durationMin": 90, "genre": "Drama", "rating": "PG" });
    let body = expect_problem(
        app.post_json("/movies", &movie, Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "body.title");
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_shared_token_key() {
    // Before: a random key per process and a warning, and users logged out at random behind a balancer.
    let mut config = crate::helpers::test_config("never_connected", &[]);
    config.auth.jwt_secret = None;
    let refused = boxoffice::app::Application::build(config, boxoffice::app::Routes::All).await;
    let error = refused.err().expect("no key, no server");
    assert!(error.to_string().contains("BOXOFFICE_JWT_SECRET is not set"), "{error}");
}
