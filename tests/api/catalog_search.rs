//! Catalog search against the demo data: cities, ZIP codes, positions, movies, showtimes; pagination; 400s and 404s.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::catalog_support::{all_theaters, city_id, get_ok, haversine, names, walk};
use crate::helpers::{TestApp, expect_problem};

#[tokio::test]
async fn theaters_by_city_are_case_and_accent_insensitive() {
    let app = TestApp::spawn().await;
    let reference = get_ok(&app, "/theaters?city=New%20York").await;
    assert!(names(&reference).len() >= 3, "{reference}");
    for spelling in ["new%20york", "NEW%20YORK", "%20%20new%20%20%20York%20"] {
        let page = get_ok(&app, &format!("/theaters?city={spelling}")).await;
        assert_eq!(names(&page), names(&reference), "{spelling}");
    }
    for spelling in ["montreal", "MONTREAL", "Montr%C3%A9al", "MONTR%C3%89AL"] {
        let page = get_ok(&app, &format!("/theaters?city={spelling}")).await;
        let items = page["items"].as_array().expect("items");
        assert!(!items.is_empty(), "{spelling}");
        assert!(items.iter().all(|t| t["city"] == "Montréal" && t["state"] == "QC" && t["country"] == "CA"));
        assert!(items.iter().all(|t| t.get("distanceKm").is_none()), "no position, no distance");
    }
    // Punctuation is not part of a name: `st louis` finds St. Louis (it found nothing before migration 0004).
    let reference = get_ok(&app, "/theaters?city=St.%20Louis").await;
    assert!(!names(&reference).is_empty(), "{reference}");
    for spelling in ["st%20louis", "ST.LOUIS", "st-louis", "St%20Louis%2C"] {
        let page = get_ok(&app, &format!("/theaters?city={spelling}")).await;
        assert_eq!(names(&page), names(&reference), "{spelling}");
    }
}

#[tokio::test]
async fn city_suggestions_match_the_start_of_a_name_whatever_its_case_and_accents() {
    let app = TestApp::spawn().await;
    for typed in ["mont", "MONT", "Montr%C3%A9", "montre", "%20%20MoNtReA"] {
        let found = get_ok(&app, &format!("/cities?q={typed}")).await;
        let items = found.as_array().expect("an array");
        assert!(
            items.iter().any(|c| c["name"] == "Montréal" && c["state"] == "QC" && c["country"] == "CA"),
            "{typed}: {found}"
        );
        assert!(items.iter().all(|c| c["name"].as_str().is_some_and(|n| n.starts_with("Mont"))), "{found}");
    }
    // Both Portlands, by state; the limit is honoured.
    let portlands = get_ok(&app, "/cities?q=portl").await;
    let states: Vec<&str> =
        portlands.as_array().expect("array").iter().map(|c| c["state"].as_str().expect("state")).collect();
    assert_eq!(states, ["ME", "OR"], "{portlands}");
    let one = get_ok(&app, "/cities?q=p&limit=1").await;
    assert_eq!(one.as_array().map(Vec::len), Some(1), "{one}");
    // LIKE's metacharacters are punctuation, read as spaces, never wildcards; nothing matches is an empty list.
    for typed in ["m_nt", "m%25nt", "atlantis"] {
        assert_eq!(get_ok(&app, &format!("/cities?q={typed}")).await, Value::Array(vec![]), "{typed}");
    }
    for path in ["/cities", "/cities?q=%20", "/cities?q=...", "/cities?q=mont&limit=0", "/cities?q=mont&limit=21"] {
        expect_problem(app.get(path, None).await, StatusCode::BAD_REQUEST, "validation-error").await;
    }
}

#[tokio::test]
async fn an_ambiguous_city_lists_every_match_and_a_state_narrows_it() {
    let app = TestApp::spawn().await;
    let both = get_ok(&app, "/theaters?city=portland").await;
    let states: HashSet<&str> =
        both["items"].as_array().expect("items").iter().map(|t| t["state"].as_str().expect("state")).collect();
    assert_eq!(states, HashSet::from(["OR", "ME"]), "{both}");
    let oregon = get_ok(&app, "/theaters?city=Portland&state=or").await;
    let items = oregon["items"].as_array().expect("items");
    assert!(!items.is_empty() && items.iter().all(|t| t["state"] == "OR" && t["timeZone"] == "America/Los_Angeles"));
    let maine = get_ok(&app, "/theaters?city=Portland&state=ME&country=US").await;
    assert!(maine["items"].as_array().expect("items").iter().all(|t| t["state"] == "ME"));
    assert_eq!(names(&oregon).len() + names(&maine).len(), names(&both).len());
    let none = get_ok(&app, "/theaters?city=Portland&country=CA").await;
    assert_eq!(none["items"], Value::Array(vec![]));
}

#[tokio::test]
async fn an_unknown_city_or_zip_is_an_empty_list() {
    let app = TestApp::spawn().await;
    for path in ["/theaters?city=Atlantis", "/theaters?zip=99999", "/theaters?near=0,0", "/movies?city=Atlantis"] {
        let page = get_ok(&app, path).await;
        assert_eq!(page["items"], Value::Array(vec![]), "{path}");
        assert!(page["nextCursor"].is_null(), "{path}");
    }
}

/// Checks a proximity list against every theater of the database with distances computed here.
async fn assert_proximity(app: &TestApp, path: &str, lat: f64, lon: f64, radius: f64) {
    let items = walk(app, path).await;
    let mut previous = 0.0;
    for t in &items {
        let d = t["distanceKm"].as_f64().expect("distanceKm");
        let own = haversine(lat, lon, t["lat"].as_f64().expect("lat"), t["lon"].as_f64().expect("lon"));
        assert!((d - own).abs() < 1e-6, "{}: service says {d}, haversine {own}", t["name"]);
        assert!(d >= previous, "not nearest first: {d} after {previous}");
        assert!(d <= radius);
        previous = d;
    }
    let expected: HashSet<Uuid> = all_theaters(app)
        .await
        .into_iter()
        .filter(|(_, _, tlat, tlon)| haversine(lat, lon, *tlat, *tlon) <= radius)
        .map(|(id, ..)| id)
        .collect();
    let got: HashSet<Uuid> = items.iter().map(|t| t["id"].as_str().expect("id").parse().expect("uuid")).collect();
    assert_eq!(got.len(), items.len(), "no theater twice");
    assert_eq!(got, expected, "{path}: exactly the theaters within {radius} km");
}

#[tokio::test]
async fn theaters_around_a_zip_are_nearest_first_within_the_radius() {
    let app = TestApp::spawn().await;
    let (lat, lon): (f64, f64) = {
        let row =
            app.db().await.query_one("SELECT lat, lon FROM zip_codes WHERE zip = '10036'", &[]).await.expect("zip");
        (row.get(0), row.get(1))
    };
    assert_proximity(&app, "/theaters?zip=10036&limit=2", lat, lon, 25.0).await;
    assert_proximity(&app, "/theaters?zip=10036&radiusKm=3&limit=1", lat, lon, 3.0).await;
    // A Canadian postal area, typed loosely.
    let page = get_ok(&app, "/theaters?zip=h2x&radiusKm=5").await;
    assert!(names(&page).iter().any(|n| n == "Cinéma du Quartier Latin"), "{page}");
}

#[tokio::test]
async fn theaters_near_a_position_are_nearest_first_within_the_radius() {
    let app = TestApp::spawn().await;
    // Boston Common; then a radius wide enough to take in another city (Boston -> Portland ME is ~160 km).
    assert_proximity(&app, "/theaters?near=42.355,-71.0656&radiusKm=10&limit=3", 42.355, -71.0656, 10.0).await;
    assert_proximity(&app, "/theaters?near=42.355,-71.0656&radiusKm=200", 42.355, -71.0656, 200.0).await;
    // A point with nothing around.
    assert_proximity(&app, "/theaters?near=0,-140&radiusKm=500", 0.0, -140.0, 500.0).await;
}

async fn insert_theater(app: &TestApp, city: Uuid, name: &str, lat: f64, lon: f64) -> Uuid {
    app.db()
        .await
        .query_one(
            "INSERT INTO theaters (region, city_id, name, address, zip, lat, lon, number_of_screens)
             SELECT region, id, $2, '1 Test St', '10036', $3, $4, 1 FROM cities WHERE id = $1 RETURNING id",
            &[&city, &name, &lat, &lon],
        )
        .await
        .expect("theater inserted")
        .get(0)
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|t| t["id"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test]
async fn pagination_by_name_neither_repeats_nor_skips_under_inserts() {
    let app = TestApp::spawn().await;
    let ny = city_id(&app, "New York", "NY").await;
    let before = ids(&walk(&app, "/theaters?city=new%20york&limit=100").await);
    assert!(before.len() >= 4);

    let first = get_ok(&app, "/theaters?city=new%20york&limit=2").await;
    let mut seen = ids(first["items"].as_array().expect("items"));
    // One theater sorts before the cursor (never to be served now), one after it (to be served once).
    let early = insert_theater(&app, ny, "AAA Early Cinema", 40.75, -73.99).await;
    let late = insert_theater(&app, ny, "zzz Late Cinema", 40.75, -73.99).await;
    let mut cursor = first["nextCursor"].as_str().expect("more pages").to_owned();
    loop {
        let page = get_ok(&app, &format!("/theaters?city=new%20york&limit=2&cursor={cursor}")).await;
        seen.extend(ids(page["items"].as_array().expect("items")));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a theater was served twice: {seen:?}");
    for id in &before {
        assert!(unique.contains(id), "{id} was skipped");
    }
    assert!(unique.contains(&late.to_string()));
    assert!(!unique.contains(&early.to_string()));
}

#[tokio::test]
async fn pagination_by_distance_neither_repeats_nor_skips_under_inserts() {
    let app = TestApp::spawn().await;
    let ny = city_id(&app, "New York", "NY").await;
    let path = "/theaters?near=40.758,-73.9855&radiusKm=30";
    let before = ids(&walk(&app, &format!("{path}&limit=100")).await);
    assert!(before.len() >= 3);

    let first = get_ok(&app, &format!("{path}&limit=1")).await;
    let mut seen = ids(first["items"].as_array().expect("items"));
    let nearer = insert_theater(&app, ny, "Right Here Cinema", 40.758, -73.9855).await;
    let farther = insert_theater(&app, ny, "Out There Cinema", 40.90, -73.90).await;
    let mut cursor = first["nextCursor"].as_str().expect("more pages").to_owned();
    loop {
        let page = get_ok(&app, &format!("{path}&limit=1&cursor={cursor}")).await;
        seen.extend(ids(page["items"].as_array().expect("items")));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a theater was served twice: {seen:?}");
    assert!(before.iter().all(|id| unique.contains(id)), "a theater was skipped");
    assert!(unique.contains(&farther.to_string()));
    assert!(!unique.contains(&nearer.to_string()));
}

#[tokio::test]
async fn every_bad_parameter_is_a_400_naming_it() {
    let app = TestApp::spawn().await;
    let (showtime, _, _) = crate::catalog_support::future_showtime(&app).await;
    let movie: Uuid = app.db().await.query_one("SELECT id FROM movies LIMIT 1", &[]).await.expect("movie").get(0);
    let theater: Uuid = app.db().await.query_one("SELECT id FROM theaters LIMIT 1", &[]).await.expect("theater").get(0);
    let cases: Vec<(String, &str)> = vec![
        ("/theaters".into(), "query"),
        ("/theaters?city=Boston&zip=02116".into(), "query"),
        ("/theaters?near=91,0".into(), "query.near"),
        ("/theaters?near=0,-180.5".into(), "query.near"),
        ("/theaters?near=north".into(), "query.near"),
        ("/theaters?near=40,-74&radiusKm=-1".into(), "query.radiusKm"),
        ("/theaters?near=40,-74&radiusKm=501".into(), "query.radiusKm"),
        ("/theaters?zip=10036&limit=101".into(), "query.limit"),
        ("/theaters?zip=10036&limit=0".into(), "query.limit"),
        ("/theaters?zip=10036&cursor=not-a-cursor".into(), "query.cursor"),
        ("/theaters?city=Boston&unknown=1".into(), "query"),
        ("/theaters/not-a-uuid".into(), "path.theaterId"),
        ("/theaters/not-a-uuid/movies".into(), "path.theaterId"),
        (format!("/theaters/{theater}/movies?date=2025-02-30"), "query.date"),
        (format!("/theaters/{theater}/movies?date=tomorrow"), "query.date"),
        (format!("/theaters/{theater}/movies?limit=1000"), "query.limit"),
        ("/movies?limit=-3".into(), "query.limit"),
        ("/movies/123".into(), "path.movieId"),
        ("/movies/123/showtimes".into(), "path.movieId"),
        (format!("/movies/{movie}/showtimes?theaterId=abc"), "query.theaterId"),
        (format!("/movies/{movie}/showtimes?date=01/02/2030"), "query.date"),
        (format!("/movies/{movie}/showtimes?near=0,0&radiusKm=0"), "query.radiusKm"),
        ("/showtimes/xyz".into(), "path.showtimeId"),
        ("/showtimes/xyz/seats".into(), "path.showtimeId"),
        (format!("/showtimes/{showtime}x/seats"), "path.showtimeId"),
    ];
    for (path, field) in cases {
        let problem = expect_problem(app.get(&path, None).await, StatusCode::BAD_REQUEST, "validation-error").await;
        let fields: Vec<&str> =
            problem["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field")).collect();
        assert!(
            fields.contains(&field) || (field == "query" && fields.iter().any(|f| f.starts_with("query"))),
            "{path}: expected {field}, got {problem}"
        );
    }
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = TestApp::spawn().await;
    let id = Uuid::new_v4();
    for path in [
        format!("/theaters/{id}"),
        format!("/theaters/{id}/movies"),
        format!("/movies/{id}"),
        format!("/movies/{id}/showtimes"),
        format!("/showtimes/{id}"),
        format!("/showtimes/{id}/seats"),
    ] {
        expect_problem(app.get(&path, None).await, StatusCode::NOT_FOUND, "not-found").await;
    }
}

fn local_date_of(rfc3339: &str) -> &str {
    &rfc3339[..10]
}

#[tokio::test]
async fn a_theater_page_lists_its_movies_with_their_showtimes_on_its_local_date() {
    let app = TestApp::spawn().await;
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT t.id, ((now() AT TIME ZONE c.time_zone)::date + 1)::text FROM theaters t
             JOIN cities c ON c.id = t.city_id WHERE c.name = 'Los Angeles' ORDER BY t.name LIMIT 1",
            &[],
        )
        .await
        .expect("a Los Angeles theater");
    let (theater, tomorrow): (Uuid, String) = (row.get(0), row.get(1));
    let movies = walk(&app, &format!("/theaters/{theater}/movies?date={tomorrow}&limit=3")).await;
    assert!(!movies.is_empty());
    let mut titles = Vec::new();
    let mut count = 0;
    for movie in &movies {
        titles.push(movie["title"].as_str().expect("title").to_owned());
        let showtimes = movie["showtimes"].as_array().expect("showtimes");
        assert!(!showtimes.is_empty(), "a listed movie has showtimes: {movie}");
        for s in showtimes {
            let start = s["startTime"].as_str().expect("startTime");
            assert_eq!(local_date_of(start), tomorrow, "{start} is not on the local date");
            assert!(start.ends_with("-08:00") || start.ends_with("-07:00"), "Los Angeles offset: {start}");
            assert_eq!(s["movieId"], movie["id"]);
            assert!(s["seatsAvailable"].as_u64() <= s["seatsTotal"].as_u64());
            assert!(s["seatsTotal"].as_u64().expect("total") > 0);
            count += 1;
        }
    }
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(titles, sorted, "movies by title");
    let expected: i64 = db
        .query_one(
            "SELECT count(*) FROM showtimes s JOIN theaters t ON t.region = s.region AND t.id = s.theater_id
             JOIN cities c ON c.id = t.city_id
             WHERE s.theater_id = $1 AND s.status = 'scheduled' AND s.start_time > now()
               AND (s.start_time AT TIME ZONE c.time_zone)::date::text = $2",
            &[&theater, &tomorrow],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, expected, "every showtime of the day, once");
    // Without a date: upcoming only.
    let upcoming = get_ok(&app, &format!("/theaters/{theater}/movies?limit=100")).await;
    let now = time::OffsetDateTime::now_utc();
    for movie in upcoming["items"].as_array().expect("items") {
        for s in movie["showtimes"].as_array().expect("showtimes") {
            let start = time::OffsetDateTime::parse(
                s["startTime"].as_str().expect("start"),
                &time::format_description::well_known::Rfc3339,
            )
            .expect("rfc3339");
            assert!(start > now);
        }
    }
}

#[tokio::test]
async fn movies_are_searched_by_title_genre_and_city() {
    let app = TestApp::spawn().await;
    let amelie = get_ok(&app, "/movies?q=AMELIE").await;
    assert_eq!(amelie["items"][0]["title"], "Amélie", "{amelie}");
    let partial = get_ok(&app, "/movies?q=the%20fut").await;
    assert_eq!(partial["items"].as_array().expect("items").len(), 1);
    assert_eq!(partial["items"][0]["title"], "Back to the Future");
    // `%` is no wildcard: punctuation is not part of a title, and a search of nothing but punctuation is refused.
    let wildcard = app.get("/movies?q=%25", None).await;
    let problem = expect_problem(wildcard, StatusCode::BAD_REQUEST, "validation-error").await;
    assert_eq!(problem["errors"][0]["field"], "query.q", "{problem}");
    let horror = walk(&app, "/movies?genre=HORROR&limit=2").await;
    assert!(horror.len() >= 2 && horror.iter().all(|m| m["genre"] == "Horror"));
    let all = walk(&app, "/movies?limit=7").await;
    let total: i64 = app.db().await.query_one("SELECT count(*) FROM movies", &[]).await.expect("count").get(0);
    assert_eq!(all.len() as i64, total, "paging covers every movie once");

    let in_portland_me: HashSet<String> = app
        .db()
        .await
        .query(
            "SELECT DISTINCT m.title FROM movies m JOIN showtimes s ON s.movie_id = m.id
             JOIN theaters t ON t.region = s.region AND t.id = s.theater_id JOIN cities c ON c.id = t.city_id
             WHERE c.name = 'Portland' AND c.state = 'ME' AND s.status = 'scheduled' AND s.start_time > now()",
            &[],
        )
        .await
        .expect("titles")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let listed: HashSet<String> = walk(&app, "/movies?city=portland&state=ME")
        .await
        .iter()
        .map(|m| m["title"].as_str().expect("title").to_owned())
        .collect();
    assert!(!listed.is_empty());
    assert_eq!(listed, in_portland_me);
}

#[tokio::test]
async fn a_movies_showtimes_are_future_grouped_by_theater_nearest_first_with_seats_available() {
    let app = TestApp::spawn().await;
    let movie: Uuid = app
        .db()
        .await
        .query_one(
            "SELECT s.movie_id FROM showtimes s JOIN theaters t ON t.region = s.region AND t.id = s.theater_id
             WHERE t.zip LIKE '100%' AND s.start_time > now() GROUP BY s.movie_id ORDER BY count(*) DESC LIMIT 1",
            &[],
        )
        .await
        .expect("a movie playing in New York")
        .get(0);
    let groups = walk(&app, &format!("/movies/{movie}/showtimes?zip=10036&radiusKm=40&limit=2")).await;
    assert!(!groups.is_empty());
    let now = time::OffsetDateTime::now_utc();
    let mut previous = 0.0;
    for group in &groups {
        let d = group["theater"]["distanceKm"].as_f64().expect("distance");
        assert!(d >= previous && d <= 40.0);
        previous = d;
        for s in group["showtimes"].as_array().expect("showtimes") {
            assert_eq!(s["movieId"], movie.to_string());
            let start = time::OffsetDateTime::parse(
                s["startTime"].as_str().expect("start"),
                &time::format_description::well_known::Rfc3339,
            )
            .expect("rfc3339");
            assert!(start > now, "past showtime listed");
            assert_eq!(s["seatsAvailable"], s["seatsTotal"], "no claims in the demo data");
        }
    }
    // The same grouping by city and for one theater.
    let theater = groups[0]["theater"]["id"].as_str().expect("id");
    let one = get_ok(&app, &format!("/movies/{movie}/showtimes?theaterId={theater}")).await;
    assert_eq!(one["items"].as_array().expect("items").len(), 1);
    assert_eq!(one["items"][0]["showtimes"], groups[0]["showtimes"]);
    let by_city = walk(&app, &format!("/movies/{movie}/showtimes?city=new%20york")).await;
    assert!(by_city.iter().all(|g| g["theater"]["city"] == "New York" && g["theater"].get("distanceKm").is_none()));
}

#[tokio::test]
async fn a_showtime_shows_its_theater_movie_screen_local_times_and_prices() {
    let app = TestApp::spawn().await;
    let (id, region, _) = crate::catalog_support::future_showtime(&app).await;
    let s = get_ok(&app, &format!("/showtimes/{id}")).await;
    assert_eq!(s["id"], id.to_string());
    assert_eq!(s["region"], region);
    assert_eq!(s["status"], "scheduled");
    for kind in ["standard", "premium", "accessible", "companion"] {
        assert!(s["prices"][kind].as_i64().expect("price") > 0, "{s}");
    }
    assert!(s["theater"]["name"].is_string() && s["movie"]["title"].is_string() && s["screen"]["number"].is_i64());
    let start = time::OffsetDateTime::parse(
        s["startTime"].as_str().expect("start"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    let end = time::OffsetDateTime::parse(
        s["endTime"].as_str().expect("end"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc3339");
    assert!(end > start);
    let stored: time::OffsetDateTime =
        app.db().await.query_one("SELECT start_time FROM showtimes WHERE id = $1", &[&id]).await.expect("row").get(0);
    assert_eq!(start, stored, "the same instant, shown at the local offset");
    assert_ne!(start.offset(), time::UtcOffset::UTC, "American theaters are not on UTC");
}
