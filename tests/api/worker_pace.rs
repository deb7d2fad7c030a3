//! The worker keeps pace (issue 23): each job runs on its own, so a sweep of a large backlog of lapsed holds does not
//! hold back the mails or the payment reconciler; a full outbox batch is followed at once by the next; two workers
//! on one outbox send each mail once; a worker killed mid-batch leaves its events to another after the lease.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use boxoffice::notify::{DispatchReport, Dispatcher};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::booking::{customers, finalize, held, hold, id_of, show, status_of};
use crate::helpers::{TestApp, expect_problem, expect_status};

fn smtp_url() -> String {
    std::env::var("BOXOFFICE_TEST_SMTP_URL").expect("BOXOFFICE_TEST_SMTP_URL is not set: run `make test`")
}

/// How many messages of the sink carry each Message-ID (addressed to `email`).
fn message_ids_to(email: &str) -> HashMap<String, usize> {
    let dir = std::path::PathBuf::from(std::env::var("BOXOFFICE_TEST_MAILDIR").expect("BOXOFFICE_TEST_MAILDIR"));
    let mut found = HashMap::new();
    for entry in std::fs::read_dir(dir.join("new")).expect("the sink's maildir").flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
        if text.lines().any(|l| l.starts_with("To: ") && l.contains(&format!("<{email}>"))) {
            let id = text.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap_or_default().to_owned();
            *found.entry(id).or_default() += 1;
        }
    }
    found
}

/// `count` reserved bookings of `user`, one seat each on the first showtimes of the demo data, whose holds lapsed a
/// minute ago and whose claims are still in place: what an on-sale leaves behind for the sweeper.
async fn lapsed_backlog(app: &TestApp, user: Uuid, count: i64) {
    let inserted = app
        .db()
        .await
        .execute(
            "WITH held AS (
                 INSERT INTO bookings (region, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                                       hold_expires_at, created_at)
                 SELECT s.region, $1, s.id, 'reserved',
                        jsonb_build_array(jsonb_build_object('label', st.seat_label, 'kind', st.kind, 'price', 1250)),
                        1, 1250, 'USD', now() - INTERVAL '1 minute', now() - INTERVAL '11 minutes'
                 FROM (SELECT region, id, theater_id, screen_number FROM showtimes
                       WHERE start_time > now() + INTERVAL '1 day' ORDER BY start_time, id OFFSET 50 LIMIT 400) s
                 JOIN seats st ON st.region = s.region AND st.theater_id = s.theater_id
                              AND st.screen_number = s.screen_number
                 LIMIT $2
                 RETURNING region, id, showtime_id, seats->0->>'label' AS label, hold_expires_at
             )
             INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
             SELECT region, showtime_id, label, id, hold_expires_at FROM held",
            &[&user, &count],
        )
        .await
        .expect("lapsed holds");
    assert_eq!(i64::try_from(inserted).expect("count"), count, "the demo data has room for the backlog");
}

async fn lapsed_left(app: &TestApp) -> i64 {
    app.db()
        .await
        .query_one("SELECT count(*) FROM bookings WHERE status = 'reserved' AND hold_expires_at < now()", &[])
        .await
        .expect("count")
        .get(0)
}

/// Polls `done` every 20 ms until it holds, failing after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_sweep_over_a_large_backlog_delays_neither_the_mails_nor_the_reconciler() {
    // One hold expired per statement: the sweep of the backlog takes thousands of transactions, seconds at least.
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_PAYMENT_TIMEOUT_MS", "200"),
        ("BOXOFFICE_RECONCILE_AFTER_SECS", "1"),
        ("BOXOFFICE_RECONCILE_INTERVAL_SECS", "1"),
        ("BOXOFFICE_SWEEP_INTERVAL_SECS", "1"),
        ("BOXOFFICE_SWEEP_BATCH", "1"),
        ("BOXOFFICE_SWEEP_MAX_BATCHES", "5"),
        ("BOXOFFICE_OUTBOX_INTERVAL_MS", "200"),
    ])
    .await;
    let (user, token) = app.customer().await;
    let show = show(&app, 0).await;
    // A payment whose answer was lost: the reconciler's work.
    let unanswered = id_of(&held(&app, &token, show.id, &show.standard(1, 1)).await);
    expect_problem(
        finalize(&app, Some(&token), &unanswered, "tok_timeout", None).await,
        StatusCode::GATEWAY_TIMEOUT,
        "payment-timeout",
    )
    .await;
    lapsed_backlog(&app, user, 20_000).await;
    let backlog = lapsed_left(&app).await;

    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(boxoffice::worker::run(
        app.state.db.clone(),
        app.state.bookings.clone(),
        Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher"),
        app.state.config.worker,
        shutdown.clone(),
    ));
    // The sweep is under way ...
    eventually(Duration::from_secs(30), "the sweep starts", || async { lapsed_left(&app).await < backlog }).await;
    // ... when a booking is paid: its confirmation goes out (to the log: no SMTP server here) within a few of the
    // dispatcher's intervals, and the payment whose answer was lost is settled, both while lapsed holds are left.
    let paid = id_of(&held(&app, &token, show.id, &show.standard(0, 1)).await);
    expect_status(finalize(&app, Some(&token), &paid, "tok_visa", None).await, StatusCode::OK).await;
    let confirmed = || async {
        app.db()
            .await
            .query_one(
                "SELECT count(*) FROM outbox WHERE payload->>'bookingId' = $1 AND sent_at IS NOT NULL",
                &[&paid.to_string()],
            )
            .await
            .expect("outbox")
            .get::<_, i64>(0)
            == 1
    };
    eventually(Duration::from_secs(3), "the confirmation is sent", confirmed).await;
    let left_at_mail = lapsed_left(&app).await;
    eventually(Duration::from_secs(5), "the lost payment is reconciled", || async {
        status_of(&app, &unanswered).await == "paid"
    })
    .await;
    let left_at_reconcile = lapsed_left(&app).await;
    shutdown.cancel();
    worker.await.expect("the worker stops on shutdown");

    assert!(left_at_mail > 0, "the sweep was over before the mail went out: the test proves nothing");
    assert!(left_at_reconcile > 0, "the sweep was over before the reconciler ran: the test proves nothing");
    assert!(lapsed_left(&app).await < backlog, "the sweeper expired holds meanwhile");
}

#[tokio::test]
async fn a_full_outbox_batch_is_followed_at_once_and_two_workers_send_each_mail_once() {
    // An interval of an hour: only a worker that goes on after a full batch empties the outbox in this test.
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_SMTP_URL", &smtp_url()),
        ("BOXOFFICE_OUTBOX_BATCH", "20"),
        ("BOXOFFICE_OUTBOX_CONCURRENCY", "4"),
        ("BOXOFFICE_OUTBOX_INTERVAL_MS", "3600000"),
    ])
    .await;
    let email = paid_customer(&app).await;
    let db = app.db().await;
    db.execute(
        "INSERT INTO outbox (region, id, topic, payload)
         SELECT region, gen_random_uuid(), topic, payload FROM outbox, generate_series(1, 299)",
        &[],
    )
    .await
    .expect("events");

    let shutdown = CancellationToken::new();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(boxoffice::worker::run(
                app.state.db.clone(),
                app.state.bookings.clone(),
                Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher"),
                app.state.config.worker,
                shutdown.clone(),
            ))
        })
        .collect();
    let unsent = || async {
        app.db()
            .await
            .query_one("SELECT count(*) FROM outbox WHERE sent_at IS NULL", &[])
            .await
            .expect("n")
            .get::<_, i64>(0)
    };
    eventually(Duration::from_secs(60), "the outbox empties", || async { unsent().await == 0 }).await;
    shutdown.cancel();
    for worker in workers {
        worker.await.expect("the worker stops on shutdown");
    }

    let ids: Vec<Uuid> = db.query("SELECT id FROM outbox", &[]).await.expect("ids").iter().map(|r| r.get(0)).collect();
    assert_eq!(ids.len(), 300);
    let mails = message_ids_to(&email);
    for id in &ids {
        let copies = mails.iter().find(|(m, _)| m.contains(&id.to_string())).map(|(_, n)| *n);
        assert_eq!(copies, Some(1), "event {id}: mailed once");
    }
    assert_eq!(mails.len(), 300);
    let retried: i64 = db.query_one("SELECT count(*) FROM outbox WHERE attempts <> 1", &[]).await.expect("n").get(0);
    assert_eq!(retried, 0, "each event claimed once");
}

#[tokio::test]
async fn a_worker_killed_mid_batch_leaves_its_events_to_another_after_the_lease() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_SMTP_URL", &smtp_url()), ("BOXOFFICE_OUTBOX_BATCH", "50")]).await;
    let email = paid_customer(&app).await;
    let db = app.db().await;
    db.execute(
        "INSERT INTO outbox (region, id, topic, payload)
         SELECT region, gen_random_uuid(), topic, payload FROM outbox, generate_series(1, 9)",
        &[],
    )
    .await
    .expect("events");
    // A mail server that accepts connections and never answers: the first worker is stuck mid-batch.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_url = format!("smtp://{}", silent.local_addr().expect("addr"));
    let held_open = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let stuck_config = boxoffice::config::MailConfig {
        smtp_url: Some(boxoffice::config::Secret::new(&silent_url)),
        ..app.state.config.mail.clone()
    };
    let stuck = Dispatcher::new(app.state.db.clone(), &stuck_config).expect("dispatcher");
    let killed = tokio::spawn(async move { stuck.dispatch().await });
    let claimed = || async {
        app.db()
            .await
            .query_one("SELECT count(*) FROM outbox WHERE attempts = 1 AND sent_at IS NULL", &[])
            .await
            .expect("n")
            .get::<_, i64>(0)
    };
    eventually(Duration::from_secs(10), "the first worker claims the batch", || async { claimed().await == 10 }).await;
    killed.abort();
    assert!(killed.await.expect_err("killed").is_cancelled());
    held_open.abort();

    // While the lease lasts, the other worker leaves the events alone.
    let other = Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher");
    assert_eq!(other.dispatch().await.expect("dispatch"), DispatchReport::default());
    let lease_left: f64 = db
        .query_one("SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now())::FLOAT8 FROM outbox", &[])
        .await
        .expect("lease")
        .get(0);
    assert!(lease_left > 0.0, "leased for {lease_left} s more");
    assert!(message_ids_to(&email).is_empty());

    // The lease ends (moved into the past rather than waited for): the other worker sends every event, once.
    db.execute("UPDATE outbox SET next_attempt_at = now()", &[]).await.expect("lease over");
    assert_eq!(other.dispatch().await.expect("dispatch"), DispatchReport { sent: 10, ..DispatchReport::default() });
    let mails = message_ids_to(&email);
    assert_eq!(mails.len(), 10, "{mails:?}");
    assert!(mails.values().all(|n| *n == 1), "{mails:?}");
    let rows: Vec<(bool, i32)> = db
        .query("SELECT sent_at IS NOT NULL, attempts FROM outbox", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(rows.iter().all(|r| *r == (true, 2)), "{rows:?}");
}

/// A new customer with one paid booking (its confirmation is in the outbox); returns their address.
async fn paid_customer(app: &TestApp) -> String {
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    expect_status(app.register(&email, "correct horse battery").await, StatusCode::CREATED).await;
    let body = expect_status(app.login(&email, "correct horse battery").await, StatusCode::OK).await;
    let token = body["accessToken"].as_str().expect("token").to_owned();
    let show = show(app, 0).await;
    let booking = id_of(&held(app, &token, show.id, &show.standard(0, 2)).await);
    expect_status(finalize(app, Some(&token), &booking, "tok_visa", None).await, StatusCode::OK).await;
    email
}

/// The sweep keeps pace with holds made at the same time on the same showtimes, and on the very seats of its
/// backlog (issue 23's drain: a sweep of 2,000 holds in one SERIALIZABLE statement lost every race against the
/// holds, was cancelled as the pivot of a read/write cycle until its attempts ran out, and expired 639 holds/s).
/// Every sweep call must succeed and the backlog must be gone within a few of them; the holds that took over claims
/// of the backlog keep them (the sweep never releases a claim taken over by a new hold).
#[tokio::test]
async fn the_sweep_expires_its_backlog_while_holds_take_over_its_seats() {
    const BACKLOG: i64 = 4_000;
    const HOLDERS: usize = 8;
    const SWEEP_BATCH: i64 = 2_000;
    const SWEEP_CALLS: u32 = 8;
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let (user, _) = app.customer().await;
    lapsed_backlog(&app, user, BACKLOG).await;
    let claims: Vec<(Uuid, String)> = app
        .db()
        .await
        .query(
            "SELECT bs.showtime_id, bs.seat_label FROM booking_seats bs
             JOIN bookings b ON b.region = bs.region AND b.id = bs.booking_id
             WHERE b.user_id = $1 ORDER BY bs.showtime_id, bs.seat_label",
            &[&user],
        )
        .await
        .expect("claims")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // The backlog's seats in groups of the per-user cap, each group to a customer of its own on its showtime.
    let cap = app.state.bookings.limits().max_seats_per_user_showtime;
    let buyers = customers(&app, 200).await;
    let groups: Vec<(String, Vec<(Uuid, String)>)> =
        claims.chunks(cap).enumerate().map(|(g, seats)| (buyers[g % buyers.len()].1.clone(), seats.to_vec())).collect();
    let groups = std::sync::Arc::new(groups);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let created = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (first_tx, mut first_rx) = tokio::sync::mpsc::channel::<()>(HOLDERS);
    let holders: Vec<_> = (0..HOLDERS)
        .map(|t| {
            let (app, groups, stop, created, first_tx) =
                (app.clone(), groups.clone(), stop.clone(), created.clone(), first_tx.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                'all: for (token, seats) in groups.iter().skip(t).step_by(HOLDERS) {
                    for (showtime, label) in seats {
                        if stop.load(std::sync::atomic::Ordering::SeqCst) {
                            break 'all;
                        }
                        let response = hold(&app, token, *showtime, std::slice::from_ref(label), None).await;
                        let status = response.status();
                        let body: serde_json::Value = response.json().await.unwrap_or_default();
                        assert_eq!(status, StatusCode::CREATED, "a lapsed seat is taken over: {body}");
                        mine.push(id_of(&body));
                        created.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let _ = first_tx.try_send(());
                    }
                }
                mine
            })
        })
        .collect();
    drop(first_tx);
    // The sweep starts once holds are committing, and runs while they go on.
    first_rx.recv().await.expect("a hold was made");
    let mut calls = 0;
    let mut expired = 0;
    let backlog_left = || async {
        app.db()
            .await
            .query_one("SELECT count(*) FROM bookings WHERE user_id = $1 AND status = 'reserved'", &[&user])
            .await
            .expect("count")
            .get::<_, i64>(0)
    };
    while backlog_left().await > 0 {
        assert!(calls < SWEEP_CALLS, "{calls} sweeps of {SWEEP_BATCH} left lapsed holds: the sweep does not keep pace");
        let report = app.state.bookings.sweep_lapsed_holds(SWEEP_BATCH, 1).await.unwrap_or_else(|e| {
            panic!(
                "sweep {calls} failed while holds ran ({} made): {e:?}",
                created.load(std::sync::atomic::Ordering::SeqCst)
            )
        });
        expired += report.expired;
        calls += 1;
    }
    let during = created.load(std::sync::atomic::Ordering::SeqCst);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut new_holds = Vec::new();
    for holder in holders {
        new_holds.extend(holder.await.expect("holder"));
    }
    eprintln!("sweep: {expired} expired in {calls} calls; {during} holds made meanwhile, {} in all", new_holds.len());
    assert!(expired > 0, "the sweep expired holds itself");
    assert!(
        during > 0 && (during as usize) < claims.len(),
        "holds ran during the whole sweep: the test proves nothing"
    );
    // Every new hold is live and keeps its claim: the sweep released no claim that a hold had taken over.
    let db = app.db().await;
    let kept: i64 = db
        .query_one(
            "SELECT count(*) FROM bookings b JOIN booking_seats bs ON bs.region = b.region AND bs.booking_id = b.id
             WHERE b.id = ANY($1) AND b.status = 'reserved' AND b.hold_expires_at > now()",
            &[&new_holds],
        )
        .await
        .expect("kept")
        .get(0);
    assert_eq!(usize::try_from(kept).expect("count"), new_holds.len(), "every new hold keeps its seat");
}
