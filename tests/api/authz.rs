//! The authorization matrix: every operation of the OpenAPI document, called by an anonymous client, the customer who
//! owns the resource, another customer, and an admin, gets the status the table says. The table must list exactly
//! the document's operations, so a new route cannot ship without its row.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 4] = ["anonymous", "owner", "other customer", "admin"];

/// What a row needs to build its request: the resources of the owner.
struct Fixture {
    owner_id: Uuid,
    owner_email: String,
}

/// One operation: method, path template (as in the document), the request for a fixture, and the expected status
/// for each caller of [`CALLERS`].
struct Row {
    method: Method,
    template: &'static str,
    request: fn(&Fixture) -> (String, Option<Value>),
    expected: [u16; 4],
}

fn fresh_registration() -> Value {
    json!({
        "name": "Matrix",
        "email": format!("{}@example.com", Uuid::new_v4().simple()),
        "phoneNumber": "+12125550100",
        "password": "correct horse battery",
    })
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            method: Method::GET,
            template: "/healthz",
            request: |_| ("/healthz".into(), None),
            expected: [200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/readyz",
            request: |_| ("/readyz".into(), None),
            expected: [200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/metrics",
            request: |_| ("/metrics".into(), None),
            expected: [200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/openapi.json",
            request: |_| ("/openapi.json".into(), None),
            expected: [200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/docs",
            request: |_| ("/docs".into(), None),
            expected: [200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/docs/{asset}",
            request: |_| ("/docs/init.js".into(), None),
            expected: [200, 200, 200, 200],
        },
        // Identity: registering and logging in need no token (and ignore one).
        Row {
            method: Method::POST,
            template: "/users",
            request: |_| ("/users".into(), Some(fresh_registration())),
            expected: [201, 201, 201, 201],
        },
        Row {
            method: Method::POST,
            template: "/auth/token",
            request: |f| {
                ("/auth/token".into(), Some(json!({"email": f.owner_email, "password": "correct horse battery"})))
            },
            expected: [200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/users/me",
            request: |_| ("/users/me".into(), None),
            expected: [401, 200, 200, 200],
        },
        // Any account, admins only: not even its owner.
        Row {
            method: Method::GET,
            template: "/users/{userId}",
            request: |f| (format!("/users/{}", f.owner_id), None),
            expected: [401, 403, 403, 200],
        },
    ]
}

#[tokio::test]
async fn every_operation_answers_each_kind_of_caller_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let (owner_id, owner_token) = app.customer().await;
    let owner_email: String = {
        let me: Value = app.get("/users/me", Some(&owner_token)).await.json().await.expect("me");
        me["email"].as_str().expect("email").to_owned()
    };
    let (_, other_token) = app.customer().await;
    let (_, admin_token) = app.admin().await;
    let fixture = Fixture { owner_id, owner_email };
    let tokens = [None, Some(owner_token.as_str()), Some(other_token.as_str()), Some(admin_token.as_str())];

    let document: Value = app.get("/openapi.json", None).await.json().await.expect("document");
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let rows = rows();
    let listed: BTreeSet<_> = rows.iter().map(|r| (r.method.to_string(), r.template.to_owned())).collect();
    assert_eq!(listed.len(), rows.len(), "a row is listed twice");
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(missing.is_empty(), "operations without a row in the matrix: {missing:?}");
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(stale.is_empty(), "rows for operations the document does not have: {stale:?}");

    let mut mismatches = Vec::new();
    for row in &rows {
        for (caller, (token, expected)) in CALLERS.iter().zip(tokens.iter().zip(row.expected)) {
            let (path, body) = (row.request)(&fixture);
            let mut request = app.request(row.method.clone(), &path);
            if let Some(body) = body {
                request = request.json(&body);
            }
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let status = request.send().await.expect("sent").status();
            if status != StatusCode::from_u16(expected).expect("status") {
                mismatches.push(format!("{} {path} as {caller}: {status}, expected {expected}", row.method));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
