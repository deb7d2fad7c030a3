//! Catalog administration: authorization, theaters with seat layouts, movies, showtimes (no overlap on a screen,
//! even under concurrent creators), cancellation; and the load-test route's switch.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::catalog_support::{available, city_id, get_ok, layout, names, put_json, seats};
use crate::helpers::{TestApp, expect_problem, expect_status};

/// Creates a theater in Boston with screen 1 (3 rows of 10) and screen 2 (2 rows of 5); returns its id.
pub async fn new_theater(app: &TestApp, token: &str, name: &str) -> String {
    let boston = city_id(app, "Boston", "MA").await;
    let body = json!({
        "cityId": boston, "name": name, "address": "1 Tremont St", "zip": "02108", "lat": 42.3570, "lon": -71.0630,
        "screens": [
            { "number": 1, "name": "Main", "seats": layout(3, 10) },
            { "number": 2, "name": "Small", "seats": layout(2, 5) },
        ],
    });
    let created = expect_status(app.post_json("/theaters", &body, Some(token)).await, StatusCode::CREATED).await;
    created["id"].as_str().expect("id").to_owned()
}

async fn any_movie(app: &TestApp) -> Uuid {
    app.db().await.query_one("SELECT id FROM movies ORDER BY title LIMIT 1", &[]).await.expect("movie").get(0)
}

fn at(days: i64, hours: i64) -> String {
    let base =
        OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(days) + Duration::hours(hours);
    base.format(&Rfc3339).expect("formats")
}

/// A `POST /showtimes` body: `days` from now at 18:00 UTC for two hours, on `screen`.
pub async fn new_showtime(app: &TestApp, _token: &str, theater: &str, screen: i32, days: i64) -> Value {
    json!({
        "theaterId": theater, "screenNumber": screen, "movieId": any_movie(app).await,
        "startTime": at(days, 18), "endTime": at(days, 20),
        "prices": { "standard": 1200, "premium": 1800, "accessible": 1200, "companion": 1200 },
    })
}

#[tokio::test]
async fn admin_routes_need_the_admin_role() {
    let app = TestApp::spawn().await;
    let (_, customer) = app.customer().await;
    let id = Uuid::new_v4();
    let routes = [
        (reqwest::Method::POST, "/theaters".to_owned()),
        (reqwest::Method::PUT, format!("/theaters/{id}")),
        (reqwest::Method::POST, "/movies".to_owned()),
        (reqwest::Method::PUT, format!("/movies/{id}")),
        (reqwest::Method::POST, "/showtimes".to_owned()),
        (reqwest::Method::PUT, format!("/showtimes/{id}")),
        (reqwest::Method::POST, format!("/showtimes/{id}/cancel")),
    ];
    for (method, path) in routes {
        let anonymous = app.request(method.clone(), &path).json(&json!({})).send().await.expect("sent");
        expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let as_customer =
            app.request(method.clone(), &path).bearer_auth(&customer).json(&json!({})).send().await.expect("sent");
        expect_problem(as_customer, StatusCode::FORBIDDEN, "forbidden").await;
    }
}

#[tokio::test]
async fn an_admin_builds_a_theater_a_movie_and_a_showtime_and_sees_them_served() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let seattle = city_id(&app, "Seattle", "WA").await;
    let before = names(&get_ok(&app, "/theaters?city=seattle").await);

    let body = json!({
        "cityId": seattle, "name": "Emerald Screens", "address": "400 Pine St", "zip": "98101", "lat": 47.6114, "lon": -122.3378,
        "screens": [{ "number": 1, "name": "Grand", "seats": layout(10, 20) }],
    });
    let response = app.post_json("/theaters", &body, Some(&token)).await;
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location").to_owned();
    let theater = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(theater["region"], "us-west", "the region comes from the city");
    assert_eq!(theater["screens"], json!([{ "number": 1, "name": "Grand", "seats": 200 }]));
    assert_eq!(location, format!("/theaters/{}", theater["id"].as_str().expect("id")));
    let after = names(&get_ok(&app, "/theaters?city=seattle").await);
    assert_eq!(after.len(), before.len() + 1, "the search cache was cleared");
    assert!(after.contains(&"Emerald Screens".to_owned()));

    let movie = json!({ "title": "Déjà Vu Again", "durationMin": 95, "genre": "Comedy", "rating": "pg-13" });
    let movie = expect_status(app.post_json("/movies", &movie, Some(&token)).await, StatusCode::CREATED).await;
    assert_eq!(movie["rating"], "PG-13");
    assert_eq!(get_ok(&app, "/movies?q=deja%20vu").await["items"][0]["id"], movie["id"]);
    let renamed = json!({ "title": "Déjà Vu Once More", "durationMin": 96, "genre": "Comedy", "rating": "PG-13" });
    let renamed = expect_status(
        put_json(&app, &format!("/movies/{}", movie["id"].as_str().expect("id")), &renamed, Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["durationMin"], 96);
    assert_eq!(get_ok(&app, "/movies?q=once%20more").await["items"][0]["id"], movie["id"]);

    let start = at(3, 2);
    let showtime = json!({
        "theaterId": theater["id"], "screenNumber": 1, "movieId": movie["id"], "startTime": start,
        "prices": { "standard": 1500, "premium": 2100, "accessible": 1500, "companion": 1500 }, "currency": "usd",
    });
    let created = expect_status(app.post_json("/showtimes", &showtime, Some(&token)).await, StatusCode::CREATED).await;
    assert_eq!(created["region"], "us-west");
    assert_eq!(created["currency"], "USD");
    let starts = OffsetDateTime::parse(created["startTime"].as_str().expect("start"), &Rfc3339).expect("rfc3339");
    let ends = OffsetDateTime::parse(created["endTime"].as_str().expect("end"), &Rfc3339).expect("rfc3339");
    assert_eq!(ends - starts, Duration::minutes(96), "the end defaults to the movie's duration");
    assert!(
        created["startTime"].as_str().expect("start").ends_with("-08:00")
            || created["startTime"].as_str().expect("start").ends_with("-07:00")
    );

    let map = get_ok(&app, &format!("/showtimes/{}/seats", created["id"].as_str().expect("id"))).await;
    assert_eq!(map["totals"], json!({ "seats": 200, "available": 200, "taken": 0 }));
    assert_eq!(map["grid"], json!({ "columns": 20, "rows": 10 }));
    assert_eq!(map["rows"][0]["seats"][0]["kind"], "accessible");
    assert_eq!(map["rows"][9]["seats"][0]["price"], 2100, "back row premium");
}

/// The OpenAPI document types these fields `integer`, which JSON Schema defines as any number with a zero fraction:
/// `95.0` is as valid as `95` (schemathesis sends both), while `95.5` is refused.
#[tokio::test]
async fn integer_fields_accept_a_zero_fraction_and_refuse_any_other() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let movie = json!({ "title": "Round Numbers", "durationMin": 95.0, "genre": "Drama", "rating": "PG" });
    let movie = expect_status(app.post_json("/movies", &movie, Some(&token)).await, StatusCode::CREATED).await;
    assert_eq!(movie["durationMin"], 95);
    let fraction = json!({ "title": "Round Numbers", "durationMin": 95.5, "genre": "Drama", "rating": "PG" });
    expect_problem(
        app.post_json("/movies", &fraction, Some(&token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    )
    .await;

    let theater = new_theater(&app, &token, "Fractions").await;
    let mut showtime = new_showtime(&app, &token, &theater, 1, 4).await;
    showtime["screenNumber"] = json!(1.0);
    showtime["prices"] = json!({ "standard": 1.2e3, "premium": 1800.0, "accessible": 1200, "companion": 0.0 });
    let created = expect_status(app.post_json("/showtimes", &showtime, Some(&token)).await, StatusCode::CREATED).await;
    assert_eq!(created["prices"], json!({ "standard": 1200, "premium": 1800, "accessible": 1200, "companion": 0 }));
    showtime["prices"]["premium"] = json!(1800.01);
    expect_problem(
        app.post_json("/showtimes", &showtime, Some(&token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    )
    .await;
}

#[tokio::test]
async fn theater_bodies_are_validated_field_by_field() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let boston = city_id(&app, "Boston", "MA").await;
    let mut seats = layout(2, 3);
    seats[1]["label"] = json!("A1");
    seats[2]["kind"] = json!("vip");
    seats[3]["x"] = json!(0);
    seats[3]["y"] = json!(0);
    let body = json!({
        "cityId": boston, "name": "", "address": "x", "zip": "02108", "lat": 95.0, "lon": 0.0,
        "screens": [{ "number": 1, "name": "One", "seats": seats }, { "number": 1, "name": "Dup", "seats": layout(1, 1) }],
    });
    let problem = expect_problem(
        app.post_json("/theaters", &body, Some(&token)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    let fields: Vec<&str> =
        problem["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field")).collect();
    for expected in ["body.name", "body.lat", "body.screens[0].seats[2].kind", "body.screens[1].number"] {
        assert!(fields.contains(&expected), "{expected} missing: {problem}");
    }
    // Duplicate labels and cells are reported once the kinds are right.
    let mut seats = layout(2, 3);
    seats[1]["label"] = json!("A1");
    let body = json!({ "cityId": boston, "name": "N", "address": "x", "zip": "02108", "lat": 42.0, "lon": -71.0,
        "screens": [{ "number": 1, "name": "One", "seats": seats }] });
    let problem = expect_problem(
        app.post_json("/theaters", &body, Some(&token)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "body.screens[0].seats");

    let unknown_city = json!({ "cityId": Uuid::new_v4(), "name": "N", "address": "x", "zip": "02108", "lat": 42.0, "lon": -71.0,
        "screens": [{ "number": 1, "name": "One", "seats": layout(1, 2) }] });
    let problem = expect_problem(
        app.post_json("/theaters", &unknown_city, Some(&token)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "body.cityId");
    let extra = json!({ "cityId": boston, "name": "N", "address": "x", "zip": "02108", "lat": 42.0, "lon": -71.0, "screens": [], "region": "us-west" });
    expect_problem(
        app.post_json("/theaters", &extra, Some(&token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-body",
    )
    .await;
}

#[tokio::test]
async fn overlapping_showtimes_on_a_screen_are_refused() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let theater = new_theater(&app, &token, "Overlap Palace").await;
    let base = new_showtime(&app, &token, &theater, 1, 20).await;
    let first = expect_status(app.post_json("/showtimes", &base, Some(&token)).await, StatusCode::CREATED).await;

    let mut overlapping = base.clone();
    overlapping["startTime"] = json!(at(20, 19));
    overlapping["endTime"] = json!(at(20, 21));
    let problem = expect_problem(
        app.post_json("/showtimes", &overlapping, Some(&token)).await,
        StatusCode::CONFLICT,
        "showtime-overlap",
    )
    .await;
    assert_eq!(problem["overlappingShowtimeId"], first["id"]);

    let mut adjacent = base.clone();
    adjacent["startTime"] = json!(at(20, 20));
    adjacent["endTime"] = json!(at(20, 22));
    expect_status(app.post_json("/showtimes", &adjacent, Some(&token)).await, StatusCode::CREATED).await;
    let mut other_screen = base.clone();
    other_screen["screenNumber"] = json!(2);
    expect_status(app.post_json("/showtimes", &other_screen, Some(&token)).await, StatusCode::CREATED).await;

    // Canceling frees the slot.
    let id = first["id"].as_str().expect("id");
    expect_status(app.post_json(&format!("/showtimes/{id}/cancel"), &json!({}), Some(&token)).await, StatusCode::OK)
        .await;
    let mut inside = base.clone();
    inside["startTime"] = json!(at(20, 18).replace("18:00:00", "18:30:00"));
    inside["endTime"] = json!(at(20, 19));
    expect_status(app.post_json("/showtimes", &inside, Some(&token)).await, StatusCode::CREATED).await;

    // Bad references and times.
    let mut no_screen = base.clone();
    no_screen["screenNumber"] = json!(9);
    let problem = expect_problem(
        app.post_json("/showtimes", &no_screen, Some(&token)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "body.screenNumber");
    let mut past = base.clone();
    past["startTime"] = json!(at(-1, 18));
    let problem = expect_problem(
        app.post_json("/showtimes", &past, Some(&token)).await,
        StatusCode::BAD_REQUEST,
        "validation-error",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "body.startTime");
}

#[tokio::test]
async fn of_two_concurrent_creators_of_overlapping_showtimes_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let theater = new_theater(&app, &token, "Race Condition Cinema").await;
    for round in 0..6 {
        let days = 30 + round;
        let a = new_showtime(&app, &token, &theater, 1, days).await;
        let mut b = a.clone();
        b["startTime"] = json!(at(days, 19));
        b["endTime"] = json!(at(days, 21));
        let send = |body: Value| {
            let client = app.client.clone();
            let url = format!("{}/showtimes", app.address);
            let token = token.clone();
            tokio::spawn(async move { client.post(url).bearer_auth(token).json(&body).send().await.expect("sent") })
        };
        let (ra, rb) = (send(a), send(b));
        let mut statuses = vec![ra.await.expect("joined").status(), rb.await.expect("joined").status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "round {round}");
    }
    let stored: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM showtimes WHERE theater_id = $1", &[&theater.parse::<Uuid>().expect("uuid")])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 6, "one showtime per round");
}

#[tokio::test]
async fn a_canceled_showtime_sells_nothing_and_leaves_the_listings() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let theater = new_theater(&app, &token, "Cancel Cinema").await;
    let body = new_showtime(&app, &token, &theater, 1, 2).await;
    let created = expect_status(app.post_json("/showtimes", &body, Some(&token)).await, StatusCode::CREATED).await;
    let id = created["id"].as_str().expect("id");
    let map = get_ok(&app, &format!("/showtimes/{id}/seats")).await;
    assert_eq!(map["totals"]["available"], 30);
    let programme = get_ok(&app, &format!("/theaters/{theater}/movies")).await;
    assert_eq!(programme["items"].as_array().expect("items").len(), 1);

    for _ in 0..2 {
        let canceled = expect_status(
            app.post_json(&format!("/showtimes/{id}/cancel"), &json!({}), Some(&token)).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(canceled["status"], "canceled");
    }
    let map = get_ok(&app, &format!("/showtimes/{id}/seats")).await;
    assert_eq!(map["status"], "canceled");
    assert_eq!(map["totals"]["available"], 0);
    assert!(seats(&map).iter().all(|(_, a)| !a));
    let programme = get_ok(&app, &format!("/theaters/{theater}/movies")).await;
    assert_eq!(programme["items"], json!([]));
    let update = json!({ "movieId": body["movieId"], "startTime": at(2, 18), "prices": body["prices"] });
    expect_problem(
        put_json(&app, &format!("/showtimes/{id}"), &update, Some(&token)).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let unknown = Uuid::new_v4();
    expect_problem(
        app.post_json(&format!("/showtimes/{unknown}/cancel"), &json!({}), Some(&token)).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn a_showtime_can_be_repriced_and_rescheduled_without_overlap() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let theater = new_theater(&app, &token, "Reprice Cinema").await;
    let first = new_showtime(&app, &token, &theater, 1, 4).await;
    let first = expect_status(app.post_json("/showtimes", &first, Some(&token)).await, StatusCode::CREATED).await;
    let second = new_showtime(&app, &token, &theater, 1, 5).await;
    let second = expect_status(app.post_json("/showtimes", &second, Some(&token)).await, StatusCode::CREATED).await;
    let id = second["id"].as_str().expect("id");
    let etag = app.get(&format!("/showtimes/{id}/seats"), None).await.headers().get("etag").cloned().expect("etag");

    let update = json!({ "movieId": second["movie"]["id"], "startTime": at(5, 18), "endTime": at(5, 20),
        "prices": { "standard": 999, "premium": 1999, "accessible": 999, "companion": 999 } });
    let updated =
        expect_status(put_json(&app, &format!("/showtimes/{id}"), &update, Some(&token)).await, StatusCode::OK).await;
    assert_eq!(updated["prices"]["standard"], 999);
    let response = app.get(&format!("/showtimes/{id}/seats"), None).await;
    assert_ne!(response.headers().get("etag").cloned().expect("etag"), etag, "new prices, new tag");
    let map: Value = response.json().await.expect("json");
    assert_eq!(map["rows"][1]["seats"][0]["price"], 999);

    let onto_first = json!({ "movieId": second["movie"]["id"], "startTime": at(4, 19), "endTime": at(4, 21), "prices": update["prices"] });
    let problem = expect_problem(
        put_json(&app, &format!("/showtimes/{id}"), &onto_first, Some(&token)).await,
        StatusCode::CONFLICT,
        "showtime-overlap",
    )
    .await;
    assert_eq!(problem["overlappingShowtimeId"], first["id"]);
    // Moving within its own slot does not collide with itself.
    let later = json!({ "movieId": second["movie"]["id"], "startTime": at(5, 19), "endTime": at(5, 21), "prices": update["prices"] });
    expect_status(put_json(&app, &format!("/showtimes/{id}"), &later, Some(&token)).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_screen_with_showtimes_keeps_its_layout() {
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let theater = new_theater(&app, &token, "Frozen Layout Cinema").await;
    let body = new_showtime(&app, &token, &theater, 1, 6).await;
    let showtime = expect_status(app.post_json("/showtimes", &body, Some(&token)).await, StatusCode::CREATED).await;
    let update = |screens: Value| json!({ "name": "Frozen Layout Cinema", "address": "1 Tremont St", "zip": "02108", "lat": 42.357, "lon": -71.063, "screens": screens });

    let relaid = update(
        json!([{ "number": 1, "name": "Main", "seats": layout(4, 10) }, { "number": 2, "name": "Small", "seats": layout(2, 5) }]),
    );
    let problem = expect_problem(
        put_json(&app, &format!("/theaters/{theater}"), &relaid, Some(&token)).await,
        StatusCode::CONFLICT,
        "layout-in-use",
    )
    .await;
    assert_eq!(problem["screenNumber"], 1);
    let removed = update(json!([{ "number": 2, "name": "Small", "seats": layout(2, 5) }]));
    expect_problem(
        put_json(&app, &format!("/theaters/{theater}"), &removed, Some(&token)).await,
        StatusCode::CONFLICT,
        "layout-in-use",
    )
    .await;

    // Renaming the used screen, re-laying out the unused one and adding a third is fine.
    let fine = update(json!([
        { "number": 1, "name": "Main Hall", "seats": layout(3, 10) },
        { "number": 2, "name": "Small", "seats": layout(3, 6) },
        { "number": 3, "name": "New", "seats": layout(1, 4) },
    ]));
    let detail =
        expect_status(put_json(&app, &format!("/theaters/{theater}"), &fine, Some(&token)).await, StatusCode::OK).await;
    assert_eq!(
        detail["screens"],
        json!([{ "number": 1, "name": "Main Hall", "seats": 30 }, { "number": 2, "name": "Small", "seats": 18 }, { "number": 3, "name": "New", "seats": 4 }])
    );
    assert_eq!(detail["numberOfScreens"], 3);
    let map = get_ok(&app, &format!("/showtimes/{}/seats", showtime["id"].as_str().expect("id"))).await;
    assert!(available(&map, "C10"));
    expect_problem(
        put_json(&app, &format!("/theaters/{}", Uuid::new_v4()), &fine, Some(&token)).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn the_load_test_route_exists_only_when_switched_on() {
    let off = TestApp::spawn().await;
    expect_problem(off.get("/loadtest/static?bytes=100", None).await, StatusCode::NOT_FOUND, "not-found").await;
    let on = TestApp::spawn_with(&[("BOXOFFICE_LOADTEST_ROUTES", "true")]).await;
    let response = on.get("/loadtest/static?bytes=15000", None).await;
    assert_eq!(response.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    let body = response.bytes().await.expect("body");
    assert_eq!(body.len(), 15_000);
    serde_json::from_slice::<Value>(&body).expect("JSON");
    expect_problem(on.get("/loadtest/static?bytes=1", None).await, StatusCode::BAD_REQUEST, "validation-error").await;
}

/// The largest `POST /theaters` body the schema allows, written as Python's `json.dumps` writes it (the form
/// `THEATER_BODY_LIMIT` is computed for): 50 screens of 1000 seats, every field at its longest, every name in
/// characters that take a 12-byte escape.
fn largest_theater(city: &str) -> String {
    let chars = |n: usize| r"\ud83c\udfac".repeat(n);
    let screen = |number: usize| {
        let seats: Vec<String> = (0..1000)
            .map(|i| {
                format!(
                    r#"{{"label": "SEAT{i:04}", "row": "ROWS", "number": 999, "kind": "accessible", "x": {}, "y": {}}}"#,
                    100 + i % 900,
                    100 + i / 900
                )
            })
            .collect();
        format!(r#"{{"number": {number}, "name": "{}", "seats": [{}]}}"#, chars(100), seats.join(", "))
    };
    let screens: Vec<String> = (50..100).map(screen).collect();
    format!(
        r#"{{"cityId": "{city}", "name": "{}", "address": "{}", "zip": "ABCDEFGHIJKL", "lat": -2.2250738585072014e-308, "lon": -2.2250738585072014e-308, "screens": [{}]}}"#,
        chars(200),
        chars(300),
        screens.join(", ")
    )
}

#[tokio::test]
async fn the_largest_valid_theater_is_created_and_a_byte_more_is_refused() {
    use boxoffice::catalog::model::input::THEATER_BODY_LIMIT;
    let app = TestApp::spawn().await;
    let (_, token) = app.admin().await;
    let body = largest_theater(&city_id(&app, "Boston", "MA").await.to_string());
    assert_eq!(body.len(), THEATER_BODY_LIMIT, "the limit is the largest valid body");
    let send = |method: reqwest::Method, path: String, body: String| {
        app.request(method, &path).bearer_auth(&token).header("content-type", "application/json").body(body).send()
    };

    let over = send(reqwest::Method::POST, "/theaters".into(), format!("{body} ")).await.expect("sent");
    expect_problem(over, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    let created = send(reqwest::Method::POST, "/theaters".into(), body).await.expect("sent");
    let created = expect_status(created, StatusCode::CREATED).await;
    let id: Uuid = created["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
    let row = app
        .db()
        .await
        .query_one("SELECT count(DISTINCT screen_number), count(*) FROM seats WHERE theater_id = $1", &[&id])
        .await
        .expect("counted");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (50, 50_000));

    // An update at the limit (padded with whitespace: the limit counts bytes) is read; one byte more is not.
    let small = json!({
        "name": "Largest", "address": "1 Tremont St", "zip": "02108", "lat": 42.357, "lon": -71.063,
        "screens": [{ "number": 1, "name": "Main", "seats": layout(1, 2) }],
    })
    .to_string();
    let padded = |n: usize| format!("{small}{}", " ".repeat(n - small.len()));
    let over =
        send(reqwest::Method::PUT, format!("/theaters/{id}"), padded(THEATER_BODY_LIMIT + 1)).await.expect("sent");
    expect_problem(over, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    let updated =
        send(reqwest::Method::PUT, format!("/theaters/{id}"), padded(THEATER_BODY_LIMIT)).await.expect("sent");
    assert_eq!(expect_status(updated, StatusCode::OK).await["name"], "Largest");
    // Other routes keep BOXOFFICE_BODY_LIMIT_BYTES (64 KiB).
    let movie = json!({ "title": "x".repeat(70_000), "durationMin": 90, "genre": "Drama", "rating": "PG" });
    expect_problem(
        app.post_json("/movies", &movie, Some(&token)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    )
    .await;
}
