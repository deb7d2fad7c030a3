//! Best available (issue #20): `POST /bookings {showtimeId, best}` picks and holds in one request, never answers 201
//! for seats the database did not claim, never strands a seat, even with many buyers at once; manual selections
//! that strand a seat are warned. And `POST /bookings/{id}/extend`: bounded, once, never past the start.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::helpers::booking::{
    Show, cancel, customers, finalize, held, hold, hold_body, id_of, labels_of, lapse, live_claims, show,
};
use crate::helpers::{TestApp, expect_problem, expect_status, test_config};

/// A seat of a showtime's layout as the database has it.
#[derive(Debug, Clone)]
struct Seat {
    label: String,
    row: String,
    kind: String,
    x: i32,
    y: i32,
}

/// The layout of a showtime's screen, in map order.
async fn layout(app: &TestApp, showtime: Uuid) -> Vec<Seat> {
    app.db()
        .await
        .query(
            "SELECT st.seat_label, st.row_label, st.kind, st.grid_x, st.grid_y
             FROM showtimes s JOIN seats st
               ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number
             WHERE s.id = $1 ORDER BY st.grid_y, st.grid_x",
            &[&showtime],
        )
        .await
        .expect("layout")
        .iter()
        .map(|r| Seat { label: r.get(0), row: r.get(1), kind: r.get(2), x: r.get(3), y: r.get(4) })
        .collect()
}

/// The live claims of a showtime, counted in the database: label -> booking.
async fn claims(app: &TestApp, showtime: Uuid) -> HashMap<String, Uuid> {
    live_claims(app, showtime).await.into_iter().collect()
}

fn side_by_side(a: &Seat, b: &Seat) -> bool {
    a.y == b.y && a.row == b.row && a.x + 1 == b.x
}

/// The free seats whose neighbours in their block are both taken, an aisle or a wall: the stranded seats.
fn orphans(seats: &[Seat], taken: &HashSet<String>) -> HashSet<String> {
    (0..seats.len())
        .filter(|&i| !taken.contains(&seats[i].label))
        .filter(|&i| {
            let left_free = i > 0 && side_by_side(&seats[i - 1], &seats[i]) && !taken.contains(&seats[i - 1].label);
            let right_free =
                i + 1 < seats.len() && side_by_side(&seats[i], &seats[i + 1]) && !taken.contains(&seats[i + 1].label);
            !left_free && !right_free
        })
        .map(|i| seats[i].label.clone())
        .collect()
}

async fn best(app: &TestApp, token: &str, showtime: Uuid, best: Value) -> reqwest::Response {
    hold_body(app, token, &json!({ "showtimeId": showtime, "best": best }), None).await
}

/// The seats of a booking answer, in map order, checked to be side by side in one block.
fn contiguous(seats: &[Seat], booking: &Value) -> Vec<Seat> {
    let labels = labels_of(booking);
    let mine: Vec<Seat> = seats.iter().filter(|s| labels.contains(&s.label)).cloned().collect();
    assert_eq!(mine.len(), labels.len(), "every seat is in the layout");
    assert!(mine.windows(2).all(|w| side_by_side(&w[0], &w[1])), "side by side in one block: {labels:?}");
    mine
}

#[tokio::test]
async fn best_available_holds_side_by_side_seats_near_the_sweet_spot() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let seats = layout(&app, show.id).await;
    let (_, token) = app.customer().await;

    let booking = expect_status(best(&app, &token, show.id, json!({ "count": 4 })).await, StatusCode::CREATED).await;

    let mine = contiguous(&seats, &booking);
    assert_eq!(mine.len(), 4);
    assert!(mine.iter().all(|s| s.kind == "standard" || s.kind == "premium"), "no wheelchair space unasked");
    // Centred, about two thirds back: the row is the one nearest two thirds of the way back.
    let (first, last) = (seats[0].y as f32, seats[seats.len() - 1].y as f32);
    let spot_y = first + (last - first) * 2.0 / 3.0;
    let rows: HashSet<i32> = seats.iter().map(|s| s.y).collect();
    let nearest = rows.iter().map(|y| (*y as f32 - spot_y).abs()).fold(f32::MAX, f32::min);
    assert!((mine[0].y as f32 - spot_y).abs() <= nearest + 1.0, "row {} for a spot at {spot_y}", mine[0].y);
    // What the answer says is what the database claimed.
    let claimed = claims(&app, show.id).await;
    let id = id_of(&booking);
    let held: HashSet<String> = claimed.iter().filter(|(_, b)| **b == id).map(|(l, _)| l.clone()).collect();
    assert_eq!(held, labels_of(&booking));
    assert!(orphans(&seats, &claimed.keys().cloned().collect()).is_empty(), "nothing stranded");
    assert!(booking.get("warnings").is_none(), "a pick has nothing to warn about: {booking}");
}

#[tokio::test]
async fn best_available_refusals_are_problems_with_a_reason() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;

    // The demo hall has two wheelchair spaces, each with one companion seat: nine people do not fit there.
    let body = expect_problem(
        best(&app, &token, show.id, json!({ "count": 9, "accessible": true })).await,
        StatusCode::CONFLICT,
        "no-seats-fit",
    )
    .await;
    assert_eq!(body["reason"], "no-accessible-fit");
    let body = expect_problem(
        hold_body(&app, &token, &json!({ "showtimeId": show.id, "seatIds": ["A1"], "best": { "count": 1 } }), None)
            .await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "body.best");
    expect_problem(
        hold_body(&app, &token, &json!({ "showtimeId": show.id }), None).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    expect_problem(
        best(&app, &token, show.id, json!({ "count": 0 })).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    expect_problem(
        best(&app, &token, show.id, json!({ "count": 11 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too-many-seats",
    )
    .await;
    expect_problem(
        best(&app, &token, Uuid::new_v4(), json!({ "count": 2 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown-showtime",
    )
    .await;
    // Nothing was held by any of them.
    assert!(claims(&app, show.id).await.is_empty());
}

#[tokio::test]
async fn wheelchair_spaces_are_picked_with_a_companion_seat_when_asked() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let seats = layout(&app, show.id).await;
    let (_, token) = app.customer().await;

    let booking = expect_status(
        best(&app, &token, show.id, json!({ "count": 2, "accessible": true })).await,
        StatusCode::CREATED,
    )
    .await;

    let kinds: HashSet<String> = contiguous(&seats, &booking).into_iter().map(|s| s.kind).collect();
    assert_eq!(kinds, HashSet::from(["accessible".to_owned(), "companion".to_owned()]));
}

#[tokio::test]
async fn a_proposal_the_database_refuses_is_picked_again_and_never_answered_201() {
    // Two pods on one database, each with its own seat cache: pod B holds what pod A's cache still shows free.
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on(&a.db_name, test_config(&a.db_name, &[("BOXOFFICE_REDIS_KEY_PREFIX", "pod-b:")])).await;
    let show = show(&a, 0).await;
    let seats = layout(&a, show.id).await;
    // A's cache learns the empty map.
    expect_status(a.get(&format!("/showtimes/{}/seats", show.id), None).await, StatusCode::OK).await;
    let users = customers(&a, 2).await;

    // B takes the seats A would propose (the same map, the same deterministic pick).
    let first = expect_status(best(&b, &users[0].1, show.id, json!({ "count": 4 })).await, StatusCode::CREATED).await;
    let taken_by_b = labels_of(&first);
    let second = expect_status(best(&a, &users[1].1, show.id, json!({ "count": 4 })).await, StatusCode::CREATED).await;

    let mine = labels_of(&second);
    assert!(mine.is_disjoint(&taken_by_b), "A answered 201 only for seats it claimed: {mine:?} vs {taken_by_b:?}");
    contiguous(&seats, &second);
    let claimed = claims(&a, show.id).await;
    let id = id_of(&second);
    assert!(mine.iter().all(|l| claimed.get(l) == Some(&id)), "the database holds A's seats for A's booking");
    assert!(orphans(&seats, &claimed.keys().cloned().collect()).is_empty(), "nothing stranded between them");
}

#[tokio::test]
async fn many_buyers_asking_for_the_best_four_at_once_get_each_seat_at_most_once_and_strand_none() {
    // Two pods on one database and one Redis, as deployed: each takes its buyers in turns, and the two race.
    let app = Arc::new(TestApp::spawn().await);
    let other = Arc::new(TestApp::spawn_on(&app.db_name, test_config(&app.db_name, &[])).await);
    let show = show(&app, 0).await;
    let seats = layout(&app, show.id).await;
    let before = orphans(&seats, &HashSet::new());
    // More buyers than the hall has room for: the last ones find no four seats that fit.
    let buyers = seats.len() / 4 + 10;
    let users = customers(&app, buyers).await;
    let start = Arc::new(Barrier::new(users.len()));

    let tasks: Vec<_> = users
        .into_iter()
        .enumerate()
        .map(|(i, (_, token))| {
            let (pod, start) = (if i % 2 == 0 { app.clone() } else { other.clone() }, start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let response = best(&pod, &token, show.id, json!({ "count": 4 })).await;
                let status = response.status();
                (status, response.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }

    let statuses: Vec<u16> = results.iter().map(|(s, _)| s.as_u16()).collect();
    assert!(
        results.iter().all(|(s, b)| *s == StatusCode::CREATED
            || (*s == StatusCode::CONFLICT && b["type"] == "https://boxoffice.dev/problems/no-seats-fit")
            || *s == StatusCode::SERVICE_UNAVAILABLE),
        "201, 409 no-seats-fit or 503 only: {statuses:?}"
    );
    let created: Vec<&Value> = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert!(created.len() * 4 > seats.len() / 2, "most of the hall was sold: {statuses:?}");
    // Counted in the database: every claim belongs to a 201, every 201's seats are claimed by it, none twice.
    let claimed = claims(&app, show.id).await;
    let mut answered: HashMap<String, Uuid> = HashMap::new();
    for booking in &created {
        contiguous(&seats, booking);
        for label in labels_of(booking) {
            assert!(answered.insert(label.clone(), id_of(booking)).is_none(), "{label} answered twice");
        }
    }
    assert_eq!(claimed, answered, "the database claimed exactly what was answered 201");
    let stranded: HashSet<String> =
        orphans(&seats, &claimed.keys().cloned().collect()).difference(&before).cloned().collect();
    assert!(stranded.is_empty(), "seats stranded by the service: {stranded:?}");
}

#[tokio::test]
async fn a_manual_selection_that_strands_a_seat_is_held_with_a_warning() {
    let app = TestApp::spawn().await;
    let show: Show = show(&app, 0).await;
    let seats = layout(&app, show.id).await;
    // A block of five or more standard seats, from a wall or an aisle.
    let start = (0..seats.len() - 4)
        .find(|&i| {
            (i == 0 || !side_by_side(&seats[i - 1], &seats[i]))
                && (0..4).all(|k| side_by_side(&seats[i + k], &seats[i + k + 1]))
                && (0..5).all(|k| seats[i + k].kind == "standard")
        })
        .expect("a block of five standard seats");
    let length = (start + 1..seats.len()).take_while(|&i| side_by_side(&seats[i - 1], &seats[i])).count() + 1;
    let (_, token) = app.customer().await;
    // The service's cache has the map (the warning is read from it, never from the database).
    expect_status(app.get(&format!("/showtimes/{}/seats", show.id), None).await, StatusCode::OK).await;

    let stranding = [seats[start + 1].label.clone(), seats[start + 2].label.clone()];
    let booking = held(&app, &token, show.id, &stranding).await;
    assert_eq!(booking["warnings"], json!([{ "code": "orphan-seats", "seats": [seats[start].label] }]));
    assert_eq!(booking["status"], "reserved", "held all the same");

    let (_, other) = app.customer().await;
    // After start + 2: the rest of the block when three seats or fewer are left, else two (leaving two or more).
    let rest = if length - 3 <= 3 { length - 3 } else { 2 };
    let tidy: Vec<String> = seats[start + 3..start + 3 + rest].iter().map(|s| s.label.clone()).collect();
    let fine = expect_status(hold(&app, &other, show.id, &tidy, None).await, StatusCode::CREATED).await;
    assert!(fine.get("warnings").is_none(), "{fine}");
}

async fn extend(app: &TestApp, token: &str, id: &Uuid) -> reqwest::Response {
    app.request(Method::POST, &format!("/bookings/{id}/extend")).bearer_auth(token).send().await.expect("sent")
}

fn expiry(booking: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        booking["holdExpiresAt"].as_str().expect("holdExpiresAt"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339")
}

#[tokio::test]
async fn a_hold_is_extended_once_by_the_configured_time_and_its_claims_with_it() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_HOLD_EXTENSION_SECS", "300")]).await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let booking = held(&app, &token, show.id, &show.standard(0, 2)).await;
    let id = id_of(&booking);

    let extended = expect_status(extend(&app, &token, &id).await, StatusCode::OK).await;
    assert_eq!(expiry(&extended) - expiry(&booking), time::Duration::seconds(300));
    // The sweeper reads the booking's expiry, the seat map the claims': both moved.
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT b.hold_expires_at, b.hold_extensions, min(bs.hold_expires_at), max(bs.hold_expires_at)
             FROM bookings b JOIN booking_seats bs ON bs.booking_id = b.id WHERE b.id = $1
             GROUP BY b.hold_expires_at, b.hold_extensions",
            &[&id],
        )
        .await
        .expect("row");
    let (stored, count, low, high): (time::OffsetDateTime, i32, time::OffsetDateTime, time::OffsetDateTime) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!((stored, count), (expiry(&extended), 1));
    assert_eq!((low, high), (stored, stored));

    // Once: the countdown cannot be reset again.
    let body = expect_problem(extend(&app, &token, &id).await, StatusCode::CONFLICT, "hold-extension-refused").await;
    assert_eq!(body["reason"], "limit-reached");
    assert_eq!(body["limit"], 1);
    let still: i32 =
        db.query_one("SELECT hold_extensions FROM bookings WHERE id = $1", &[&id]).await.expect("row").get(0);
    assert_eq!(still, 1);
}

#[tokio::test]
async fn an_extension_never_runs_past_the_showtime_start() {
    let app =
        TestApp::spawn_with(&[("BOXOFFICE_HOLD_EXTENSION_SECS", "3600"), ("BOXOFFICE_HOLD_EXTENSIONS_MAX", "3")]).await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let booking = held(&app, &token, show.id, &show.standard(0, 1)).await;
    let id = id_of(&booking);
    // The showtime starts 20 minutes from now: ten after the hold's end.
    let start: time::OffsetDateTime = app
        .db()
        .await
        .query_one(
            "UPDATE showtimes SET start_time = now() + INTERVAL '20 minutes' WHERE id = $1 RETURNING start_time",
            &[&show.id],
        )
        .await
        .expect("start moved")
        .get(0);

    let extended = expect_status(extend(&app, &token, &id).await, StatusCode::OK).await;
    assert_eq!(expiry(&extended), start, "capped at the start, not an hour later");
    let body = expect_problem(extend(&app, &token, &id).await, StatusCode::CONFLICT, "hold-extension-refused").await;
    assert_eq!(body["reason"], "showtime-starts");
}

#[tokio::test]
async fn only_a_live_hold_of_its_owner_is_extended() {
    let app = TestApp::spawn().await;
    let show = show(&app, 0).await;
    let (_, token) = app.customer().await;
    let (_, stranger) = app.customer().await;
    let (_, admin) = app.admin().await;

    let canceled = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    expect_status(cancel(&app, Some(&token), &canceled, None).await, StatusCode::OK).await;
    let body =
        expect_problem(extend(&app, &token, &canceled).await, StatusCode::CONFLICT, "booking-state-conflict").await;
    assert_eq!(body["bookingStatus"], "canceled");

    let lapsed = id_of(&held(&app, &token, show.id, &show.standard(1, 1)).await);
    lapse(&app, &lapsed).await;
    expect_problem(extend(&app, &token, &lapsed).await, StatusCode::GONE, "hold-expired").await;

    let paid = id_of(&held(&app, &token, show.id, &show.standard(2, 1)).await);
    expect_status(finalize(&app, Some(&token), &paid, "tok_visa", None).await, StatusCode::OK).await;
    expect_problem(extend(&app, &token, &paid).await, StatusCode::CONFLICT, "booking-state-conflict").await;

    let live = id_of(&held(&app, &token, show.id, &show.standard(3, 1)).await);
    expect_problem(extend(&app, &stranger, &live).await, StatusCode::NOT_FOUND, "not-found").await;
    expect_problem(extend(&app, &admin, &live).await, StatusCode::FORBIDDEN, "forbidden").await;
    expect_problem(extend(&app, &token, &Uuid::new_v4()).await, StatusCode::NOT_FOUND, "not-found").await;
    // None of those refusals used up the owner's extension.
    expect_status(extend(&app, &token, &live).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_proposal_that_would_strand_a_seat_taken_beyond_it_meanwhile_is_picked_again() {
    // Pod A's cache still shows the hall empty while pod B's buyer takes the seat two beyond A's proposal: the
    // proposal's seats are all free, but holding them would strand the seat between. The guard, read in A's
    // hold transaction, refuses it and A picks again.
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on(&a.db_name, test_config(&a.db_name, &[("BOXOFFICE_REDIS_KEY_PREFIX", "pod-b:")])).await;
    let show = show(&a, 0).await;
    let seats = layout(&a, show.id).await;
    expect_status(a.get(&format!("/showtimes/{}/seats", show.id), None).await, StatusCode::OK).await;
    let users = customers(&a, 3).await;
    // What A will propose: the same pick on the same empty map, made by B and released again.
    let probe = expect_status(best(&b, &users[0].1, show.id, json!({ "count": 4 })).await, StatusCode::CREATED).await;
    let proposal = contiguous(&seats, &probe);
    expect_status(cancel(&b, Some(&users[0].1), &id_of(&probe), None).await, StatusCode::OK).await;
    let last = seats.iter().position(|s| s.label == proposal[3].label).expect("in the layout");
    let first = seats.iter().position(|s| s.label == proposal[0].label).expect("in the layout");
    let beyond = if last + 2 < seats.len()
        && side_by_side(&seats[last], &seats[last + 1])
        && side_by_side(&seats[last + 1], &seats[last + 2])
    {
        last + 2
    } else {
        assert!(
            first >= 2
                && side_by_side(&seats[first - 2], &seats[first - 1])
                && side_by_side(&seats[first - 1], &seats[first])
        );
        first - 2
    };
    held(&b, &users[1].1, show.id, &[seats[beyond].label.clone()]).await;
    let stranded_before = orphans(&seats, &claims(&a, show.id).await.keys().cloned().collect());

    let booking = expect_status(best(&a, &users[2].1, show.id, json!({ "count": 4 })).await, StatusCode::CREATED).await;

    let claimed: HashSet<String> = claims(&a, show.id).await.keys().cloned().collect();
    let added: HashSet<String> = orphans(&seats, &claimed).difference(&stranded_before).cloned().collect();
    assert!(added.is_empty(), "A's hold stranded {added:?} (it holds {:?})", labels_of(&booking));
    contiguous(&seats, &booking);
}
