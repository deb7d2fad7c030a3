//! Payments: success, decline, a provider that never answers (reconciled), a failing provider (circuit breaker),
//! late payments (kept or refunded), refunds on cancellation, at most one charge per request (I3), and the payment
//! options a client draws its form from.

use std::time::Duration;

use boxoffice::payment::breaker::State;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::booking::{cancel, finalize, held, hold, id_of, lapse, live_claims, show, status_of};
use crate::helpers::{TestApp, expect_problem, expect_status};

/// The payment attempts of a booking: (attempt, status, amount).
async fn payments(app: &TestApp, id: &Uuid) -> Vec<(i32, String, i64)> {
    app.db()
        .await
        .query("SELECT attempt, status, amount FROM payments WHERE booking_id = $1 ORDER BY attempt", &[&id])
        .await
        .expect("payments")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn outbox(app: &TestApp, topic: &str, booking: &Uuid) -> i64 {
    let booking = booking.to_string();
    app.db()
        .await
        .query_one("SELECT count(*) FROM outbox WHERE topic = $1 AND payload->>'bookingId' = $2", &[&topic, &booking])
        .await
        .expect("outbox")
        .get(0)
}

fn sandbox(app: &TestApp) -> &boxoffice::payment::sandbox::SandboxGateway {
    app.state.bookings.payments().sandbox().expect("the sandbox is the test provider")
}

async fn get(app: &TestApp, token: &str, booking: &Uuid) -> Value {
    expect_status(app.get(&format!("/bookings/{booking}"), Some(token)).await, StatusCode::OK).await
}

#[tokio::test]
async fn a_good_card_pays_and_holds_the_seats_for_good() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let booking = held(&app, &token, show.id, &show.standard(0, 2)).await;
    let id = id_of(&booking);

    let paid = expect_status(finalize(&app, Some(&token), &id, "tok_visa", None).await, StatusCode::OK).await;

    assert_eq!(paid["status"], "paid");
    assert!(paid["holdExpiresAt"].is_null());
    assert!(paid["paymentRef"].as_str().is_some_and(|r| r.starts_with("ch_sandbox_")), "{paid}");
    assert_eq!(paid["total"], booking["total"]);
    assert_eq!(payments(&app, &id).await, vec![(1, "succeeded".to_owned(), booking["total"].as_i64().expect("total"))]);
    assert_eq!(outbox(&app, "booking.paid", &id).await, 1);
    let permanent: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM booking_seats WHERE booking_id = $1 AND hold_expires_at IS NULL", &[&id])
        .await
        .expect("claims")
        .get(0);
    assert_eq!(permanent, 2);
    // Paying again charges nothing and answers with the paid booking.
    let again = expect_status(finalize(&app, Some(&token), &id, "tok_visa", None).await, StatusCode::OK).await;
    assert_eq!(again["status"], "paid");
    assert_eq!(sandbox(&app).succeeded_charges(), 1);
    // Sold seats are nobody else's, ever.
    let (_, other) = app.customer().await;
    expect_problem(
        hold(&app, &other, show.id, &show.standard(0, 1), None).await,
        StatusCode::CONFLICT,
        "seats-unavailable",
    )
    .await;
}

#[tokio::test]
async fn a_declined_card_is_a_402_and_the_hold_continues_unchanged() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let booking = held(&app, &token, show.id, &show.standard(0, 2)).await;
    let id = id_of(&booking);

    let problem = expect_problem(
        finalize(&app, Some(&token), &id, "tok_chargeDeclined", None).await,
        StatusCode::PAYMENT_REQUIRED,
        "payment-declined",
    )
    .await;

    assert_eq!(problem["reason"], "card_declined");
    let now = get(&app, &token, &id).await;
    assert_eq!(now["status"], "reserved");
    assert_eq!(now["holdExpiresAt"], booking["holdExpiresAt"], "the hold is unchanged");
    let claims = live_claims(&app, show.id).await;
    assert_eq!(claims.len(), 2, "the seats stay held");
    // Another card works: attempt 2.
    expect_status(finalize(&app, Some(&token), &id, "tok_visa", None).await, StatusCode::OK).await;
    let attempts: Vec<(i32, String)> = payments(&app, &id).await.into_iter().map(|(a, s, _)| (a, s)).collect();
    assert_eq!(attempts, vec![(1, "declined".to_owned()), (2, "succeeded".to_owned())]);
}

#[tokio::test]
async fn a_provider_that_never_answers_is_a_504_and_the_reconciler_completes_the_payment() {
    // A hold shorter than the payment window, to see the window extend it.
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_PAYMENT_TIMEOUT_MS", "300"),
        ("BOXOFFICE_RECONCILE_AFTER_SECS", "1"),
        ("BOXOFFICE_HOLD_TTL_SECS", "60"),
        ("BOXOFFICE_PAYMENT_WINDOW_SECS", "120"),
    ])
    .await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let booking = held(&app, &token, show.id, &show.standard(0, 2)).await;
    let id = id_of(&booking);

    expect_problem(
        finalize(&app, Some(&token), &id, "tok_timeout", None).await,
        StatusCode::GATEWAY_TIMEOUT,
        "payment-timeout",
    )
    .await;

    let pending = get(&app, &token, &id).await;
    assert_eq!(pending["status"], "payment_pending");
    let at = |v: &Value| {
        time::OffsetDateTime::parse(v.as_str().expect("a time"), &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339")
    };
    let extended = at(&pending["holdExpiresAt"]) - at(&booking["holdExpiresAt"]);
    assert!(extended > time::Duration::seconds(50), "the payment window extended the hold by {extended}");
    assert_eq!(payments(&app, &id).await[0].1, "unknown");
    expect_problem(
        finalize(&app, Some(&token), &id, "tok_visa", None).await,
        StatusCode::CONFLICT,
        "payment-in-progress",
    )
    .await;
    expect_problem(cancel(&app, Some(&token), &id, None).await, StatusCode::CONFLICT, "payment-in-progress").await;
    // Too young for the reconciler: left alone.
    let report = app.state.bookings.reconcile_payments(Duration::from_secs(3600), 10).await.expect("reconcile");
    assert_eq!(report.resolved, 0);

    let report = app.state.bookings.reconcile_payments(Duration::ZERO, 10).await.expect("reconcile");

    assert_eq!(report.resolved, 1);
    let paid = get(&app, &token, &id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(payments(&app, &id).await[0].1, "succeeded");
    assert_eq!(outbox(&app, "booking.paid", &id).await, 1);
    assert_eq!(sandbox(&app).succeeded_charges(), 1);
}

#[tokio::test]
async fn provider_errors_open_the_circuit_and_a_successful_trial_closes_it() {
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_PAYMENT_CIRCUIT_FAILURES", "2"),
        ("BOXOFFICE_PAYMENT_CIRCUIT_COOLDOWN_MS", "700"),
    ])
    .await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let ids: Vec<Uuid> = {
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(id_of(&held(&app, &token, show.id, &show.standard(i, 1)).await));
        }
        ids
    };
    let breaker = || app.state.bookings.payments().breaker().state();

    for id in &ids[..2] {
        expect_problem(
            finalize(&app, Some(&token), id, "tok_error", None).await,
            StatusCode::BAD_GATEWAY,
            "payment-provider-error",
        )
        .await;
        assert_eq!(status_of(&app, id).await, "payment_pending", "left for the reconciler");
    }
    assert!(matches!(breaker(), State::Open { .. }), "{:?}", breaker());

    // Open: refused at once, nothing charged, nothing touched.
    let response = finalize(&app, Some(&token), &ids[2], "tok_visa", None).await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert_eq!(retry_after, 1, "the rest of the cool-down, rounded up");
    expect_problem(response, StatusCode::SERVICE_UNAVAILABLE, "payment-unavailable").await;
    assert_eq!(status_of(&app, &ids[2]).await, "reserved");
    assert!(payments(&app, &ids[2]).await.is_empty());
    let metrics = app.state.metrics.render();
    assert!(metrics.contains("boxoffice_payment_circuit_state"), "the gauge is exported");

    // After the cool-down one trial goes through; it succeeds and closes the circuit.
    tokio::time::sleep(Duration::from_millis(800)).await;
    expect_status(finalize(&app, Some(&token), &ids[2], "tok_visa", None).await, StatusCode::OK).await;
    assert_eq!(breaker(), State::Closed { failures: 0 });

    // The failed charges took nothing: the reconciler puts those bookings back to reserved.
    let report = app.state.bookings.reconcile_payments(Duration::ZERO, 10).await.expect("reconcile");
    assert_eq!(report.resolved, 2);
    for id in &ids[..2] {
        assert_eq!(status_of(&app, id).await, "reserved");
        assert_eq!(payments(&app, id).await[0].1, "failed");
    }
    assert_eq!(sandbox(&app).succeeded_charges(), 1);
}

#[tokio::test]
async fn a_payment_that_lands_after_the_seats_were_taken_is_refunded() {
    let app =
        TestApp::spawn_with(&[("BOXOFFICE_PAYMENT_TIMEOUT_MS", "300"), ("BOXOFFICE_RECONCILE_AFTER_SECS", "1")]).await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 2);
    let alices = id_of(&held(&app, &alice, show.id, &seats).await);
    expect_problem(
        finalize(&app, Some(&alice), &alices, "tok_timeout", None).await,
        StatusCode::GATEWAY_TIMEOUT,
        "payment-timeout",
    )
    .await;
    // The payment window lapses before anyone learns the outcome, and Bob takes a seat.
    lapse(&app, &alices).await;
    held(&app, &bob, show.id, &seats[..1]).await;
    assert_eq!(status_of(&app, &alices).await, "expired");

    let report = app.state.bookings.reconcile_payments(Duration::ZERO, 10).await.expect("reconcile");

    assert_eq!(report.resolved, 1);
    assert_eq!(status_of(&app, &alices).await, "expired");
    assert_eq!(payments(&app, &alices).await[0].1, "refunded");
    assert_eq!(sandbox(&app).refunds(), 1);
    assert_eq!(live_claims(&app, show.id).await.len(), 1, "Bob's seat only");
}

#[tokio::test]
async fn a_payment_that_lands_after_expiry_is_kept_when_the_seats_can_be_reclaimed() {
    let app =
        TestApp::spawn_with(&[("BOXOFFICE_PAYMENT_TIMEOUT_MS", "300"), ("BOXOFFICE_RECONCILE_AFTER_SECS", "1")]).await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 2);
    let alices = id_of(&held(&app, &alice, show.id, &seats).await);
    expect_problem(
        finalize(&app, Some(&alice), &alices, "tok_timeout", None).await,
        StatusCode::GATEWAY_TIMEOUT,
        "payment-timeout",
    )
    .await;
    lapse(&app, &alices).await;
    // Bob takes a seat (Alice's booking expires) and gives it back: the seats are free again.
    let bobs = id_of(&held(&app, &bob, show.id, &seats[..1]).await);
    expect_status(cancel(&app, Some(&bob), &bobs, None).await, StatusCode::OK).await;
    assert_eq!(status_of(&app, &alices).await, "expired");

    app.state.bookings.reconcile_payments(Duration::ZERO, 10).await.expect("reconcile");

    let booking = get(&app, &alice, &alices).await;
    assert_eq!(booking["status"], "paid");
    assert_eq!(sandbox(&app).refunds(), 0);
    let claims = live_claims(&app, show.id).await;
    assert_eq!(claims.len(), 2);
    assert!(claims.iter().all(|(_, b)| *b == alices));
}

#[tokio::test]
async fn canceling_a_paid_booking_refunds_it_then_releases_the_seats() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 2);
    let id = id_of(&held(&app, &alice, show.id, &seats).await);
    expect_status(finalize(&app, Some(&alice), &id, "tok_visa", None).await, StatusCode::OK).await;

    let canceled = expect_status(cancel(&app, Some(&alice), &id, None).await, StatusCode::OK).await;

    assert_eq!(canceled["status"], "canceled");
    assert_eq!(sandbox(&app).refunds(), 1);
    assert_eq!(payments(&app, &id).await[0].1, "refunded");
    assert_eq!(outbox(&app, "booking.canceled", &id).await, 1);
    assert!(live_claims(&app, show.id).await.is_empty());
    held(&app, &bob, show.id, &seats).await;
    // A second cancellation refunds nothing more.
    expect_status(cancel(&app, Some(&alice), &id, None).await, StatusCode::OK).await;
    assert_eq!(sandbox(&app).refunds(), 1);
}

#[tokio::test]
async fn a_retried_payment_with_the_same_key_charges_once() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let id = id_of(&held(&app, &token, show.id, &show.standard(0, 2)).await);
    let key = Uuid::new_v4().to_string();
    let provider = sandbox(&app).hold_charges();

    // The retry arrives while the first request's charge is at the provider (held there until the retry has its
    // answer): one pays, the other is told the first is still running.
    let (first, second) = tokio::join!(finalize(&app, Some(&token), &id, "tok_visa", Some(&key)), async {
        tokio::time::timeout(Duration::from_secs(10), provider.arrived(1))
            .await
            .expect("the first payment reaches the provider");
        // Bounded: a retry that went to the provider too would wait at the held door.
        let second =
            tokio::time::timeout(Duration::from_secs(10), finalize(&app, Some(&token), &id, "tok_visa", Some(&key)))
                .await
                .expect("the retry is answered while the first charge is still at the provider");
        provider.release();
        second
    });
    let paid = expect_status(first, StatusCode::OK).await;
    let in_flight = second.headers().get("retry-after").is_some();
    expect_problem(second, StatusCode::CONFLICT, "idempotency-key-in-flight").await;
    assert!(in_flight, "Retry-After on the in-flight answer");

    // Later, the same request replays the first answer.
    let replay = finalize(&app, Some(&token), &id, "tok_visa", Some(&key)).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_status(replay, StatusCode::OK).await, paid);
    assert_eq!(sandbox(&app).succeeded_charges(), 1, "one charge");
    assert_eq!(payments(&app, &id).await.len(), 1, "one attempt");
}

#[tokio::test]
async fn a_declined_payment_replays_its_402_under_the_same_key() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let id = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    let key = Uuid::new_v4().to_string();

    let first = expect_problem(
        finalize(&app, Some(&token), &id, "tok_chargeDeclined", Some(&key)).await,
        StatusCode::PAYMENT_REQUIRED,
        "payment-declined",
    )
    .await;
    let replay = finalize(&app, Some(&token), &id, "tok_chargeDeclined", Some(&key)).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let second = expect_problem(replay, StatusCode::PAYMENT_REQUIRED, "payment-declined").await;

    assert_eq!(first, second);
    assert_eq!(payments(&app, &id).await.len(), 1, "the decline was not tried again");
}

#[tokio::test]
async fn payment_options_list_the_sandbox_test_tokens() {
    let app = TestApp::spawn().await;
    let options = expect_status(app.get("/payments/options", None).await, StatusCode::OK).await;
    assert_eq!(options["provider"], "sandbox");
    let tokens: Vec<&str> =
        options["testTokens"].as_array().expect("testTokens").iter().filter_map(|t| t["token"].as_str()).collect();
    assert!(tokens.contains(&"tok_visa") && tokens.contains(&"tok_chargeDeclined"), "{options}");
}
