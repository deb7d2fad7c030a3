//! Bookings: holds, reads, cancellation, expiry, authorization (the helpers are in `helpers::booking`).

use boxoffice::ids::ShowtimeId;
use metrics_exporter_prometheus::PrometheusBuilder;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::booking::{
    cancel, counter, finalize, held, hold, hold_body, id_of, lapse, live_claims, show, status_of, sum_of,
};
use crate::helpers::{TestApp, expect_problem, expect_status};

#[tokio::test]
async fn hold_returns_201_with_the_booking_its_prices_and_location() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (user, token) = app.customer().await;
    let premium: Vec<String> =
        show.seats.iter().filter(|(_, k)| k == "premium").take(1).map(|(l, _)| l.clone()).collect();
    let mut seats = show.standard(0, 1);
    seats.extend(premium.clone());

    let response = hold(&app, &token, show.id, &seats, None).await;

    let location = response.headers()["location"].to_str().expect("ascii").to_owned();
    let body = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(location, format!("/bookings/{}", id_of(&body)));
    assert_eq!(body["status"], "reserved");
    assert_eq!(body["userId"], user.to_string());
    assert_eq!(body["showtimeId"], show.id.to_string());
    let prices = app
        .db()
        .await
        .query_one("SELECT price_standard, price_premium, currency FROM showtimes WHERE id = $1", &[&show.id])
        .await
        .expect("showtime");
    let (standard, premium_price, currency): (i64, i64, String) = (prices.get(0), prices.get(1), prices.get(2));
    assert_eq!(body["total"], standard + premium_price, "{body}");
    assert_eq!(body["currency"], currency);
    let by_label: Vec<(String, i64)> = body["seats"]
        .as_array()
        .expect("seats")
        .iter()
        .map(|s| (s["label"].as_str().expect("label").to_owned(), s["price"].as_i64().expect("price")))
        .collect();
    assert!(by_label.contains(&(seats[0].clone(), standard)), "{body}");
    assert!(by_label.contains(&(premium[0].clone(), premium_price)), "{body}");
    let expires = time::OffsetDateTime::parse(
        body["holdExpiresAt"].as_str().expect("expiry"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    let ttl = expires - time::OffsetDateTime::now_utc();
    assert!(ttl > time::Duration::minutes(9) && ttl <= time::Duration::minutes(10), "{ttl}");
    // The claims exist, and belong to this booking.
    let claims = live_claims(&app, show.id).await;
    assert_eq!(claims.len(), 2);
    assert!(claims.iter().all(|(_, b)| *b == id_of(&body)));
}

#[tokio::test]
async fn hold_returns_409_listing_the_seats_someone_else_holds() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 3);
    held(&app, &alice, show.id, &seats[..2]).await;

    let body =
        expect_problem(hold(&app, &bob, show.id, &seats[1..], None).await, StatusCode::CONFLICT, "seats-unavailable")
            .await;

    assert_eq!(body["unavailableSeats"], json!([seats[1]]));
    // Nothing of Bob's refused request was left behind (I2): no booking, no claim of seats[2].
    let bobs: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM bookings WHERE showtime_id = $1", &[&show.id])
        .await
        .expect("count")
        .get(0);
    assert_eq!(bobs, 1);
    assert_eq!(live_claims(&app, show.id).await.len(), 2);
}

#[tokio::test]
async fn a_hold_over_the_per_user_cap_says_how_many_are_held_and_leaves_its_seats_free() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let seats = show.standard(0, 11);
    held(&app, &alice, show.id, &seats[..9]).await;

    // Both seats are free and claimed by the statement, which then refuses the booking (cap 10): the claims
    // must go with it.
    let body = expect_problem(
        hold(&app, &alice, show.id, &seats[9..], None).await,
        StatusCode::CONFLICT,
        "seat-limit-exceeded",
    )
    .await;

    assert_eq!((body["limit"].as_u64(), body["alreadyHeld"].as_u64()), (Some(10), Some(9)), "{body}");
    assert_eq!(live_claims(&app, show.id).await.len(), 9, "the refused hold left no claim behind");
    held(&app, &alice, show.id, &seats[9..10]).await;
}

#[tokio::test]
async fn hold_refuses_bad_requests_with_a_clear_problem_type() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let seat = show.standard(0, 1)[0].clone();
    let eleven: Vec<String> = show.standard(0, 11);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"showtimeId": Uuid::new_v4(), "seatIds": [seat]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-showtime",
        ),
        (json!({"showtimeId": show.id, "seatIds": [seat, "Z99"]}), StatusCode::UNPROCESSABLE_ENTITY, "unknown-seats"),
        (json!({"showtimeId": show.id, "seatIds": eleven}), StatusCode::UNPROCESSABLE_ENTITY, "too-many-seats"),
        (json!({"showtimeId": show.id, "seatIds": []}), StatusCode::BAD_REQUEST, "validation-error"),
        (json!({"showtimeId": show.id, "seatIds": ["F-12"]}), StatusCode::BAD_REQUEST, "validation-error"),
        (
            json!({"showtimeId": show.id, "seatIds": [seat, seat.to_lowercase()]}),
            StatusCode::BAD_REQUEST,
            "validation-error",
        ),
        (
            json!({"showtimeId": show.id, "seatIds": [seat], "userId": Uuid::new_v4()}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            json!({"showtimeId": show.id, "seatIds": [seat], "price": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
        ),
        (json!({"showtimeId": "not-a-uuid", "seatIds": [seat]}), StatusCode::UNPROCESSABLE_ENTITY, "invalid-body"),
    ];
    for (body, status, slug) in cases {
        let problem = expect_problem(hold_body(&app, &token, &body, None).await, status, slug).await;
        if slug == "unknown-seats" {
            assert_eq!(problem["unknownSeats"], json!(["Z99"]));
        }
        if slug == "too-many-seats" {
            assert_eq!(problem["maxSeats"], 10);
        }
    }
    let anonymous = app.post_json("/bookings", &json!({"showtimeId": show.id, "seatIds": [seat]}), None).await;
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(live_claims(&app, show.id).await.is_empty(), "refused requests claim nothing");
    // The userId of the caller is accepted.
    let (me, mine) = app.customer().await;
    let body = json!({"showtimeId": show.id, "seatIds": [seat], "userId": me});
    expect_status(hold_body(&app, &mine, &body, None).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn hold_refuses_a_started_or_canceled_showtime() {
    let app = TestApp::spawn().await;
    let (_, token) = app.customer().await;
    let started = show(&app, 0).await;
    let canceled = show(&app, 1).await;
    let db = app.db().await;
    db.execute(
        "UPDATE showtimes SET start_time = now() - INTERVAL '5 minutes', end_time = now() + INTERVAL '2 hours' WHERE id = $1",
        &[&started.id],
    )
    .await
    .expect("start it");
    db.execute("UPDATE showtimes SET status = 'canceled' WHERE id = $1", &[&canceled.id]).await.expect("cancel it");

    let body = expect_problem(
        hold(&app, &token, started.id, &started.standard(0, 1), None).await,
        StatusCode::CONFLICT,
        "showtime-closed",
    )
    .await;
    assert_eq!(body["reason"], "started");
    let body = expect_problem(
        hold(&app, &token, canceled.id, &canceled.standard(0, 1), None).await,
        StatusCode::CONFLICT,
        "showtime-closed",
    )
    .await;
    assert_eq!(body["reason"], "canceled");
    // The hold statement claims before it checks the showtime; the refusal took the claims with it.
    assert!(live_claims(&app, started.id).await.is_empty());
    assert!(live_claims(&app, canceled.id).await.is_empty());
}

#[tokio::test]
async fn seat_labels_are_normalised_and_order_does_not_matter() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let seats = show.standard(0, 2);
    let sent = vec![format!(" {} ", seats[1].to_lowercase()), seats[0].clone()];
    let body = held(&app, &token, show.id, &sent).await;
    let labels: Vec<&str> =
        body["seats"].as_array().expect("seats").iter().filter_map(|s| s["label"].as_str()).collect();
    let mut expected = seats.clone();
    expected.sort();
    assert_eq!(labels, expected);
}

#[tokio::test]
async fn get_booking_is_for_its_owner_and_admins_and_a_404_for_anyone_else() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, owner) = app.customer().await;
    let (_, stranger) = app.customer().await;
    let (_, admin) = app.admin().await;
    let booking = id_of(&held(&app, &owner, show.id, &show.standard(0, 1)).await);
    let path = format!("/bookings/{booking}");

    for (token, status) in [(Some(&owner), StatusCode::OK), (Some(&admin), StatusCode::OK)] {
        let body = expect_status(app.get(&path, token.map(String::as_str)).await, status).await;
        assert_eq!(id_of(&body), booking);
    }
    expect_problem(app.get(&path, Some(&stranger)).await, StatusCode::NOT_FOUND, "not-found").await;
    expect_problem(
        app.get(&format!("/bookings/{}", Uuid::new_v4()), Some(&owner)).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(app.get(&path, None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect_problem(app.get("/bookings/not-a-uuid", Some(&owner)).await, StatusCode::BAD_REQUEST, "validation-error")
        .await;
}

#[tokio::test]
async fn nobody_pays_or_cancels_someone_elses_booking() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, owner) = app.customer().await;
    let (_, stranger) = app.customer().await;
    let (_, admin) = app.admin().await;
    let booking = id_of(&held(&app, &owner, show.id, &show.standard(0, 2)).await);

    expect_problem(
        finalize(&app, Some(&stranger), &booking, "tok_visa", None).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(finalize(&app, None, &booking, "tok_visa", None).await, StatusCode::UNAUTHORIZED, "unauthorized")
        .await;
    expect_problem(finalize(&app, Some(&admin), &booking, "tok_visa", None).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    expect_problem(cancel(&app, Some(&stranger), &booking, None).await, StatusCode::NOT_FOUND, "not-found").await;
    expect_problem(cancel(&app, None, &booking, None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(status_of(&app, &booking).await, "reserved", "nothing happened to it");
    assert_eq!(app.state.bookings.payments().sandbox().expect("sandbox").succeeded_charges(), 0);

    // The owner pays; an admin may cancel (support), which refunds.
    expect_status(finalize(&app, Some(&owner), &booking, "tok_visa", None).await, StatusCode::OK).await;
    let body = expect_status(cancel(&app, Some(&admin), &booking, None).await, StatusCode::OK).await;
    assert_eq!(body["status"], "canceled");
    assert_eq!(app.state.bookings.payments().sandbox().expect("sandbox").refunds(), 1);
}

#[tokio::test]
async fn my_bookings_lists_only_mine_newest_first_with_a_cursor() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, me) = app.customer().await;
    let (_, other) = app.customer().await;
    let mut mine = Vec::new();
    for i in 0..3 {
        mine.push(id_of(&held(&app, &me, show.id, &show.standard(i, 1)).await));
    }
    held(&app, &other, show.id, &show.standard(5, 1)).await;

    let first = expect_status(app.get("/users/me/bookings?limit=2", Some(&me)).await, StatusCode::OK).await;
    let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();
    let second =
        expect_status(app.get(&format!("/users/me/bookings?limit=2&cursor={cursor}"), Some(&me)).await, StatusCode::OK)
            .await;

    let listed: Vec<Uuid> =
        first["items"].as_array().into_iter().chain(second["items"].as_array()).flatten().map(id_of).collect();
    mine.reverse();
    assert_eq!(listed, mine);
    assert!(second["nextCursor"].is_null());
    expect_problem(app.get("/users/me/bookings?limit=0", Some(&me)).await, StatusCode::BAD_REQUEST, "validation-error")
        .await;
    expect_problem(
        app.get("/users/me/bookings?cursor=bogus", Some(&me)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    expect_problem(app.get("/users/me/bookings", None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn cancel_releases_the_seats_for_someone_else() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 2);
    let booking = id_of(&held(&app, &alice, show.id, &seats).await);

    let body = expect_status(cancel(&app, Some(&alice), &booking, None).await, StatusCode::OK).await;

    assert_eq!(body["status"], "canceled");
    assert!(live_claims(&app, show.id).await.is_empty());
    held(&app, &bob, show.id, &seats).await;
    // Canceling again is harmless: the same canceled booking.
    let again = expect_status(cancel(&app, Some(&alice), &booking, None).await, StatusCode::OK).await;
    assert_eq!(again["status"], "canceled");
    let outbox: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM outbox WHERE topic = 'booking.canceled' AND payload->>'bookingId' = $1",
            &[&booking.to_string()],
        )
        .await
        .expect("outbox")
        .get(0);
    assert_eq!(outbox, 1);
}

#[tokio::test]
async fn a_lapsed_hold_blocks_nothing_and_its_booking_expires_in_the_takeover() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 3);
    let alices = id_of(&held(&app, &alice, show.id, &seats).await);
    lapse(&app, &alices).await;

    // Bob takes one of Alice's lapsed seats.
    let bobs = id_of(&held(&app, &bob, show.id, &seats[..1]).await);

    assert_eq!(status_of(&app, &alices).await, "expired", "expired in the takeover's transaction");
    let claims: Vec<(String, Uuid)> = app
        .db()
        .await
        .query("SELECT seat_label, booking_id FROM booking_seats WHERE showtime_id = $1", &[&show.id])
        .await
        .expect("claims")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(claims, vec![(seats[0].clone(), bobs)], "Alice's other claims were released");
    let body = expect_status(app.get(&format!("/bookings/{alices}"), Some(&alice)).await, StatusCode::OK).await;
    assert_eq!(body["status"], "expired");
    expect_problem(finalize(&app, Some(&alice), &alices, "tok_visa", None).await, StatusCode::GONE, "hold-expired")
        .await;
    expect_problem(cancel(&app, Some(&alice), &alices, None).await, StatusCode::CONFLICT, "booking-state-conflict")
        .await;
}

#[tokio::test]
async fn with_a_one_second_ttl_expired_seats_go_to_another_user_and_the_old_booking_cannot_be_paid() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_HOLD_TTL_SECS", "1")]).await;
    let show = show(&app, 0).await;
    let (_, alice) = app.customer().await;
    let (_, bob) = app.customer().await;
    let seats = show.standard(0, 2);
    let alices = id_of(&held(&app, &alice, show.id, &seats).await);
    expect_problem(hold(&app, &bob, show.id, &seats, None).await, StatusCode::CONFLICT, "seats-unavailable").await;

    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    // Seen as expired before anything wrote it.
    let body = expect_status(app.get(&format!("/bookings/{alices}"), Some(&alice)).await, StatusCode::OK).await;
    assert_eq!(body["status"], "expired");
    let bobs = id_of(&held(&app, &bob, show.id, &seats).await);
    expect_problem(finalize(&app, Some(&alice), &alices, "tok_visa", None).await, StatusCode::GONE, "hold-expired")
        .await;
    let claims = live_claims(&app, show.id).await;
    assert_eq!(claims.len(), 2);
    assert!(claims.iter().all(|(_, b)| *b == bobs));
    assert_eq!(app.state.bookings.payments().sandbox().expect("sandbox").succeeded_charges(), 0);
}

#[tokio::test]
async fn the_sweeper_expires_lapsed_holds_and_releases_their_seats() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let lapsed = id_of(&held(&app, &token, show.id, &show.standard(0, 2)).await);
    let live = id_of(&held(&app, &token, show.id, &show.standard(2, 1)).await);
    lapse(&app, &lapsed).await;
    let before = counter(&app, "boxoffice_holds_expired_total", &["by=\"sweeper\""]);

    let report = app.state.bookings.sweep_lapsed_holds(1, u32::MAX).await.expect("sweep");

    assert_eq!(report.expired, 1, "this test's database has one lapsed hold");
    assert_eq!(status_of(&app, &lapsed).await, "expired");
    assert_eq!(status_of(&app, &live).await, "reserved");
    let claims: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM booking_seats WHERE showtime_id = $1", &[&show.id])
        .await
        .expect("count")
        .get(0);
    assert_eq!(claims, 1, "only the live hold's claim is left");
    assert!(counter(&app, "boxoffice_holds_expired_total", &["by=\"sweeper\""]) >= before + 1.0);
}

#[tokio::test]
async fn every_commit_that_changes_claims_invalidates_the_seat_cache() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let key = boxoffice::cache::seats::availability_key(&app.state.redis, ShowtimeId(show.id));
    let plant = || async {
        let key = key.clone();
        app.state
            .redis
            .run(async move |c| redis::cmd("SET").arg(&key).arg("stale").query_async::<()>(c).await)
            .await
            .expect("redis");
    };
    // Invalidations are flushed by a task of their own: wait for this process's (the read path's wait).
    let cached = || async {
        app.state.catalog.caches.seats.settled([ShowtimeId(show.id)]).await;
        let key = key.clone();
        app.state
            .redis
            .run(async move |c| redis::cmd("EXISTS").arg(&key).query_async::<i64>(c).await)
            .await
            .expect("redis")
    };

    plant().await;
    let booking = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    assert_eq!(cached().await, 0, "a hold invalidates");
    plant().await;
    expect_status(cancel(&app, Some(&token), &booking, None).await, StatusCode::OK).await;
    assert_eq!(cached().await, 0, "a cancellation invalidates");
    let booking = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    lapse(&app, &booking).await;
    plant().await;
    app.state.bookings.sweep_lapsed_holds(100, u32::MAX).await.expect("sweep");
    assert_eq!(cached().await, 0, "the sweeper invalidates");
}

#[tokio::test]
async fn holds_are_counted_in_the_business_metrics() {
    // A recorder of this test's own: the test runs on one thread (tokio's current-thread runtime), and so do the
    // server and its handlers, so every sample below comes from this test's requests and from no other test's.
    let recorder = PrometheusBuilder::new().build_recorder();
    let samples = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;

    held(&app, &token, show.id, &show.standard(0, 3)).await;
    expect_problem(
        hold(&app, &token, show.id, &show.standard(0, 1), None).await,
        StatusCode::CONFLICT,
        "seats-unavailable",
    )
    .await;

    let text = samples.render();
    let value = |name: &str, labels: &[&str]| sum_of(&text, name, labels);
    assert_eq!(value("boxoffice_bookings_total", &["outcome=\"held\""]), 1.0, "{text}");
    assert_eq!(value("boxoffice_bookings_total", &["outcome=\"conflict\""]), 1.0, "{text}");
    assert_eq!(value("boxoffice_seats_claimed_total", &[]), 3.0, "{text}");
    // The transaction's duration is recorded too (this recorder has no buckets configured, so it is a summary; the
    // refused hold may or may not reach a transaction, depending on the seat gate).
    assert!(value("boxoffice_db_tx_duration_seconds_count", &["tx=\"hold\""]) >= 1.0, "{text}");
}

#[tokio::test]
async fn the_worker_loop_sweeps_lapsed_holds_and_reconciles_payments() {
    let app =
        TestApp::spawn_with(&[("BOXOFFICE_PAYMENT_TIMEOUT_MS", "200"), ("BOXOFFICE_RECONCILE_AFTER_SECS", "1")]).await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let lapsed = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    lapse(&app, &lapsed).await;
    let unanswered = id_of(&held(&app, &token, show.id, &show.standard(1, 1)).await);
    expect_problem(
        finalize(&app, Some(&token), &unanswered, "tok_timeout", None).await,
        StatusCode::GATEWAY_TIMEOUT,
        "payment-timeout",
    )
    .await;
    let mut config = app.state.config.worker;
    config.sweep_interval = std::time::Duration::from_secs(1);
    config.reconcile_interval = std::time::Duration::from_secs(1);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(boxoffice::worker::run(
        app.state.db.clone(),
        app.state.bookings.clone(),
        boxoffice::notify::Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher"),
        config,
        shutdown.clone(),
    ));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while status_of(&app, &lapsed).await != "expired" || status_of(&app, &unanswered).await != "paid" {
        assert!(std::time::Instant::now() < deadline, "the worker did not get to them");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    worker.await.expect("the worker stops on shutdown");
}
