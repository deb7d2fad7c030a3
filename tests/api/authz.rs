//! The authorization matrix: every operation of the OpenAPI document, called by an anonymous client, the customer who
//! owns the resource, another customer, an admin and a door scanner (staff), gets the status the table says. The table must list exactly
//! the document's operations, so a new route cannot ship without its row.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::catalog_admin::{new_showtime, new_theater};
use crate::catalog_support::layout;
use crate::helpers::booking;
use crate::helpers::{TestApp, expect_status};

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 5] = ["anonymous", "owner", "other customer", "admin", "staff"];

/// What a row needs to build its request: the owner's resources, catalog entries, and bodies for the writes.
struct Fixture {
    owner_id: Uuid,
    owner_email: String,
    theater_id: String,
    movie_id: String,
    showtime_id: String,
    /// A showtime the admin's call cancels.
    doomed_showtime_id: String,
    new_theater: Value,
    theater_update: Value,
    movie: Value,
    new_showtime: Value,
    showtime_update: Value,
    /// A bookable showtime and, per caller, seats of their own to hold.
    booking_showtime: Uuid,
    seats_per_caller: Vec<Vec<String>>,
    /// The owner's holds: one to read, one to pay for, one to cancel, one to extend.
    booking_to_read: Uuid,
    booking_to_pay: Uuid,
    booking_to_cancel: Uuid,
    booking_to_extend: Uuid,
}

/// One operation: method, path template (as in the document), the request for a fixture and a caller (an index
/// into [`CALLERS`]), and the expected status for each caller.
struct Row {
    method: Method,
    template: &'static str,
    request: fn(&Fixture, usize) -> (String, Option<Value>),
    expected: [u16; 5],
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
            request: |_, _| ("/healthz".into(), None),
            expected: [200, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/readyz",
            request: |_, _| ("/readyz".into(), None),
            expected: [200, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/metrics",
            request: |_, _| ("/metrics".into(), None),
            expected: [200, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/openapi.json",
            request: |_, _| ("/openapi.json".into(), None),
            expected: [200, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/docs",
            request: |_, _| ("/docs".into(), None),
            expected: [200, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/docs/{asset}",
            request: |_, _| ("/docs/init.js".into(), None),
            expected: [200, 200, 200, 200, 200],
        },
        // The web client and what it reads besides the catalog: public.
        Row { method: Method::GET, template: "/", request: |_, _| ("/".into(), None), expected: [200; 5] },
        Row {
            method: Method::GET,
            template: "/app/{asset}",
            request: |_, _| ("/app/app.js".into(), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/cities",
            request: |_, _| ("/cities?q=bos".into(), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/payments/options",
            request: |_, _| ("/payments/options".into(), None),
            expected: [200; 5],
        },
        // Identity: registering and logging in need no token (and ignore one).
        Row {
            method: Method::POST,
            template: "/users",
            request: |_, _| ("/users".into(), Some(fresh_registration())),
            expected: [201, 201, 201, 201, 201],
        },
        Row {
            method: Method::POST,
            template: "/auth/token",
            request: |f, _| {
                ("/auth/token".into(), Some(json!({"email": f.owner_email, "password": "correct horse battery"})))
            },
            expected: [200, 200, 200, 200, 200],
        },
        Row {
            method: Method::GET,
            template: "/users/me",
            request: |_, _| ("/users/me".into(), None),
            expected: [401, 200, 200, 200, 200],
        },
        // An account: its owner and admins.
        Row {
            method: Method::GET,
            template: "/users/{userId}",
            request: |f, _| (format!("/users/{}", f.owner_id), None),
            expected: [401, 200, 403, 200, 403],
        },
        // Catalog reads: public.
        Row {
            method: Method::GET,
            template: "/theaters",
            request: |_, _| ("/theaters?city=boston".into(), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/theaters/{theaterId}",
            request: |f, _| (format!("/theaters/{}", f.theater_id), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/theaters/{theaterId}/movies",
            request: |f, _| (format!("/theaters/{}/movies", f.theater_id), None),
            expected: [200; 5],
        },
        Row { method: Method::GET, template: "/movies", request: |_, _| ("/movies".into(), None), expected: [200; 5] },
        Row {
            method: Method::GET,
            template: "/movies/{movieId}",
            request: |f, _| (format!("/movies/{}", f.movie_id), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/movies/{movieId}/showtimes",
            request: |f, _| (format!("/movies/{}/showtimes?city=boston", f.movie_id), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/showtimes/{showtimeId}",
            request: |f, _| (format!("/showtimes/{}", f.showtime_id), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/showtimes/{showtimeId}/seats",
            request: |f, _| (format!("/showtimes/{}/seats", f.showtime_id), None),
            expected: [200; 5],
        },
        // Catalog writes: admins only.
        Row {
            method: Method::POST,
            template: "/theaters",
            request: |f, _| ("/theaters".into(), Some(f.new_theater.clone())),
            expected: [401, 403, 403, 201, 403],
        },
        Row {
            method: Method::PUT,
            template: "/theaters/{theaterId}",
            request: |f, _| (format!("/theaters/{}", f.theater_id), Some(f.theater_update.clone())),
            expected: [401, 403, 403, 200, 403],
        },
        Row {
            method: Method::POST,
            template: "/movies",
            request: |f, _| ("/movies".into(), Some(f.movie.clone())),
            expected: [401, 403, 403, 201, 403],
        },
        Row {
            method: Method::PUT,
            template: "/movies/{movieId}",
            request: |f, _| (format!("/movies/{}", f.movie_id), Some(f.movie.clone())),
            expected: [401, 403, 403, 200, 403],
        },
        Row {
            method: Method::POST,
            template: "/showtimes",
            request: |f, _| ("/showtimes".into(), Some(f.new_showtime.clone())),
            expected: [401, 403, 403, 201, 403],
        },
        Row {
            method: Method::PUT,
            template: "/showtimes/{showtimeId}",
            request: |f, _| (format!("/showtimes/{}", f.showtime_id), Some(f.showtime_update.clone())),
            expected: [401, 403, 403, 200, 403],
        },
        // Bookings: the owner everything; another customer sees nothing (404); an admin looks and cancels but
        // does not pay for someone else (403).
        Row {
            method: Method::POST,
            template: "/bookings",
            request: |f, caller| {
                (
                    "/bookings".into(),
                    Some(json!({"showtimeId": f.booking_showtime, "seatIds": f.seats_per_caller[caller]})),
                )
            },
            expected: [401, 201, 201, 201, 201],
        },
        Row {
            method: Method::GET,
            template: "/bookings/{bookingId}",
            request: |f, _| (format!("/bookings/{}", f.booking_to_read), None),
            expected: [401, 200, 404, 200, 404],
        },
        Row {
            method: Method::PUT,
            template: "/bookings/{bookingId}/finalize",
            request: |f, _| {
                (format!("/bookings/{}/finalize", f.booking_to_pay), Some(json!({"payment": {"token": "tok_visa"}})))
            },
            expected: [401, 200, 404, 403, 404],
        },
        // Extending: the owner only (once: the owner's call comes first); an admin may not extend another's hold.
        Row {
            method: Method::POST,
            template: "/bookings/{bookingId}/extend",
            request: |f, _| (format!("/bookings/{}/extend", f.booking_to_extend), None),
            expected: [401, 200, 404, 403, 404],
        },
        Row {
            method: Method::DELETE,
            template: "/bookings/{bookingId}",
            request: |f, _| (format!("/bookings/{}", f.booking_to_cancel), None),
            expected: [401, 200, 404, 200, 404],
        },
        Row {
            method: Method::GET,
            template: "/users/me/bookings",
            request: |_, _| ("/users/me/bookings".into(), None),
            expected: [401, 200, 200, 200, 200],
        },
        // Tickets: the public keys for anyone; a booking's tickets like the booking; the door for staff and admins.
        Row {
            method: Method::GET,
            template: "/tickets/keys",
            request: |_, _| ("/tickets/keys".into(), None),
            expected: [200; 5],
        },
        Row {
            method: Method::GET,
            template: "/bookings/{bookingId}/tickets",
            request: |f, _| (format!("/bookings/{}/tickets", f.booking_to_read), None),
            expected: [401, 200, 404, 200, 404],
        },
        Row {
            method: Method::GET,
            template: "/showtimes/{showtimeId}/tickets",
            request: |f, _| (format!("/showtimes/{}/tickets", f.booking_showtime), None),
            expected: [401, 403, 403, 200, 200],
        },
        Row {
            method: Method::POST,
            template: "/checkins",
            request: |_, _| ("/checkins".into(), Some(json!({"token": "bm90LWEtdGlja2V0"}))),
            expected: [401, 403, 403, 400, 400],
        },
        Row {
            method: Method::POST,
            template: "/checkins/batch",
            request: |_, _| {
                let scan = json!({"token": "bm90LWEtdGlja2V0", "scannedAt": "2026-01-01T20:00:00Z"});
                ("/checkins/batch".into(), Some(json!({ "scans": [scan] })))
            },
            expected: [401, 403, 403, 200, 200],
        },
        Row {
            method: Method::POST,
            template: "/showtimes/{showtimeId}/cancel",
            request: |f, _| (format!("/showtimes/{}/cancel", f.doomed_showtime_id), Some(json!({}))),
            expected: [401, 403, 403, 200, 403],
        },
    ]
}

/// Creates the catalog entries the rows act on (a theater of our own, so that its layout may be rewritten, a movie,
/// and two showtimes on it) and the bodies of the admin writes.
async fn fixture(app: &TestApp, admin: &str, owner: (Uuid, &str), owner_email: String) -> Fixture {
    let (owner_id, owner_token) = owner;
    let show = booking::show(app, 0).await;
    let mut seats = show.standard(0, 4 + CALLERS.len()).into_iter();
    let owners_hold = |seat: Option<String>| {
        let seat = seat.expect("enough standard seats");
        async move { booking::id_of(&booking::held(app, owner_token, show.id, &[seat]).await) }
    };
    let booking_to_read = owners_hold(seats.next()).await;
    let booking_to_pay = owners_hold(seats.next()).await;
    let booking_to_cancel = owners_hold(seats.next()).await;
    let booking_to_extend = owners_hold(seats.next()).await;
    let seats_per_caller = seats.map(|seat| vec![seat]).collect();
    let theater_id = new_theater(app, admin, "Matrix Cinema").await;
    let mut created = Vec::new();
    for (screen, days) in [(1, 30), (2, 31)] {
        let body = new_showtime(app, admin, &theater_id, screen, days).await;
        let response = app.post_json("/showtimes", &body, Some(admin)).await;
        let showtime: Value = expect_status(response, StatusCode::CREATED).await;
        created.push((showtime["id"].as_str().expect("id").to_owned(), body));
    }
    let (showtime_id, showtime_body) = created.remove(0);
    let (doomed_showtime_id, _) = created.remove(0);
    let movie_id = showtime_body["movieId"].as_str().expect("movie id").to_owned();
    let theater: Value = expect_status(app.get(&format!("/theaters/{theater_id}"), None).await, StatusCode::OK).await;
    let boston = theater["cityId"].clone();
    let screens = json!([
        { "number": 1, "name": "Main", "seats": layout(3, 10) },
        { "number": 2, "name": "Small", "seats": layout(2, 5) },
    ]);
    let place = |name: &str| json!({ "name": name, "address": "1 Tremont St", "zip": "02108", "lat": 42.3570, "lon": -71.0630, "screens": screens });
    let mut new_theater = place("Matrix Cinema Two");
    new_theater["cityId"] = boston;
    let another_showtime = new_showtime(app, admin, &theater_id, 1, 32).await;
    let mut showtime_update = showtime_body.clone();
    for field in ["theaterId", "screenNumber"] {
        showtime_update.as_object_mut().expect("object").remove(field);
    }
    Fixture {
        owner_id,
        owner_email,
        booking_showtime: show.id,
        seats_per_caller,
        booking_to_read,
        booking_to_pay,
        booking_to_cancel,
        booking_to_extend,
        theater_id,
        movie_id,
        showtime_id,
        doomed_showtime_id,
        new_theater,
        theater_update: place("Matrix Cinema"),
        movie: json!({ "title": "Matrix Reloaded Again", "durationMin": 100, "genre": "Drama", "rating": "PG" }),
        new_showtime: another_showtime,
        showtime_update,
    }
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
    let (_, staff_token) = app.staff().await;
    let fixture = fixture(&app, &admin_token, (owner_id, &owner_token), owner_email).await;
    let tokens = [
        None,
        Some(owner_token.as_str()),
        Some(other_token.as_str()),
        Some(admin_token.as_str()),
        Some(staff_token.as_str()),
    ];

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
        for (index, (caller, (token, expected))) in CALLERS.iter().zip(tokens.iter().zip(row.expected)).enumerate() {
            let (path, body) = (row.request)(&fixture, index);
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
