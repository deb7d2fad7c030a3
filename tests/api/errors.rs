//! Every malformed request gets an RFC 9457 problem+json answer with a stable type.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, expect_problem};

/// (method, path, content type, body, bearer token, expected status, problem slug, a word the detail must contain)
type Case<'a> = (Method, &'a str, Option<&'a str>, String, Option<&'a str>, StatusCode, &'a str, &'a str);

#[tokio::test]
async fn malformed_requests_get_problem_json() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_BODY_LIMIT_BYTES", "1024")]).await;
    let (_, admin) = app.admin().await;
    let json = "application/json";
    let cases: Vec<Case<'_>> = vec![
        (Method::POST, "/users", Some(json), "{\"name\": ".into(), None, StatusCode::BAD_REQUEST, "malformed-json", ""),
        (Method::POST, "/users", Some(json), r#"{"name": 1, "email": "a@b.co", "phoneNumber": "+12125550100", "password": "12345678"}"#.into(), None, StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "name"),
        (Method::POST, "/users", Some(json), r#"{"name": "A", "phoneNumber": "+12125550100", "password": "12345678"}"#.into(), None, StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "email"),
        (Method::POST, "/users", Some(json), r#"{"name": "A", "email": "a@b.co", "phoneNumber": "+12125550100", "password": "12345678", "role": "admin"}"#.into(), None, StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "role"),
        // JSON's words, not Rust's: no type name (it answered "expected struct RegisterBody").
        (Method::POST, "/users", Some(json), "null".into(), None, StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "expected a JSON object"),
        (Method::POST, "/users", Some(json), "\"text\"".into(), None, StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", "expected a JSON object"),
        (Method::POST, "/users", Some("text/plain"), "{}".into(), None, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", ""),
        (Method::POST, "/users", None, "{}".into(), None, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", ""),
        (Method::POST, "/users", Some(json), format!(r#"{{"name": "{}"}}"#, "x".repeat(4096)), None, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", ""),
        (Method::GET, "/no/such/route", None, String::new(), None, StatusCode::NOT_FOUND, "not-found", "/no/such/route"),
        (Method::DELETE, "/users/me", None, String::new(), None, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "DELETE"),
        (Method::PUT, "/auth/token", Some(json), "{}".into(), None, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "PUT"),
        (Method::GET, "/users/not-a-uuid", None, String::new(), Some(&admin), StatusCode::BAD_REQUEST, "validation-error", "UUID"),
    ];
    for (method, path, content_type, body, token, status, slug, word) in cases {
        let mut request = app.request(method.clone(), path).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        let allow = response.headers().get("allow").cloned();
        let problem = expect_problem(response, status, slug).await;
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(word), "{method} {path}: detail {detail:?} lacks {word:?}");
        assert!(!detail.contains("Body") && !detail.contains("struct"), "{method} {path}: a Rust type in {detail:?}");
        if status == StatusCode::METHOD_NOT_ALLOWED {
            let allow = allow.expect("405 carries Allow");
            let expected = if path == "/users/me" { "GET" } else { "POST" };
            assert!(allow.to_str().unwrap_or_default().contains(expected), "{method} {path}: Allow {allow:?}");
        }
    }
}

#[tokio::test]
async fn a_problem_never_leaks_internal_detail() {
    let app = TestApp::spawn().await;
    // Break the users table under the service: registration now fails inside the database.
    app.db().await.batch_execute("ALTER TABLE users RENAME TO users_gone").await.expect("rename");
    let response = app.register("eve@example.com", "correct horse battery").await;
    let problem = expect_problem(response, StatusCode::INTERNAL_SERVER_ERROR, "internal-error").await;
    let text = problem.to_string();
    assert!(!text.contains("users") && !text.contains("relation"), "{text}");
}
