//! Seat maps: content, ETag / If-None-Match, the availability cache (TTL, invalidation, coalescing), Redis outages,
//! availability read from the primary when the read pool lags, and the in-memory maps kept fresh by pub/sub.

use std::net::SocketAddr;
use std::time::Duration;

use boxoffice::ids::ShowtimeId;
use metrics_exporter_prometheus::PrometheusBuilder;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::catalog_support::{available, claim, future_showtime, get_ok, seats};
use crate::helpers::booking::sum_of;
use crate::helpers::{TestApp, database_url, expect_status, fresh_database, redis_url, test_config};
use crate::proxy::Proxy;

async fn seat_map(app: &TestApp, showtime: Uuid) -> (String, Value) {
    let response = app.get(&format!("/showtimes/{showtime}/seats"), None).await;
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
    (etag, expect_status(response, StatusCode::OK).await)
}

#[tokio::test]
async fn the_seat_map_lists_every_seat_with_kind_position_price_and_availability() {
    let app = TestApp::spawn().await;
    let (showtime, region, count) = future_showtime(&app).await;
    claim(&app, showtime, &region, &["A3", "A4"], Some("10 minutes")).await;
    claim(&app, showtime, &region, &["B3"], None).await;
    claim(&app, showtime, &region, &["B4"], Some("-1 minute")).await;

    let response = app.get(&format!("/showtimes/{showtime}/seats"), None).await;
    let cache_control =
        response.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cache_control.contains("max-age=1"), "{cache_control}");
    let map = expect_status(response, StatusCode::OK).await;

    let all = seats(&map);
    assert_eq!(all.len() as i64, count);
    assert!(!available(&map, "A3") && !available(&map, "A4"), "held seats are taken");
    assert!(!available(&map, "B3"), "a paid seat is taken");
    assert!(available(&map, "B4"), "an expired hold blocks nothing");
    assert_eq!(map["totals"]["seats"], count);
    assert_eq!(map["totals"]["taken"], 3);
    assert_eq!(map["totals"]["available"], count - 3);

    let s = get_ok(&app, &format!("/showtimes/{showtime}")).await;
    let kinds: std::collections::HashSet<&str> = map["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| r["seats"].as_array().expect("seats"))
        .map(|seat| {
            let kind = seat["kind"].as_str().expect("kind");
            assert_eq!(seat["price"], s["prices"][kind], "the price of a {kind} seat");
            assert!(seat["x"].is_i64() && seat["y"].is_i64());
            kind
        })
        .collect();
    assert!(kinds.contains("premium") && kinds.contains("accessible") && kinds.contains("companion"), "{kinds:?}");
    let stored: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM seats se JOIN showtimes s ON se.region = s.region AND se.theater_id = s.theater_id
             AND se.screen_number = s.screen_number WHERE s.id = $1 AND se.kind = 'premium'",
            &[&showtime],
        )
        .await
        .expect("count")
        .get(0);
    let premium = map["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| r["seats"].as_array().expect("seats"))
        .filter(|s| s["kind"] == "premium")
        .count();
    assert_eq!(premium as i64, stored);
}

#[tokio::test]
async fn if_none_match_gives_304_until_availability_changes() {
    let app = TestApp::spawn().await;
    let (showtime, region, _) = future_showtime(&app).await;
    let path = format!("/showtimes/{showtime}/seats");
    let (etag, first) = seat_map(&app, showtime).await;

    let not_modified =
        app.request(reqwest::Method::GET, &path).header("If-None-Match", &etag).send().await.expect("sent");
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.headers().get("etag").and_then(|v| v.to_str().ok()), Some(etag.as_str()));
    assert!(not_modified.bytes().await.expect("body").is_empty());
    let other =
        app.request(reqwest::Method::GET, &path).header("If-None-Match", "\"0000\"").send().await.expect("sent");
    assert_eq!(other.status(), StatusCode::OK);

    // A hold commits and the booking side invalidates, as its contract says: the map and its tag change at once.
    claim(&app, showtime, &region, &["C5"], Some("10 minutes")).await;
    app.state.catalog.caches.seats.invalidate(ShowtimeId(showtime));
    let changed = app.request(reqwest::Method::GET, &path).header("If-None-Match", &etag).send().await.expect("sent");
    assert_eq!(changed.status(), StatusCode::OK);
    let new_etag = changed.headers().get("etag").and_then(|v| v.to_str().ok()).expect("etag").to_owned();
    assert_ne!(new_etag, etag);
    let map: Value = changed.json().await.expect("json");
    assert!(!available(&map, "C5") && available(&first, "C5"));
    // The tag is a function of the content: the same map again, the same tag.
    assert_eq!(seat_map(&app, showtime).await, (new_etag, map));
}

#[tokio::test]
async fn an_invalidation_is_not_waited_for_but_this_process_reads_after_it() {
    let app = TestApp::spawn().await;
    let (showtime, region, _) = future_showtime(&app).await;
    let (_, map) = seat_map(&app, showtime).await;
    assert!(available(&map, "G3"));
    claim(&app, showtime, &region, &["G3"], Some("10 minutes")).await;
    // A blocking connection: checking Redis with it cannot let the flusher task run on this (single-threaded) test
    // runtime in between.
    let mut redis = redis::Client::open(redis_url()).expect("url").get_connection().expect("connect");
    let key = boxoffice::cache::seats::availability_key(&app.state.redis, ShowtimeId(showtime));
    let cached = |redis: &mut redis::Connection| redis::cmd("EXISTS").arg(&key).query::<i64>(redis).expect("exists");
    assert_eq!(cached(&mut redis), 1);

    let cache = app.state.catalog.caches.seats.clone();
    cache.invalidate(ShowtimeId(showtime));
    assert_eq!(cached(&mut redis), 1, "the caller did not wait for Redis");
    // The next read of this process waits for the flush, so it cannot serve the entry cached before the claim.
    let id = boxoffice::catalog::model::ShowtimeId(showtime);
    let record = app.state.catalog.caches.showtime(&app.state.db, id).await.expect("showtime").expect("found");
    let (layout, _) = app.state.catalog.caches.seat_map(&app.state.db, &record).await.expect("layout");
    let taken = cache.taken(&app.state.db, &record.record.key(), &layout).await.expect("taken");
    assert!(taken.is_taken(layout.position("G3").expect("G3")), "a read after this process's invalidation is current");
    let (_, map) = seat_map(&app, showtime).await;
    assert!(!available(&map, "G3"));
}

#[tokio::test]
async fn a_claim_made_in_the_database_shows_once_the_cache_entry_expires() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_SEATMAP_TTL_MS", "300")]).await;
    let (showtime, region, _) = future_showtime(&app).await;
    let (etag, map) = seat_map(&app, showtime).await;
    assert!(available(&map, "D7"));
    // No invalidation: only the TTL can make the cache see this claim.
    claim(&app, showtime, &region, &["D7"], None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (new_etag, map) = seat_map(&app, showtime).await;
    assert!(!available(&map, "D7"));
    assert_ne!(new_etag, etag);
}

#[tokio::test]
async fn a_lapsing_hold_shortens_the_cache_entry() {
    // A long TTL, and a hold that lapses well before it: the entry must not keep the seat taken past the hold.
    let app = TestApp::spawn_with(&[("BOXOFFICE_SEATMAP_TTL_MS", "60000")]).await;
    let (showtime, region, _) = future_showtime(&app).await;
    claim(&app, showtime, &region, &["E2"], Some("700 milliseconds")).await;
    let (_, map) = seat_map(&app, showtime).await;
    assert!(!available(&map, "E2"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    let (_, map) = seat_map(&app, showtime).await;
    assert!(available(&map, "E2"), "the lapsed hold still shows");
}

#[tokio::test]
async fn concurrent_misses_of_a_showtime_share_one_rebuild() {
    let app = TestApp::spawn().await;
    let (showtime, _, _) = future_showtime(&app).await;
    // Warm the showtime and layout caches (not the availability) so that every request reaches the seat cache.
    get_ok(&app, &format!("/showtimes/{showtime}")).await;
    let cache = app.state.catalog.caches.seats.clone();
    let (rebuilds, joined) = (cache.rebuilds(), cache.joined());

    // Hold the rebuild inside the database: the live-claims query waits for this lock.
    let (locker, connection) =
        tokio_postgres::connect(&database_url(&app.db_name), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    locker.batch_execute("BEGIN; LOCK TABLE booking_seats IN ACCESS EXCLUSIVE MODE").await.expect("lock");

    let requests: Vec<_> = (0..20)
        .map(|_| {
            let client = app.client.clone();
            let url = format!("{}/showtimes/{showtime}/seats", app.address);
            tokio::spawn(async move { client.get(url).send().await.expect("sent").text().await.expect("body") })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while cache.joined() - joined < 19 {
        assert!(tokio::time::Instant::now() < deadline, "requests did not all join the rebuild");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cache.rebuilds() - rebuilds, 1, "one rebuild for twenty concurrent misses");
    let waiting: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
             AND query LIKE '%booking_seats%'",
            &[],
        )
        .await
        .expect("activity")
        .get(0);
    assert_eq!(waiting, 1, "one query waits on the database, not twenty");

    locker.batch_execute("COMMIT").await.expect("unlock");
    let mut bodies = Vec::new();
    for r in requests {
        bodies.push(r.await.expect("joined"));
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every request got the shared result");
    assert!(bodies[0].starts_with("{\"showtimeId\""));
}

fn redis_addr() -> SocketAddr {
    let url = redis_url();
    let host_port = url.trim_start_matches("redis://").split('/').next().expect("host:port").to_owned();
    host_port.parse().expect("a socket address")
}

#[tokio::test]
async fn redis_going_away_mid_test_still_serves_seat_maps_from_the_database() {
    let proxy = Proxy::start(redis_addr()).await;
    let app = TestApp::spawn_with(&[("BOXOFFICE_REDIS_URL", &format!("redis://{}", proxy.addr()))]).await;
    let (showtime, region, _) = future_showtime(&app).await;
    let movie: Uuid = app
        .db()
        .await
        .query_one("SELECT movie_id FROM showtimes WHERE id = $1", &[&showtime])
        .await
        .expect("movie")
        .get(0);
    let (etag, before) = seat_map(&app, showtime).await;

    proxy.cut();
    let (same_etag, during) = seat_map(&app, showtime).await;
    assert_eq!((same_etag.as_str(), &during), (etag.as_str(), &before), "the database gives the same map");
    claim(&app, showtime, &region, &["F9"], Some("10 minutes")).await;
    let (_, during) = seat_map(&app, showtime).await;
    assert!(!available(&during, "F9"), "served from the database, so current");
    get_ok(&app, &format!("/movies/{movie}/showtimes?city=new%20york")).await;

    // A hung Redis (connections accepted, never answered) is no error either.
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    proxy.blackhole();
    let (_, hung) = seat_map(&app, showtime).await;
    assert!(!available(&hung, "F9"));

    // Redis comes back: once the one-second bypass is over, the cache serves again (the connections that failed
    // or hung were discarded, not reused).
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cache = app.state.catalog.caches.seats.clone();
    seat_map(&app, showtime).await;
    let rebuilds = cache.rebuilds();
    for _ in 0..3 {
        let (_, again) = seat_map(&app, showtime).await;
        assert!(!available(&again, "F9"));
    }
    assert_eq!(cache.rebuilds(), rebuilds, "served from Redis again");
}

#[tokio::test]
async fn availability_comes_from_the_primary_even_when_the_read_pool_lags() {
    // The read pool points at a copy of the database taken now: a follower that never catches up.
    let primary = fresh_database().await;
    let replica = fresh_database().await;
    let config = test_config(&primary, &[("BOXOFFICE_READ_DATABASE_URL", &database_url(&replica))]);
    let app = TestApp::spawn_on(&primary, config).await;
    let (showtime, region, _) = future_showtime(&app).await;
    claim(&app, showtime, &region, &["G1"], None).await;
    let (_, map) = seat_map(&app, showtime).await;
    assert!(!available(&map, "G1"), "the claim exists only on the primary");

    // A showtime the replica does not have yet is still found (by-id lookups fall back to the primary).
    let (_, token) = app.admin().await;
    let theater = crate::catalog_admin::new_theater(&app, &token, "Lagging Replica Cinema").await;
    let created = crate::catalog_admin::new_showtime(&app, &token, &theater, 1, 30).await;
    let response = app.post_json("/showtimes", &created, Some(&token)).await;
    let body = expect_status(response, StatusCode::CREATED).await;
    let id = body["id"].as_str().expect("id");
    get_ok(&app, &format!("/showtimes/{id}")).await;
    let (_, map) = seat_map(&app, id.parse().expect("uuid")).await;
    assert_eq!(map["totals"]["available"], 30);
}

#[tokio::test]
async fn cache_results_are_counted() {
    // A recorder of this test's own (the test and the server share one thread): the counts are this test's.
    let recorder = PrometheusBuilder::new().build_recorder();
    let samples = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app = TestApp::spawn().await;
    let (showtime, _, _) = future_showtime(&app).await;
    seat_map(&app, showtime).await;
    seat_map(&app, showtime).await;
    let text = samples.render();
    let count = |result: &str| {
        sum_of(&text, "boxoffice_cache_requests_total", &["cache=\"seats\"", &format!("result=\"{result}\"")])
    };
    assert_eq!((count("miss"), count("hit")), (1.0, 1.0), "{text}");
}

#[tokio::test]
async fn a_started_or_canceled_showtime_says_so_and_shows_no_seat_available() {
    let app = TestApp::spawn().await;
    let (started, _, _) = future_showtime(&app).await;
    let db = app.db().await;
    let canceled: Uuid = db
        .query_one(
            "SELECT id FROM showtimes WHERE status = 'scheduled' AND start_time > now() AND id <> $1 LIMIT 1",
            &[&started],
        )
        .await
        .expect("another showtime")
        .get(0);
    db.execute(
        "UPDATE showtimes SET start_time = now() - INTERVAL '5 minutes', end_time = now() + INTERVAL '2 hours' WHERE id = $1",
        &[&started],
    )
    .await
    .expect("start it");
    db.execute("UPDATE showtimes SET status = 'canceled' WHERE id = $1", &[&canceled]).await.expect("cancel it");

    // Before: a started showtime's map said `scheduled` with every seat available, while holds were refused.
    for (showtime, status) in [(started, "started"), (canceled, "canceled")] {
        let (etag, map) = seat_map(&app, showtime).await;
        assert_eq!(map["status"], status, "{map}");
        assert_eq!(map["totals"]["available"], 0, "{status}: {}", map["totals"]);
        assert!(seats(&map).iter().all(|(_, available)| !available), "{status}: every seat unavailable");
        let detail = get_ok(&app, &format!("/showtimes/{showtime}")).await;
        assert_eq!(detail["status"], status);
        let (again, _) = seat_map(&app, showtime).await;
        assert_eq!(again, etag, "{status}: a stable ETag");
    }
}

/// Polls `check` until it holds or `deadline` has passed (no fixed sleep: it returns as soon as it holds).
async fn eventually(deadline: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `showtime`'s map on `app` until one read is answered from the pod's memory (the subscription is up).
async fn warm_up(app: &TestApp, showtime: Uuid) {
    let warm = app.state.catalog.caches.seats.warm().clone();
    let served = warm.served();
    let warmed = eventually(Duration::from_secs(10), async || {
        seat_map(app, showtime).await;
        warm.served() > served
    })
    .await;
    assert!(warmed, "the seat map is never served from memory");
}

#[tokio::test]
async fn a_change_on_one_pod_reaches_the_memory_of_another_through_pubsub() {
    // A long TTL: only the change message can make pod B drop what it holds in memory.
    let ttl = [("BOXOFFICE_SEATMAP_TTL_MS", "60000")];
    let a = TestApp::spawn_with(&ttl).await;
    let b = TestApp::spawn_on(&a.db_name, test_config(&a.db_name, &ttl)).await;
    let (showtime, region, _) = future_showtime(&a).await;
    warm_up(&b, showtime).await;
    let (_, before) = seat_map(&b, showtime).await;
    assert!(available(&before, "H4"));
    let warm_b = b.state.catalog.caches.seats.warm().clone();
    assert!(warm_b.holds(ShowtimeId(showtime)));

    // Pod A commits a claim and invalidates, as booking does after a hold; B is not asked anything meanwhile.
    claim(&a, showtime, &region, &["H4"], Some("10 minutes")).await;
    a.state.catalog.caches.seats.invalidate(ShowtimeId(showtime));
    let dropped = eventually(Duration::from_secs(5), async || !warm_b.holds(ShowtimeId(showtime))).await;
    assert!(dropped, "pod B never learned of pod A's change");
    let (_, after) = seat_map(&b, showtime).await;
    assert!(!available(&after, "H4"), "pod B serves the map from before the change");
    // And B serves the new map from memory again.
    warm_up(&b, showtime).await;
    let (_, warm) = seat_map(&b, showtime).await;
    assert!(!available(&warm, "H4"));
}

/// A Redis server of this test's own on port 19150 (its pub/sub clients are killed; the shared one's must not be).
struct OwnRedis(std::process::Child);

impl OwnRedis {
    async fn start() -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", "19150", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        let up = eventually(Duration::from_secs(10), async || {
            redis::Client::open("redis://127.0.0.1:19150").expect("url").get_connection().is_ok()
        })
        .await;
        assert!(up, "redis-server on 19150 did not start");
        Self(child)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_pod_that_loses_its_subscription_reads_through_redis_until_it_has_resubscribed() {
    let _redis = OwnRedis::start().await;
    let config = [("BOXOFFICE_REDIS_URL", "redis://127.0.0.1:19150"), ("BOXOFFICE_SEATMAP_TTL_MS", "60000")];
    let a = TestApp::spawn_with(&config).await;
    let b = TestApp::spawn_on(&a.db_name, test_config(&a.db_name, &config)).await;
    let (showtime, region, _) = future_showtime(&a).await;
    warm_up(&b, showtime).await;
    let warm_b = b.state.catalog.caches.seats.warm().clone();

    // Every subscriber's connection is killed: what B holds may miss messages, so it is dropped at once.
    let mut admin = redis::Client::open("redis://127.0.0.1:19150").expect("url").get_connection().expect("connect");
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query(&mut admin).expect("kill");
    assert!(killed >= 1, "no subscriber to kill");
    let dropped = eventually(Duration::from_secs(5), async || !warm_b.holds(ShowtimeId(showtime))).await;
    assert!(dropped, "pod B kept its in-memory map after losing the subscription");
    // A change B may not hear of: B's next read is current all the same.
    claim(&a, showtime, &region, &["J6"], Some("10 minutes")).await;
    let cache_a = a.state.catalog.caches.seats.clone();
    cache_a.invalidate(ShowtimeId(showtime));
    cache_a.settled([ShowtimeId(showtime)]).await;
    let (_, after) = seat_map(&b, showtime).await;
    assert!(!available(&after, "J6"), "pod B served a map older than the change");
    // Resubscribed, B serves from memory again, and what it serves is current.
    warm_up(&b, showtime).await;
    let (_, warm) = seat_map(&b, showtime).await;
    assert!(!available(&warm, "J6"));
}
