//! Group commit of holds (`booking::combine`): holds that find every write connection busy wait together and commit
//! in one transaction; each still gets its own booking or its own refusal, and a refusal that fails the batch's
//! transaction leaves nothing behind and costs the others only a second try.
//!
//! Each test runs the service with one write connection and takes that connection itself while the holds arrive, so
//! that every hold finds the pool busy and joins the queue; it gives the connection back once all have joined.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::booking::{Show, customers, forget_claimed, held, hold, id_of, labels_of, live_claims, show};
use crate::helpers::{TestApp, expect_status};

async fn one_connection_app() -> Arc<TestApp> {
    Arc::new(TestApp::spawn_with(&[("BOXOFFICE_DB_POOL_SIZE", "1")]).await)
}

/// Sends each (token, seats) hold at once and returns the tasks.
fn send_holds(
    app: &Arc<TestApp>,
    show: &Show,
    holds: Vec<(String, Vec<String>)>,
) -> Vec<JoinHandle<(StatusCode, Value)>> {
    holds
        .into_iter()
        .map(|(token, seats)| {
            let (app, showtime) = (app.clone(), show.id);
            tokio::spawn(async move {
                let response = hold(&app, &token, showtime, &seats, None).await;
                let status = response.status();
                (status, response.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect()
}

/// Waits until `n` holds wait in the combiner's queue (they found the one connection taken).
async fn wait_queued(app: &TestApp, n: usize) {
    let combiner = app.state.bookings.combiner().expect("group commit is on by default");
    let deadline = Instant::now() + Duration::from_secs(10);
    while combiner.queued() < n {
        assert!(Instant::now() < deadline, "{} of {n} holds queued", combiner.queued());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The seat map's count of taken seats.
async fn seats_taken(app: &TestApp, show: &Show) -> i64 {
    let map = expect_status(app.get(&format!("/showtimes/{}/seats", show.id), None).await, StatusCode::OK).await;
    map["totals"]["taken"].as_i64().expect("totals.taken")
}

async fn results(tasks: Vec<JoinHandle<(StatusCode, Value)>>) -> Vec<(StatusCode, Value)> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("hold task"));
    }
    out
}

#[tokio::test]
async fn holds_waiting_for_a_connection_commit_in_one_transaction_each_with_its_own_booking() {
    let app = one_connection_app().await;
    let show = show(&app, 0).await;
    let users = customers(&app, 21).await;
    // Seats in label order, as holds claim them: consecutive pairs never interleave (A9 and A10 would: see
    // combine::in_lock_order), so all twenty pairs fit one batch.
    let mut seats = show.standard(0, usize::MAX);
    seats.sort();
    // Taken before: the last hold below asks for this seat alone, claims nothing and inserts nothing.
    let taken = seats[..1].to_vec();
    let first = held(&app, &users[20].1, show.id, &taken).await;
    // As if another pod had taken it: this pod's seat gate would refuse it without a transaction.
    forget_claimed(&app, show.id);

    let mut holds: Vec<(String, Vec<String>)> = users[..20]
        .iter()
        .enumerate()
        .map(|(i, (_, token))| (token.clone(), seats[1 + 2 * i..3 + 2 * i].to_vec()))
        .collect();
    holds.push((users[20].1.clone(), taken.clone()));
    // Cached now, with one seat taken: the batch must invalidate it (its holds leave that to it).
    assert_eq!(seats_taken(&app, &show).await, 1);
    let connection = app.state.db.write.get().await.expect("the one write connection");
    let tasks = send_holds(&app, &show, holds.clone());
    wait_queued(&app, holds.len()).await;
    drop(connection);
    let results = results(tasks).await;
    assert_eq!(seats_taken(&app, &show).await, 41, "the seat map shows every seat the batch held");

    for (i, ((status, body), (_, seats))) in results.iter().zip(&holds).enumerate().take(20) {
        assert_eq!(*status, StatusCode::CREATED, "hold {i}: {body}");
        assert_eq!(labels_of(body), seats.iter().cloned().collect::<HashSet<_>>(), "hold {i} got its own seats");
        assert_eq!(body["userId"], users[i].0.to_string(), "hold {i} is its user's");
    }
    let (status, body) = &results[20];
    assert_eq!(*status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["type"], "https://boxoffice.dev/problems/seats-unavailable");
    assert_eq!(body["unavailableSeats"], serde_json::json!(taken));

    let db = app.db().await;
    // now() is the transaction's start: twenty bookings with one created_at were committed by one transaction.
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT created_at) FROM bookings WHERE showtime_id = $1 AND id <> $2",
            &[&show.id, &id_of(&first)],
        )
        .await
        .expect("bookings");
    let (bookings, transactions): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((bookings, transactions), (20, 1), "twenty bookings, one transaction");
    drop(db);
    let claims = live_claims(&app, show.id).await;
    assert_eq!(claims.len(), 41, "two claims per booking and the first hold's");
    let owners: HashMap<String, Uuid> =
        results[..20].iter().flat_map(|(_, b)| labels_of(b).into_iter().map(|l| (l, id_of(b)))).collect();
    for (label, booking) in claims.iter().filter(|(l, _)| *l != taken[0]) {
        assert_eq!(owners.get(label), Some(booking), "seat {label} is claimed by its booking");
    }
}

#[tokio::test]
async fn a_refusal_that_fails_the_batch_leaves_nothing_and_every_hold_is_answered_alone() {
    let app = one_connection_app().await;
    let show = show(&app, 0).await;
    let users = customers(&app, 13).await;
    let taken = show.standard(0, 1);
    held(&app, &users[12].1, show.id, &taken).await;
    forget_claimed(&app, show.id); // as if another pod had taken it (see the test above)

    // Ten single-seat holds; one of the taken seat and a free one (it claims the free one, so its statement fails on
    // the claims' foreign key and rolls the batch back); and one user asking for 11 seats over two holds (cap 10).
    let mut holds: Vec<(String, Vec<String>)> =
        users[..10].iter().enumerate().map(|(i, (_, token))| (token.clone(), show.standard(1 + i, 1))).collect();
    let free_partner = show.standard(11, 1);
    holds.push((users[10].1.clone(), [taken.clone(), free_partner.clone()].concat()));
    holds.push((users[11].1.clone(), show.standard(12, 6)));
    holds.push((users[11].1.clone(), show.standard(18, 5)));
    let connection = app.state.db.write.get().await.expect("the one write connection");
    let tasks = send_holds(&app, &show, holds.clone());
    wait_queued(&app, holds.len()).await;
    drop(connection);
    let results = results(tasks).await;

    for (i, (status, body)) in results.iter().enumerate().take(10) {
        assert_eq!(*status, StatusCode::CREATED, "hold {i}: {body}");
        assert_eq!(labels_of(body), holds[i].1.iter().cloned().collect::<HashSet<_>>());
    }
    let (status, body) = &results[10];
    assert_eq!(*status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["unavailableSeats"], serde_json::json!(taken), "only the taken seat is reported");
    let capped: Vec<&(StatusCode, Value)> = results[11..].iter().collect();
    let created = capped.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(created, 1, "one of the user's two holds fits the cap: {capped:?}");
    let refused = capped.iter().find(|(s, _)| *s != StatusCode::CREATED).expect("the other");
    assert_eq!(refused.0, StatusCode::CONFLICT);
    assert_eq!(refused.1["type"], "https://boxoffice.dev/problems/seat-limit-exceeded", "{}", refused.1);

    // Nothing of the refused holds stayed: no claim of the free seat, none of the refused cap hold's seats.
    let claims = live_claims(&app, show.id).await;
    assert!(claims.iter().all(|(l, _)| *l != free_partner[0]), "the refused hold's free seat is not claimed");
    let held_seats: usize =
        results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| labels_of(b).len()).sum();
    assert_eq!(claims.len(), held_seats + 1, "claims are exactly the bookings' seats and the first hold's");
}

#[tokio::test]
async fn a_users_second_hold_on_a_showtime_waits_for_a_later_batch_and_counts_the_first() {
    let app = one_connection_app().await;
    let show = show(&app, 0).await;
    let users = customers(&app, 5).await;
    let mut seats = show.standard(0, usize::MAX);
    seats.sort();
    // Four users' single seats, then one user's two holds of 6 and 5 seats: together over the cap (10). The batch
    // runs in one statement, whose cap check sees only what committed before it, so the two cannot share a batch.
    let mut holds: Vec<(String, Vec<String>)> =
        users[..4].iter().enumerate().map(|(i, (_, token))| (token.clone(), seats[i..=i].to_vec())).collect();
    holds.push((users[4].1.clone(), seats[4..10].to_vec()));
    holds.push((users[4].1.clone(), seats[10..15].to_vec()));
    // A first hold, alone, so that the showtime's region is cached (its lookup would wait for the connection).
    held(&app, &users[0].1, show.id, &seats[15..16]).await;
    let connection = app.state.db.write.get().await.expect("the one write connection");
    let tasks = send_holds(&app, &show, holds.clone());
    wait_queued(&app, holds.len()).await;
    drop(connection);
    let results = results(tasks).await;

    for (i, (status, body)) in results.iter().enumerate().take(4) {
        assert_eq!(*status, StatusCode::CREATED, "hold {i}: {body}");
    }
    let theirs = &results[4..];
    assert_eq!(theirs.iter().filter(|(s, _)| *s == StatusCode::CREATED).count(), 1, "one fits the cap: {theirs:?}");
    let refused = theirs.iter().find(|(s, _)| *s != StatusCode::CREATED).expect("the other");
    assert_eq!(refused.0, StatusCode::CONFLICT);
    assert_eq!(refused.1["type"], "https://boxoffice.dev/problems/seat-limit-exceeded", "{}", refused.1);
    let held_seats: usize =
        results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| labels_of(b).len()).sum();
    assert_eq!(live_claims(&app, show.id).await.len(), held_seats + 1, "the refused hold left no claim");
}
