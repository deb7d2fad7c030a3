//! The outbox dispatcher against a real SMTP server (scripts/mailsink.py, started by `scripts/stack.sh up test`):
//! confirmations and cancellations are mailed once, an unreachable server puts events back, a refused recipient is
//! not retried, and two dispatchers at once never send an event twice.

use std::collections::HashMap;
use std::path::PathBuf;

use boxoffice::config::MailConfig;
use boxoffice::notify::{DispatchReport, Dispatcher};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::booking::{self, id_of};
use crate::helpers::{TestApp, expect_status};

pub(crate) fn smtp_url() -> String {
    std::env::var("BOXOFFICE_TEST_SMTP_URL").expect("BOXOFFICE_TEST_SMTP_URL is not set: run `make test`")
}

fn maildir() -> PathBuf {
    PathBuf::from(std::env::var("BOXOFFICE_TEST_MAILDIR").expect("BOXOFFICE_TEST_MAILDIR is not set: run `make test`"))
        .join("new")
}

/// A message with its header fields unfolded (RFC 5322 §2.2.3: a line break followed by white space is removed):
/// the mail library folds a header longer than 76 characters, a Subject with a long movie title among them.
fn unfold_headers(message: &str) -> String {
    let (head, body) = message.split_once("\r\n\r\n").or_else(|| message.split_once("\n\n")).unwrap_or((message, ""));
    let head = head.replace("\r\n ", " ").replace("\r\n\t", "\t").replace("\n ", " ").replace("\n\t", "\t");
    format!("{head}\n\n{body}")
}

/// The messages in the sink addressed to `email`, by Message-ID, with their header fields unfolded.
pub(crate) fn mails_to(email: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for entry in std::fs::read_dir(maildir()).expect("the sink's maildir").flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
        let text = unfold_headers(&text);
        let to_line = text.lines().find(|l| l.starts_with("To: ")).unwrap_or_default();
        if to_line.contains(&format!("<{email}>")) {
            let id = text.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap_or_default().to_owned();
            found.insert(id, text);
        }
    }
    found
}

fn mail_config(app: &TestApp, smtp_url: &str) -> MailConfig {
    MailConfig { smtp_url: Some(boxoffice::config::Secret::new(smtp_url)), ..app.state.config.mail.clone() }
}

/// A customer with `email`, and a booking of theirs paid with `tok_visa`.
async fn paid_booking(app: &TestApp, email: &str) -> (Uuid, String) {
    expect_status(app.register(email, "correct horse battery").await, StatusCode::CREATED).await;
    let body: serde_json::Value = expect_status(app.login(email, "correct horse battery").await, StatusCode::OK).await;
    let token = body["accessToken"].as_str().expect("token").to_owned();
    let show = booking::show(app, 0).await;
    let held = booking::held(app, &token, show.id, &show.standard(0, 2)).await;
    let id = id_of(&held);
    expect_status(booking::finalize(app, Some(&token), &id, "tok_visa", None).await, StatusCode::OK).await;
    (id, token)
}

/// (sent_at is set, attempts, last_error) of the outbox events of `booking`, oldest first.
async fn outbox_of(app: &TestApp, booking: &Uuid) -> Vec<(bool, i32, Option<String>)> {
    let booking = booking.to_string();
    app.db()
        .await
        .query(
            "SELECT sent_at IS NOT NULL, attempts, last_error FROM outbox WHERE payload->>'bookingId' = $1
             ORDER BY created_at",
            &[&booking],
        )
        .await
        .expect("outbox rows")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn a_paid_booking_is_confirmed_by_mail_once_and_its_cancellation_mailed_too() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_SMTP_URL", &smtp_url())]).await;
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    let (booking, token) = paid_booking(&app, &email).await;
    let dispatcher = Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher");

    let report = dispatcher.dispatch().await.expect("dispatch");
    assert_eq!(report, DispatchReport { sent: 1, ..DispatchReport::default() });
    assert_eq!(outbox_of(&app, &booking).await, [(true, 1, None)]);
    let mails = mails_to(&email);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = mails.values().next().expect("one mail");
    let title: String = app
        .db()
        .await
        .query_one(
            "SELECT m.title FROM bookings b JOIN showtimes s ON s.region = b.region AND s.id = b.showtime_id
             JOIN movies m ON m.id = s.movie_id WHERE b.id = $1",
            &[&booking],
        )
        .await
        .expect("title")
        .get(0);
    // Headers and body are MIME-encoded when they hold non-ASCII text (titles, theater names): compare ASCII ones.
    assert!(mail.contains("Subject: Your tickets: "), "{mail}");
    if title.is_ascii() {
        assert!(mail.contains(&format!("Subject: Your tickets: {title}, ")), "{mail}");
    }
    assert!(mail.contains(&booking.to_string()) && mail.contains("Total:"), "{mail}");

    // Nothing is due any more: a second run sends nothing.
    assert_eq!(dispatcher.dispatch().await.expect("dispatch").total(), 0);
    assert_eq!(mails_to(&email).len(), 1);

    // Canceling the paid booking refunds it and announces that too.
    expect_status(booking::cancel(&app, Some(&token), &booking, None).await, StatusCode::OK).await;
    assert_eq!(dispatcher.dispatch().await.expect("dispatch").sent, 1);
    let mails = mails_to(&email);
    assert_eq!(mails.len(), 2);
    assert!(mails.values().any(|m| m.contains("has been refunded")), "{mails:#?}");
}

#[tokio::test]
async fn an_unreachable_mail_server_puts_the_event_back_and_it_goes_out_later() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_SMTP_URL", &smtp_url())]).await;
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    let (booking, _) = paid_booking(&app, &email).await;
    // Port 9 (discard) is closed on loopback here: every connection is refused.
    let down = Dispatcher::new(app.state.db.clone(), &mail_config(&app, "smtp://127.0.0.1:9")).expect("dispatcher");

    assert_eq!(down.dispatch().await.expect("dispatch"), DispatchReport { failed: 1, ..DispatchReport::default() });
    let rows = outbox_of(&app, &booking).await;
    let [(false, 1, Some(error))] = &rows[..] else { panic!("{rows:?}") };
    assert!(!error.is_empty());
    // Backed off: not due again at once, even for a working server.
    let up = Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher");
    assert_eq!(up.dispatch().await.expect("dispatch").total(), 0);
    let wait: f64 = app
        .db()
        .await
        .query_one("SELECT EXTRACT(EPOCH FROM next_attempt_at - now())::FLOAT8 FROM outbox", &[])
        .await
        .expect("next attempt")
        .get(0);
    assert!((20.0..=30.0).contains(&wait), "retried in {wait} s");

    app.db().await.execute("UPDATE outbox SET next_attempt_at = now()", &[]).await.expect("due now");
    assert_eq!(up.dispatch().await.expect("dispatch").sent, 1);
    assert_eq!(outbox_of(&app, &booking).await, [(true, 2, None)]);
    assert_eq!(mails_to(&email).len(), 1);
}

#[tokio::test]
async fn a_recipient_refused_for_good_is_not_retried() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_SMTP_URL", &smtp_url())]).await;
    // The sink answers 550 for recipients whose local part starts with "reject".
    let email = format!("reject-{}@example.com", Uuid::new_v4().simple());
    let (booking, _) = paid_booking(&app, &email).await;
    let dispatcher = Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher");

    assert_eq!(dispatcher.dispatch().await.expect("dispatch"), DispatchReport { rejected: 1, ..Default::default() });
    let rows = outbox_of(&app, &booking).await;
    let [(true, 1, Some(error))] = &rows[..] else { panic!("{rows:?}") };
    assert!(error.contains("550"), "{error}");
    app.db().await.execute("UPDATE outbox SET next_attempt_at = now() - INTERVAL '1 hour'", &[]).await.expect("ok");
    assert_eq!(dispatcher.dispatch().await.expect("dispatch").total(), 0);
    assert!(mails_to(&email).is_empty());
}

#[tokio::test]
async fn two_dispatchers_at_once_send_every_event_exactly_once() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_SMTP_URL", &smtp_url()), ("BOXOFFICE_OUTBOX_BATCH", "3")]).await;
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    paid_booking(&app, &email).await;
    // 29 more events like the confirmation, each with its own id.
    let db = app.db().await;
    db.execute(
        "INSERT INTO outbox (region, id, topic, payload)
         SELECT region, gen_random_uuid(), topic, payload FROM outbox, generate_series(1, 29)",
        &[],
    )
    .await
    .expect("events");
    let ids: Vec<Uuid> = db.query("SELECT id FROM outbox", &[]).await.expect("ids").iter().map(|r| r.get(0)).collect();
    assert_eq!(ids.len(), 30);

    let a = Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher");
    let b = Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher");
    let mut sent = 0;
    for _ in 0..30 {
        let (ra, rb) = tokio::join!(a.dispatch(), b.dispatch());
        let (ra, rb) = (ra.expect("dispatch a"), rb.expect("dispatch b"));
        assert_eq!((ra.failed, rb.failed, ra.skipped + rb.skipped), (0, 0, 0));
        sent += ra.sent + rb.sent;
        if ra.total() + rb.total() == 0 {
            break;
        }
    }
    assert_eq!(sent, 30);
    let mails = mails_to(&email);
    for id in &ids {
        assert!(mails.keys().any(|m| m.contains(&id.to_string())), "no mail for event {id}");
    }
    assert_eq!(mails.len(), 30, "each event mailed once");
    let unsent: i64 = db
        .query_one("SELECT count(*) FROM outbox WHERE sent_at IS NULL OR attempts <> 1", &[])
        .await
        .expect("n")
        .get(0);
    assert_eq!(unsent, 0);
}

#[test]
fn folded_header_fields_are_unfolded_and_the_body_is_kept() {
    let folded = "To: <a@example.com>\r\nSubject: Your tickets: A Title Long Enough To Be Folded By The Mail Library,\r\n Theater\r\n\r\nBody line\r\n indented body line\r\n";
    let text = unfold_headers(folded);
    assert!(
        text.contains("Subject: Your tickets: A Title Long Enough To Be Folded By The Mail Library, Theater\n"),
        "{text}"
    );
    assert!(text.ends_with("Body line\r\n indented body line\r\n"), "{text}");
}
