//! Booking helpers shared by the booking suites: a bookable showtime of the demo data, customers made in bulk, the
//! booking requests, and what the database says about claims and bookings.

use std::collections::HashSet;

use boxoffice::auth::model::{Role, UserId};
use boxoffice::ids::ShowtimeId;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{TestApp, expect_status};

/// A bookable showtime of the demo data: its id, region and seats (label, kind) in map order.
#[derive(Debug, Clone)]
pub struct Show {
    pub id: Uuid,
    pub region: String,
    pub seats: Vec<(String, String)>,
}

impl Show {
    /// The labels of the first `n` standard seats after skipping `skip` of them.
    pub fn standard(&self, skip: usize, n: usize) -> Vec<String> {
        self.seats.iter().filter(|(_, k)| k == "standard").skip(skip).take(n).map(|(l, _)| l.clone()).collect()
    }
}

/// The `nth` showtime (in start order) starting more than a day from now, with its seats.
pub async fn show(app: &TestApp, nth: i64) -> Show {
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT id, region, theater_id, screen_number FROM showtimes
             WHERE status = 'scheduled' AND start_time > now() + INTERVAL '1 day'
             ORDER BY start_time, id OFFSET $1 LIMIT 1",
            &[&nth],
        )
        .await
        .expect("a future showtime in the demo data");
    show_of_row(&db, &row).await
}

/// The [`Show`] of a row of `(id, region, theater_id, screen_number)`: its screen's seats in map order.
pub async fn show_of_row(db: &deadpool_postgres::Object, row: &tokio_postgres::Row) -> Show {
    let (id, region, theater, screen): (Uuid, String, Uuid, i32) = (row.get(0), row.get(1), row.get(2), row.get(3));
    let seats = db
        .query(
            "SELECT seat_label, kind FROM seats WHERE region = $1 AND theater_id = $2 AND screen_number = $3
             ORDER BY grid_y, grid_x",
            &[&region, &theater, &screen],
        )
        .await
        .expect("seats")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Show { id, region, seats }
}

/// `n` customers made directly in the database (no argon2 per user: concurrency tests need many), with tokens.
pub async fn customers(app: &TestApp, n: usize) -> Vec<(Uuid, String)> {
    let db = app.db().await;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let row = db
            .query_one(
                "INSERT INTO users (name, email, phone_number, password_hash, role)
                 VALUES ('Load Test', $1, '+12125550100', 'not-a-hash', 'customer') RETURNING id",
                &[&email],
            )
            .await
            .expect("user");
        let id: Uuid = row.get(0);
        let token = app.state.tokens.issue(UserId(id), Role::Customer).expect("token").token;
        out.push((id, token));
    }
    out
}

/// `POST /bookings` with an optional Idempotency-Key.
pub async fn hold(app: &TestApp, token: &str, showtime: Uuid, seats: &[String], key: Option<&str>) -> Response {
    hold_body(app, token, &json!({ "showtimeId": showtime, "seatIds": seats }), key).await
}

/// `POST /bookings` with any body.
pub async fn hold_body(app: &TestApp, token: &str, body: &Value, key: Option<&str>) -> Response {
    let mut req = app.request(Method::POST, "/bookings").bearer_auth(token).json(body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.expect("request sent")
}

/// A 201 hold; returns the booking.
pub async fn held(app: &TestApp, token: &str, showtime: Uuid, seats: &[String]) -> Value {
    expect_status(hold(app, token, showtime, seats, None).await, StatusCode::CREATED).await
}

/// `PUT /bookings/{id}/finalize`.
pub async fn finalize(
    app: &TestApp,
    token: Option<&str>,
    booking: &Uuid,
    payment: &str,
    key: Option<&str>,
) -> Response {
    let mut req = app
        .request(Method::PUT, &format!("/bookings/{booking}/finalize"))
        .json(&json!({"payment": {"token": payment}}));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.expect("request sent")
}

/// `DELETE /bookings/{id}`.
pub async fn cancel(app: &TestApp, token: Option<&str>, booking: &Uuid, key: Option<&str>) -> Response {
    let mut req = app.request(Method::DELETE, &format!("/bookings/{booking}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await.expect("request sent")
}

/// The id of a booking JSON.
pub fn id_of(booking: &Value) -> Uuid {
    booking["id"].as_str().and_then(|id| id.parse().ok()).expect("a booking id")
}

/// The live claims of a showtime: (seat label, booking id).
pub async fn live_claims(app: &TestApp, showtime: Uuid) -> Vec<(String, Uuid)> {
    app.db()
        .await
        .query(
            "SELECT seat_label, booking_id FROM booking_seats
             WHERE showtime_id = $1 AND (hold_expires_at IS NULL OR hold_expires_at > now()) ORDER BY seat_label",
            &[&showtime],
        )
        .await
        .expect("claims")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// A booking's stored status.
pub async fn status_of(app: &TestApp, id: &Uuid) -> String {
    app.db().await.query_one("SELECT status FROM bookings WHERE id = $1", &[&id]).await.expect("booking").get(0)
}

/// Moves a booking's hold (and its claims') into the past, as if its TTL had passed.
pub async fn lapse(app: &TestApp, id: &Uuid) {
    let db = app.db().await;
    let showtime: Uuid = db
        .query_one(
            "UPDATE bookings SET hold_expires_at = now() - INTERVAL '1 second' WHERE id = $1 RETURNING showtime_id",
            &[&id],
        )
        .await
        .expect("lapse booking")
        .get(0);
    db.execute("UPDATE booking_seats SET hold_expires_at = now() - INTERVAL '1 second' WHERE booking_id = $1", &[&id])
        .await
        .expect("lapse claims");
    // The hold's time has passed for the seat gate too: it never remembers a seat past its hold's expiry.
    forget_claimed(app, showtime);
}

/// What the seat gate of `app` remembers as claimed on `showtime` lapses, as when its memory runs out
/// (`BOXOFFICE_SEAT_GATE_MEMORY_MS`): for claims changed behind this pod's back (by another pod, or by the test).
pub fn forget_claimed(app: &TestApp, showtime: Uuid) {
    if let Some(gate) = app.state.bookings.gate() {
        gate.forget(ShowtimeId(showtime));
    }
}

/// The sum of a counter's samples whose labels contain every `label`.
pub fn counter(app: &TestApp, name: &str, labels: &[&str]) -> f64 {
    sum_of(&app.state.metrics.render(), name, labels)
}

/// The sum of the samples of `name` in a Prometheus text exposition whose labels contain every `label`.
pub fn sum_of(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Every label of a booking JSON, as a set.
pub fn labels_of(booking: &Value) -> HashSet<String> {
    booking["seats"].as_array().expect("seats").iter().filter_map(|s| s["label"].as_str().map(str::to_owned)).collect()
}
