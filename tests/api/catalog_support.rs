//! Helpers shared by the catalog tests: demo-data lookups, direct claims in the database, a haversine of our own.

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, expect_status};

/// Mean Earth radius of the service's haversine (IUGG), restated so the test checks the service's arithmetic.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km, computed independently of the service.
pub fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

/// `GET path`, expecting 200; the JSON body.
pub async fn get_ok(app: &TestApp, path: &str) -> Value {
    expect_status(app.get(path, None).await, StatusCode::OK).await
}

/// `PUT path` with a JSON body.
pub async fn put_json(app: &TestApp, path: &str, body: &Value, token: Option<&str>) -> Response {
    let mut req = app.request(Method::PUT, path).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("request sent")
}

/// The names of a list's items (`items[].name`).
pub fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|t| t["name"].as_str().expect("name").to_owned()).collect()
}

/// Every item of a list, following `nextCursor` from `first` (a path with `?`).
pub async fn walk(app: &TestApp, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut page = get_ok(app, first).await;
    loop {
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        let Some(cursor) = page["nextCursor"].as_str() else { return items };
        page = get_ok(app, &format!("{first}&cursor={cursor}")).await;
    }
}

/// The id of the demo city `name`, `state`.
pub async fn city_id(app: &TestApp, name: &str, state: &str) -> Uuid {
    app.db()
        .await
        .query_one("SELECT id FROM cities WHERE name = $1 AND state = $2", &[&name, &state])
        .await
        .expect("demo city")
        .get(0)
}

/// Every theater: (id, name, lat, lon).
pub async fn all_theaters(app: &TestApp) -> Vec<(Uuid, String, f64, f64)> {
    let rows = app.db().await.query("SELECT id, name, lat, lon FROM theaters", &[]).await.expect("theaters");
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
}

/// A demo showtime: scheduled, starting in more than an hour, on a screen of 150 seats or more.
/// Returns (showtime id, region, number of seats).
pub async fn future_showtime(app: &TestApp) -> (Uuid, String, i64) {
    let row = app
        .db()
        .await
        .query_one(
            "SELECT s.id, s.region, (SELECT count(*) FROM seats se WHERE se.region = s.region
                 AND se.theater_id = s.theater_id AND se.screen_number = s.screen_number) AS n
             FROM showtimes s
             WHERE s.status = 'scheduled' AND s.start_time > now() + INTERVAL '1 hour'
               AND (SELECT count(*) FROM seats se WHERE se.region = s.region
                    AND se.theater_id = s.theater_id AND se.screen_number = s.screen_number) >= 150
             ORDER BY s.start_time, s.id LIMIT 1",
            &[],
        )
        .await
        .expect("a future showtime in the demo data");
    (row.get(0), row.get(1), row.get(2))
}

/// Claims `labels` of a showtime directly in the database (a booking of a throw-away user), as the booking side
/// would; `hold` is an SQL interval from now for the hold's expiry, or `None` for a paid (permanent) claim.
pub async fn claim(app: &TestApp, showtime: Uuid, region: &str, labels: &[&str], hold: Option<&str>) -> Uuid {
    let db = app.db().await;
    let user: Uuid = db
        .query_one(
            "INSERT INTO users (name, email, phone_number, password_hash) VALUES ('T', $1, '+15555550100', 'x')
             RETURNING id",
            &[&format!("{}@example.com", Uuid::new_v4().simple())],
        )
        .await
        .expect("user")
        .get(0);
    let expires = match hold {
        Some(interval) => format!("now() + INTERVAL '{interval}'"),
        None => "NULL".to_owned(),
    };
    let booking: Uuid = db
        .query_one(
            &format!(
                "INSERT INTO bookings (region, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                                       hold_expires_at)
                 VALUES ($1, $2, $3, 'reserved', '[]'::jsonb, $4, 0, 'USD', {expires}) RETURNING id"
            ),
            &[&region, &user, &showtime, &(labels.len() as i32)],
        )
        .await
        .expect("booking")
        .get(0);
    for label in labels {
        db.execute(
            &format!(
                "INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
                 VALUES ($1, $2, $3, $4, {expires})"
            ),
            &[&region, &showtime, label, &booking],
        )
        .await
        .expect("claim");
    }
    booking
}

/// The seats of a seat map, flattened: (label, available).
pub fn seats(map: &Value) -> Vec<(String, bool)> {
    map["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| r["seats"].as_array().expect("seats").iter())
        .map(|s| (s["label"].as_str().expect("label").to_owned(), s["available"].as_bool().expect("available")))
        .collect()
}

/// Whether seat `label` is available on `map`.
pub fn available(map: &Value, label: &str) -> bool {
    seats(map).into_iter().find(|(l, _)| l == label).map(|(_, a)| a).expect("seat on the map")
}

/// A seat layout for admin bodies: `rows` rows of `per_row` seats, back row premium, A1 accessible, A2 companion.
pub fn layout(rows: u8, per_row: i32) -> Value {
    let mut seats = Vec::new();
    for r in 0..rows {
        let row = ((b'A' + r) as char).to_string();
        for n in 1..=per_row {
            let kind = match (r, n) {
                (0, 1) => "accessible",
                (0, 2) => "companion",
                (r, _) if r == rows - 1 => "premium",
                _ => "standard",
            };
            seats.push(serde_json::json!({
                "label": format!("{row}{n}"), "row": row, "number": n, "kind": kind, "x": n - 1, "y": r
            }));
        }
    }
    Value::Array(seats)
}
