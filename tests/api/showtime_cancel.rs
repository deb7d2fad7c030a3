//! Canceling a showtime (issue #17, section 1): finalize refuses a canceled or started showtime and charges nothing;
//! the cancellation cancels every live booking (holds released, paid bookings refunded, customers mailed), answers
//! with the counts, is safe to call twice, is batched and resumable; and a payment racing it ends refunded or
//! refused, never kept.

use std::time::Duration;

use boxoffice::booking::service::showtime_cancel::HOLD_BATCH;
use boxoffice::catalog::model::ShowtimeId;
use boxoffice::db::Region;
use boxoffice::payment::{RefundRequest, refund_key};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::booking::{
    Show, customers, finalize, held, id_of, lapse, live_claims, show, show_of_row, status_of,
};
use crate::helpers::{TestApp, expect_problem, expect_status};

fn sandbox(app: &TestApp) -> &boxoffice::payment::sandbox::SandboxGateway {
    app.state.bookings.payments().sandbox().expect("the sandbox is the test provider")
}

async fn cancel_showtime(app: &TestApp, admin: &str, showtime: Uuid) -> reqwest::Response {
    app.post_json(&format!("/showtimes/{showtime}/cancel"), &json!({}), Some(admin)).await
}

/// The `booking.canceled` events of a booking: their `reason`s.
async fn cancel_mails(app: &TestApp, booking: &Uuid) -> Vec<Option<String>> {
    let booking = booking.to_string();
    app.db()
        .await
        .query(
            "SELECT payload->>'reason' FROM outbox WHERE topic = 'booking.canceled' AND payload->>'bookingId' = $1",
            &[&booking],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A test app whose provider answers `tok_timeout` too late for the request (300 ms) and whose reconciler may look
/// at an attempt after a second.
async fn app_with_a_provider_that_times_out() -> TestApp {
    TestApp::spawn_with(&[("BOXOFFICE_PAYMENT_TIMEOUT_MS", "300"), ("BOXOFFICE_RECONCILE_AFTER_SECS", "1")]).await
}

/// Pays `booking` with a charge the provider takes but never answers: 504, the booking stays payment_pending.
async fn charge_without_an_answer(app: &TestApp, token: &str, booking: &Uuid) {
    expect_problem(
        finalize(app, Some(token), booking, "tok_timeout", None).await,
        StatusCode::GATEWAY_TIMEOUT,
        "payment-timeout",
    )
    .await;
}

/// The statuses of a booking's charge attempts.
async fn payment_statuses(app: &TestApp, booking: &Uuid) -> Vec<String> {
    app.db()
        .await
        .query("SELECT status FROM payments WHERE booking_id = $1 ORDER BY attempt", &[booking])
        .await
        .expect("payments")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn paid(app: &TestApp, token: &str, show: &Show, seats: &[String]) -> Uuid {
    let booking = held(app, token, show.id, seats).await;
    let id = id_of(&booking);
    expect_status(finalize(app, Some(token), &id, "tok_visa", None).await, StatusCode::OK).await;
    id
}

#[tokio::test]
async fn finalize_refuses_a_canceled_or_started_showtime_with_409_and_charges_nothing() {
    // Each case closes the showtime behind the booking's back, as a cancellation's batches have not reached it yet
    // (or the show has begun), then pays.
    let cases: [(&str, &str, &str); 2] = [
        ("canceled", "UPDATE showtimes SET status = 'canceled' WHERE id = $1", "canceled"),
        (
            "started",
            "UPDATE showtimes SET start_time = now() - INTERVAL '1 minute', end_time = now() + INTERVAL '2 hours' \
             WHERE id = $1",
            "started",
        ),
    ];
    for (nth, (case, close, reason)) in cases.into_iter().enumerate() {
        let app = TestApp::spawn().await;
        let show = show(&app, nth as i64).await;
        let (_, token) = app.customer().await;
        let booking = held(&app, &token, show.id, &show.standard(0, 2)).await;
        let id = id_of(&booking);
        app.db().await.execute(close, &[&show.id]).await.expect("close the showtime");

        let problem = expect_problem(
            finalize(&app, Some(&token), &id, "tok_visa", None).await,
            StatusCode::CONFLICT,
            "showtime-closed",
        )
        .await;

        assert_eq!(problem["reason"], reason, "{case}: {problem}");
        assert_eq!(sandbox(&app).succeeded_charges(), 0, "{case}: nothing charged");
        assert!(payment_statuses(&app, &id).await.is_empty(), "{case}: no charge attempt recorded");
        assert_eq!(status_of(&app, &id).await, "reserved", "{case}: the booking is left as it was");
    }
}

#[tokio::test]
async fn canceling_a_showtime_cancels_holds_refunds_paid_bookings_and_mails_each_customer_once() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, admin) = app.admin().await;
    let (_, holder) = app.customer().await;
    let (_, buyer) = app.customer().await;
    let (_, late) = app.customer().await;
    let hold_id = id_of(&held(&app, &holder, show.id, &show.standard(0, 2)).await);
    let paid_id = paid(&app, &buyer, &show, &show.standard(2, 3)).await;
    let lapsed_id = id_of(&held(&app, &late, show.id, &show.standard(5, 1)).await);
    lapse(&app, &lapsed_id).await;

    let body = expect_status(cancel_showtime(&app, &admin, show.id).await, StatusCode::OK).await;

    assert_eq!(body["status"], "canceled", "{body}");
    assert_eq!(
        body["cancellation"],
        json!({"bookingsCanceled": 2, "bookingsRefunded": 1, "paymentsPending": 0, "bookingsRemaining": 0,
               "complete": true})
    );
    assert_eq!(status_of(&app, &hold_id).await, "canceled");
    assert_eq!(status_of(&app, &paid_id).await, "canceled");
    assert_eq!(status_of(&app, &lapsed_id).await, "expired", "a lapsed hold ends as the sweeper would end it");
    assert_eq!(payment_statuses(&app, &paid_id).await, ["refunded"]);
    assert_eq!((sandbox(&app).refunds(), sandbox(&app).kept_charges()), (1, 0));
    assert!(live_claims(&app, show.id).await.is_empty(), "every seat released");
    let showtime_canceled = vec![Some("showtime_canceled".to_owned())];
    assert_eq!(cancel_mails(&app, &hold_id).await, showtime_canceled);
    assert_eq!(cancel_mails(&app, &paid_id).await, showtime_canceled);
    assert!(cancel_mails(&app, &lapsed_id).await.is_empty(), "no mail for a hold that had lapsed");

    // Twice: the same answer, nothing refunded or mailed again.
    let again = expect_status(cancel_showtime(&app, &admin, show.id).await, StatusCode::OK).await;
    assert_eq!(again["cancellation"], body["cancellation"]);
    assert_eq!(sandbox(&app).refunds(), 1);
    assert_eq!(cancel_mails(&app, &paid_id).await.len(), 1);
}

/// A future showtime on the demo data's largest screen, with its seats.
async fn largest_show(app: &TestApp) -> Show {
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT s.id, s.region, s.theater_id, s.screen_number FROM showtimes s
             WHERE s.status = 'scheduled' AND s.start_time > now() + INTERVAL '1 day'
             ORDER BY (SELECT count(*) FROM seats st WHERE st.region = s.region AND st.theater_id = s.theater_id
                         AND st.screen_number = s.screen_number) DESC, s.start_time, s.id
             LIMIT 1",
            &[],
        )
        .await
        .expect("a future showtime");
    show_of_row(&db, &row).await
}

#[tokio::test]
async fn a_large_showtime_is_canceled_in_batches_and_the_worker_finishes_what_a_request_left() {
    let app = TestApp::spawn().await;
    let show = largest_show(&app).await;
    let seats: Vec<String> = show.seats.iter().map(|(label, _)| label.clone()).collect();
    let n = usize::try_from(HOLD_BATCH).expect("small") + 20;
    assert!(seats.len() >= n, "the largest demo screen has {} seats", seats.len());
    let people = customers(&app, n).await;
    for ((_, token), seat) in people.iter().zip(&seats) {
        held(&app, token, show.id, std::slice::from_ref(seat)).await;
    }
    let id = ShowtimeId(show.id);
    let region: Region = boxoffice::catalog::store::cancel_showtime(&app.state.db, id).await.expect("canceled");

    // No time at all: one batch (one transaction of HOLD_BATCH bookings), then the answer.
    let started = std::time::Instant::now();
    let first =
        app.state.bookings.cancel_showtime_bookings(&region, ShowtimeId(show.id), Duration::ZERO).await.expect("batch");
    eprintln!("one batch of {HOLD_BATCH} holds canceled (and progress read) in {:?}", started.elapsed());

    assert_eq!((first.bookings_canceled, first.bookings_remaining, first.complete), (HOLD_BATCH, 20, false));
    // The worker resumes it (any idle time: this test's clock) and finishes.
    let report = app
        .state
        .bookings
        .resume_showtime_cancellations(Duration::ZERO, 10, Duration::from_secs(30))
        .await
        .expect("resumed");
    assert_eq!((report.resolved, report.deferred), (1, 0));
    let done = app.state.bookings.cancellation_progress(&region, ShowtimeId(show.id)).await.expect("progress");
    assert_eq!((done.bookings_canceled, done.bookings_remaining, done.complete), (n as i64, 0, true));
    assert!(live_claims(&app, show.id).await.is_empty());
    let idle = app.state.bookings.resume_showtime_cancellations(Duration::ZERO, 10, Duration::from_secs(30)).await;
    assert_eq!(idle.expect("resumed").resolved, 0, "a finished cancellation is not resumed");
}

#[tokio::test]
async fn a_refund_whose_batch_never_committed_is_finished_once_by_the_next_run() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, buyer) = app.customer().await;
    let paid_id = paid(&app, &buyer, &show, &show.standard(0, 2)).await;
    let region: Region =
        boxoffice::catalog::store::cancel_showtime(&app.state.db, ShowtimeId(show.id)).await.expect("canceled");
    // A run refunded the booking at the provider, then died before its batch's transaction.
    let (charge, amount): (String, i64) = {
        let row = app
            .db()
            .await
            .query_one(
                "SELECT provider_ref, amount FROM payments WHERE booking_id = $1 AND status = 'succeeded'",
                &[&paid_id],
            )
            .await
            .expect("charge");
        (row.get(0), row.get(1))
    };
    let booking: Uuid = paid_id;
    let refund = RefundRequest { idempotency_key: refund_key(booking, 1), charge_id: charge, amount };
    app.state.bookings.payments().refund(refund).await.expect("refunded");
    assert_eq!(status_of(&app, &paid_id).await, "paid", "the crash left the booking paid");

    let report = app
        .state
        .bookings
        .resume_showtime_cancellations(Duration::ZERO, 10, Duration::from_secs(30))
        .await
        .expect("resumed");

    assert_eq!(report.resolved, 1);
    assert_eq!(status_of(&app, &paid_id).await, "canceled");
    assert_eq!(payment_statuses(&app, &paid_id).await, ["refunded"]);
    assert_eq!((sandbox(&app).refunds(), sandbox(&app).kept_charges()), (1, 0), "the same refund, not a second");
    let progress = app.state.bookings.cancellation_progress(&region, ShowtimeId(show.id)).await.expect("progress");
    assert_eq!((progress.bookings_canceled, progress.bookings_refunded, progress.complete), (1, 1, true));
    assert_eq!(cancel_mails(&app, &paid_id).await.len(), 1);
}

#[tokio::test]
async fn a_payment_that_completes_after_its_showtime_was_canceled_ends_canceled_refunded_and_mailed() {
    // The provider answers too late for the request (504, the booking stays payment_pending); the showtime is
    // canceled meanwhile, which leaves a payment under way to its request or the reconciler; then the reconciler
    // finds the charge taken. The seats cannot be claimed on a canceled showtime, so the charge is refunded, and
    // the booking ends as the cancellation ends every other: canceled, its owner mailed why.
    let app = app_with_a_provider_that_times_out().await;
    let show = show(&app, 0).await;
    let (_, admin) = app.admin().await;
    let (_, buyer) = app.customer().await;
    let booking = id_of(&held(&app, &buyer, show.id, &show.standard(0, 2)).await);
    charge_without_an_answer(&app, &buyer, &booking).await;
    let body = expect_status(cancel_showtime(&app, &admin, show.id).await, StatusCode::ACCEPTED).await;
    assert_eq!(body["cancellation"]["paymentsPending"], 1, "{body}");

    let report = app.state.bookings.reconcile_payments(Duration::ZERO, 10).await.expect("reconciled");

    assert_eq!(report.resolved, 1);
    assert_eq!(status_of(&app, &booking).await, "canceled", "ended by the cancellation, not expired");
    assert_eq!(payment_statuses(&app, &booking).await, ["refunded"]);
    assert_eq!(cancel_mails(&app, &booking).await, [Some("showtime_canceled".to_owned())]);
    assert_eq!((sandbox(&app).succeeded_charges(), sandbox(&app).kept_charges()), (1, 0));
    assert!(live_claims(&app, show.id).await.is_empty());
    let done = expect_status(cancel_showtime(&app, &admin, show.id).await, StatusCode::OK).await;
    assert_eq!(done["cancellation"]["complete"], true, "{done}");
}

/// What a payment racing a cancellation may answer: paid (then refunded by the cancellation), refused because the
/// showtime closed or the hold was canceled first, or refunded because the showtime closed during the payment.
fn racing_answer_is_allowed(status: StatusCode, body: &Value) -> bool {
    let slug = body["type"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
    match status {
        StatusCode::OK => body["status"] == "paid",
        // A charge taken after the cancellation is refunded with this answer; one refused before it has no `refunded`.
        StatusCode::CONFLICT => {
            (slug == "showtime-closed" && body["refunded"] != false) || slug == "booking-state-conflict"
        }
        StatusCode::GONE => slug == "hold-expired" && body["refunded"] == true,
        _ => false,
    }
}

#[tokio::test]
async fn payments_racing_a_showtime_cancellation_end_refunded_or_refused_never_kept() {
    const ROUNDS: i64 = 20;
    const BUYERS: usize = 4;
    let app = TestApp::spawn().await;
    let (_, admin) = app.admin().await;
    let people = customers(&app, BUYERS).await;
    let mut answers: std::collections::BTreeMap<String, usize> = Default::default();
    for round in 0..ROUNDS {
        let show = show(&app, round).await;
        let mut bookings = Vec::with_capacity(BUYERS);
        for (i, (_, token)) in people.iter().enumerate() {
            let booking = held(&app, token, show.id, &show.standard(2 * i, 2)).await;
            bookings.push((token.clone(), id_of(&booking)));
        }
        // Every buyer pays at the moment the admin cancels: released together by one barrier (the requests run
        // concurrently on the server; this task only waits for their answers).
        let start = tokio::sync::Barrier::new(BUYERS + 1);
        let pay = bookings.iter().map(|(token, id)| {
            let start = &start;
            let app = &app;
            async move {
                start.wait().await;
                let response = finalize(app, Some(token), id, "tok_visa", None).await;
                let status = response.status();
                (status, response.json::<Value>().await.unwrap_or(Value::Null))
            }
        });
        let cancel = async {
            start.wait().await;
            cancel_showtime(&app, &admin, show.id).await
        };
        let (payers, canceled) = tokio::join!(futures_util::future::join_all(pay), cancel);
        assert!(
            [StatusCode::OK, StatusCode::ACCEPTED].contains(&canceled.status()),
            "round {round}: {}",
            canceled.status()
        );
        for payer in payers {
            let (status, body) = payer;
            assert!(racing_answer_is_allowed(status, &body), "round {round}: {status} {body}");
            let slug = body["type"].as_str().unwrap_or("paid").rsplit('/').next().unwrap_or_default().to_owned();
            *answers.entry(format!("{} {slug}", status.as_u16())).or_default() += 1;
        }
        // The payments have all answered: calling again finishes what was waiting on them.
        let done = expect_status(cancel_showtime(&app, &admin, show.id).await, StatusCode::OK).await;
        assert_eq!(done["cancellation"]["complete"], true, "round {round}: {done}");
        for (_, id) in &bookings {
            let status = status_of(&app, id).await;
            assert!(["canceled", "expired"].contains(&status.as_str()), "round {round}: booking {id} is {status}");
            for payment in payment_statuses(&app, id).await {
                assert_ne!(payment, "succeeded", "round {round}: booking {id} kept a payment");
            }
        }
        assert!(live_claims(&app, show.id).await.is_empty(), "round {round}: seats left claimed");
    }
    assert_eq!(sandbox(&app).kept_charges(), 0, "every charge taken was refunded; answers: {answers:?}");
    eprintln!("answers over {ROUNDS} rounds of {BUYERS} payments: {answers:?}");
}

#[tokio::test]
async fn a_charge_found_after_the_cancellation_finished_is_refunded_not_kept() {
    // A payment whose provider never answered, its hold lapsed and its seats taken by another buyer (the booking is
    // expired, with no claim left); then the showtime is canceled and the cancellation finishes. The reconciler
    // later finds the charge succeeded: it must not re-claim seats of the canceled showtime and keep the money.
    let app = app_with_a_provider_that_times_out().await;
    let show = show(&app, 0).await;
    let (_, admin) = app.admin().await;
    let (_, slow) = app.customer().await;
    let (_, other) = app.customer().await;
    let seats = show.standard(0, 2);
    let slow_id = id_of(&held(&app, &slow, show.id, &seats).await);
    charge_without_an_answer(&app, &slow, &slow_id).await;
    lapse(&app, &slow_id).await;
    let other_id = id_of(&held(&app, &other, show.id, &seats).await);
    assert_eq!(status_of(&app, &slow_id).await, "expired", "its seats were taken over");

    let body = expect_status(cancel_showtime(&app, &admin, show.id).await, StatusCode::OK).await;
    assert_eq!(body["cancellation"]["complete"], true, "{body}");
    assert_eq!(status_of(&app, &other_id).await, "canceled");

    let report = app.state.bookings.reconcile_payments(Duration::ZERO, 10).await.expect("reconciled");

    assert_eq!(report.resolved, 1);
    assert_eq!(status_of(&app, &slow_id).await, "expired", "not paid on a canceled showtime");
    assert_eq!(payment_statuses(&app, &slow_id).await, ["refunded"]);
    assert_eq!((sandbox(&app).succeeded_charges(), sandbox(&app).kept_charges()), (1, 0));
    assert!(live_claims(&app, show.id).await.is_empty(), "no seat of the canceled showtime claimed");
}
