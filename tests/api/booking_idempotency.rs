//! Idempotency-Key on POST /bookings, PUT /bookings/{id}/finalize and DELETE /bookings/{id}: the same key and request
//! give the same response once; another request under the key is a 422; a key still in flight is a 409.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::booking::{cancel, customers, finalize, held, hold, id_of, show};
use crate::helpers::{TestApp, expect_problem, expect_status};

async fn bookings(app: &TestApp, showtime: Uuid) -> i64 {
    app.db()
        .await
        .query_one("SELECT count(*) FROM bookings WHERE showtime_id = $1", &[&showtime])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test]
async fn a_replayed_hold_returns_the_same_response_and_makes_one_booking() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let seats = show.standard(0, 2);
    let key = Uuid::new_v4().to_string();

    let first = hold(&app, &token, show.id, &seats, Some(&key)).await;
    let location = first.headers()["location"].clone();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect_status(first, StatusCode::CREATED).await;
    // The same request: seats listed in another order and case are the same request.
    let reordered = vec![seats[1].to_lowercase(), seats[0].clone()];
    let second = hold(&app, &token, show.id, &reordered, Some(&key)).await;

    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.headers()["location"], location);
    assert_eq!(expect_status(second, StatusCode::CREATED).await, first);
    assert_eq!(bookings(&app, show.id).await, 1);
}

#[tokio::test]
async fn concurrent_duplicates_with_one_key_make_one_booking() {
    let app = Arc::new(TestApp::spawn().await);
    let show = show(&app, 0).await;
    let (_, token) = customers(&app, 1).await.remove(0);
    let seats = show.standard(0, 2);
    let key = Uuid::new_v4().to_string();

    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, token, seats, key) = (app.clone(), token.clone(), seats.clone(), key.clone());
            tokio::spawn(async move {
                let response = hold(&app, &token, show.id, &seats, Some(&key)).await;
                (response.status(), response.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            StatusCode::CREATED => ids.push(id_of(&body)),
            StatusCode::CONFLICT => {
                assert_eq!(body["type"], "https://boxoffice.dev/problems/idempotency-key-in-flight")
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }

    ids.dedup();
    assert_eq!(ids.len(), 1, "every 201 is the same booking: {ids:?}");
    assert_eq!(bookings(&app, show.id).await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_a_422() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let key = Uuid::new_v4().to_string();
    let booking = id_of(
        &expect_status(hold(&app, &token, show.id, &show.standard(0, 1), Some(&key)).await, StatusCode::CREATED).await,
    );

    for response in [
        hold(&app, &token, show.id, &show.standard(1, 1), Some(&key)).await,
        hold(&app, &token, show.id, &show.standard(0, 2), Some(&key)).await,
    ] {
        expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    }
    // Keys are regional, per user: the same key on the booking's region for another route is another request too.
    expect_problem(
        finalize(&app, Some(&token), &booking, "tok_visa", Some(&key)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    expect_problem(
        cancel(&app, Some(&token), &booking, Some(&key)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(bookings(&app, show.id).await, 1);
}

#[tokio::test]
async fn a_refused_hold_stores_nothing_under_its_key() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 2);
    let alices = id_of(&held(&app, &alice, show.id, &seats).await);
    let key = Uuid::new_v4().to_string();
    expect_problem(hold(&app, &bob, show.id, &seats, Some(&key)).await, StatusCode::CONFLICT, "seats-unavailable")
        .await;

    expect_status(cancel(&app, Some(&alice), &alices, None).await, StatusCode::OK).await;

    // The refusal was not stored: the retry under the same key runs, and now succeeds.
    expect_status(hold(&app, &bob, show.id, &seats, Some(&key)).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn keys_belong_to_their_user() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let key = "shared-key-1";

    let a =
        expect_status(hold(&app, &alice, show.id, &show.standard(0, 1), Some(key)).await, StatusCode::CREATED).await;
    let b = expect_status(hold(&app, &bob, show.id, &show.standard(1, 1), Some(key)).await, StatusCode::CREATED).await;

    assert_ne!(id_of(&a), id_of(&b));
}

#[tokio::test]
async fn a_retried_cancel_replays_its_answer() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let booking = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    let key = Uuid::new_v4().to_string();

    let first = expect_status(cancel(&app, Some(&token), &booking, Some(&key)).await, StatusCode::OK).await;
    let again = cancel(&app, Some(&token), &booking, Some(&key)).await;

    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_status(again, StatusCode::OK).await, first);
}

#[tokio::test]
async fn a_malformed_key_is_a_400() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    for key in ["k".repeat(256), "has space".to_owned()] {
        let body = expect_problem(
            hold(&app, &token, show.id, &show.standard(0, 1), Some(&key)).await,
            StatusCode::BAD_REQUEST,
            "validation-error",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "header.Idempotency-Key");
    }
    assert_eq!(bookings(&app, show.id).await, 0);
}

/// Leaves in the database the key a finalize request would have claimed before its process died: in flight (no
/// response), `age` old.
async fn abandoned_finalize_key(app: &TestApp, user: Uuid, booking: &Uuid, key: &str, age: &str) {
    let canonical = serde_json::json!({ "bookingId": booking, "token": "tok_visa" });
    let hash = boxoffice::booking::model::request_hash(
        "PUT",
        "/bookings/{bookingId}/finalize",
        boxoffice::auth::model::UserId(user),
        &canonical.to_string(),
    );
    app.db()
        .await
        .execute(
            &format!(
                "INSERT INTO idempotency_keys (region, user_id, key, request_hash, created_at, expires_at)
                 SELECT region, $1, $2, $3, now() - INTERVAL '{age}', now() + INTERVAL '1 hour'
                 FROM bookings WHERE id = $4"
            ),
            &[&user, &key, &hash, &booking],
        )
        .await
        .expect("key");
}

#[tokio::test]
async fn a_key_left_in_flight_by_a_dead_process_is_taken_over_after_a_while() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_RECONCILE_AFTER_SECS", "60")]).await;
    let show = show(&app, 0).await;
    let (user, token) = app.customer().await;
    let fresh = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    let stale = id_of(&held(&app, &token, show.id, &show.standard(1, 1)).await);
    abandoned_finalize_key(&app, user, &fresh, "fresh-key", "1 second").await;
    abandoned_finalize_key(&app, user, &stale, "stale-key", "2 minutes").await;

    // Still young: it may be running somewhere.
    expect_problem(
        finalize(&app, Some(&token), &fresh, "tok_visa", Some("fresh-key")).await,
        StatusCode::CONFLICT,
        "idempotency-key-in-flight",
    )
    .await;
    // Older than the reconciler's horizon: abandoned, so the retry runs.
    let paid =
        expect_status(finalize(&app, Some(&token), &stale, "tok_visa", Some("stale-key")).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "paid");
}
