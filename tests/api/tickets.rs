//! Tickets and the door (issue #21): a paid booking's tickets verify offline with the published key; forged and
//! tampered tokens are refused; two scanners racing for one ticket admit it once; a canceled booking's ticket is
//! refused; an offline scanner's upload is settled, first scan by scan time winning; the confirmation mail's QR
//! codes decode (rqrr) to the tickets and its calendar entry parses (ical).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::helpers::booking::{self, Show, id_of};
use crate::helpers::{TestApp, expect_problem, expect_status};

/// A customer's paid booking of `seats` standard seats of `show` (skipping `skip`): (booking id, customer token).
async fn paid(app: &TestApp, show: &Show, skip: usize, seats: usize) -> (Uuid, String) {
    let (_, token) = app.customer().await;
    let held = booking::held(app, &token, show.id, &show.standard(skip, seats)).await;
    let id = id_of(&held);
    expect_status(booking::finalize(app, Some(&token), &id, "tok_visa", None).await, StatusCode::OK).await;
    (id, token)
}

/// The tickets of a booking as its owner reads them.
async fn tickets_of(app: &TestApp, token: &str, booking: Uuid) -> Vec<Value> {
    let body = expect_status(app.get(&format!("/bookings/{booking}/tickets"), Some(token)).await, StatusCode::OK).await;
    body["tickets"].as_array().expect("tickets").clone()
}

fn token_of(ticket: &Value) -> String {
    ticket["token"].as_str().expect("token").to_owned()
}

async fn scan(app: &TestApp, staff: &str, body: Value) -> reqwest::Response {
    app.post_json("/checkins", &body, Some(staff)).await
}

/// Verifies a token the way an offline scanner does, from the published JWK alone (not the service's code).
fn verify_offline(keys: &Value, token: &str) -> (String, Uuid, Uuid, String) {
    let bytes = URL_SAFE_NO_PAD.decode(token).expect("base64url");
    let (payload, signature) = bytes.split_at(bytes.len() - 64);
    let kid_len = usize::from(payload[1]);
    let kid = String::from_utf8(payload[2..2 + kid_len].to_vec()).expect("kid");
    let rest = &payload[2 + kid_len..];
    let (showtime, booking) =
        (Uuid::from_slice(&rest[..16]).expect("uuid"), Uuid::from_slice(&rest[16..32]).expect("uuid"));
    let seat = String::from_utf8(rest[33..33 + usize::from(rest[32])].to_vec()).expect("seat");
    let jwk = keys["keys"].as_array().expect("keys").iter().find(|k| k["kid"] == kid.as_str()).expect("kid published");
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
    let x: [u8; 32] = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().expect("x")).expect("x").try_into().expect("32 bytes");
    let key = VerifyingKey::from_bytes(&x).expect("a public key");
    let message = [b"boxoffice-ticket-v1".as_slice(), payload].concat();
    key.verify_strict(&message, &Signature::from_slice(signature).expect("64 bytes")).expect("the signature verifies");
    (kid, showtime, booking, seat)
}

#[tokio::test]
async fn a_paid_booking_has_one_ticket_per_seat_that_verifies_offline_with_the_published_key() {
    let app = TestApp::spawn().await;
    let show = booking::show(&app, 0).await;
    let (booking_id, token) = paid(&app, &show, 0, 3).await;
    let keys = expect_status(app.get("/tickets/keys", None).await, StatusCode::OK).await;

    let tickets = tickets_of(&app, &token, booking_id).await;
    let mut seats: Vec<String> = Vec::new();
    for ticket in &tickets {
        let (kid, showtime, booking, seat) = verify_offline(&keys, &token_of(ticket));
        assert_eq!((kid.as_str(), showtime, booking), ("t1", show.id, booking_id));
        assert_eq!(ticket["seat"].as_str(), Some(seat.as_str()));
        assert!(ticket["qrSvg"].as_str().is_some_and(|svg| svg.contains("<svg")), "{ticket}");
        assert!(token_of(ticket).len() <= 160, "QR-sized token: {}", token_of(ticket));
        seats.push(seat);
    }
    seats.sort();
    let mut expected = show.standard(0, 3);
    expected.sort();
    assert_eq!(seats, expected);

    // A hold has no tickets yet.
    let held = booking::held(&app, &token, show.id, &show.standard(3, 1)).await;
    assert!(tickets_of(&app, &token, id_of(&held)).await.is_empty());
}

#[tokio::test]
async fn forged_and_tampered_tokens_are_refused_and_the_genuine_one_admitted() {
    let app = TestApp::spawn().await;
    let show = booking::show(&app, 0).await;
    let (booking_id, token) = paid(&app, &show, 0, 1).await;
    let (_, staff) = app.staff().await;
    let genuine = token_of(&tickets_of(&app, &token, booking_id).await[0]);
    let bytes = URL_SAFE_NO_PAD.decode(&genuine).expect("base64url");
    let edited = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut forged = bytes.clone();
        edit(&mut forged);
        URL_SAFE_NO_PAD.encode(forged)
    };
    let len = bytes.len();
    // Re-signed with a key of our own under the service's key id: a forger without the private key.
    let forger = {
        let mut forged = bytes[..len - 64].to_vec();
        forged[len - 65] ^= 1; // another seat label's last byte
        let message = [b"boxoffice-ticket-v1".as_slice(), &forged].concat();
        let signature = ed25519_dalek::Signer::sign(&SigningKey::from_bytes(&[9; 32]), &message);
        forged.extend_from_slice(&signature.to_bytes());
        URL_SAFE_NO_PAD.encode(forged)
    };
    let cases: Vec<(&str, String)> = vec![
        ("a bit flipped inside the signature", edited(&|b| b[len - 30] ^= 0x10)),
        ("a wrong key id", edited(&|b| b[3] = b'9')),
        ("a tampered seat label", edited(&|b| b[len - 65] ^= 1)),
        ("a tampered booking id", edited(&|b| b[20] ^= 0x80)),
        ("a truncated token", genuine[..genuine.len() - 4].to_owned()),
        ("re-signed by another key", forger),
        ("not base64url", "not a ticket!".to_owned()),
    ];
    for (what, forged) in cases {
        let problem = expect_problem(
            scan(&app, &staff, json!({"token": forged})).await,
            StatusCode::BAD_REQUEST,
            "ticket-invalid",
        )
        .await;
        assert!(problem.get("admission").is_none(), "{what}: {problem}");
    }
    let admitted = expect_status(scan(&app, &staff, json!({"token": genuine})).await, StatusCode::OK).await;
    assert_eq!(admitted["bookingId"], booking_id.to_string());
}

#[tokio::test]
async fn two_scanners_racing_for_one_ticket_admit_it_exactly_once_every_round() {
    let app = TestApp::spawn().await;
    let show = booking::show(&app, 0).await;
    let ((first, t1), (second, t2)) = (paid(&app, &show, 0, 8).await, paid(&app, &show, 8, 8).await);
    let mut tickets = tickets_of(&app, &t1, first).await;
    tickets.extend(tickets_of(&app, &t2, second).await);
    let (a, b) = (app.staff().await, app.staff().await);
    assert_eq!(tickets.len(), 16);
    for ticket in &tickets {
        let body = json!({"token": token_of(ticket), "theaterId": null});
        let (ra, rb) = tokio::join!(scan(&app, &a.1, body.clone()), scan(&app, &b.1, body.clone()));
        let mut answers = Vec::new();
        for (scanner, response) in [(a.0, ra), (b.0, rb)] {
            let status = response.status();
            answers.push((status, scanner, response.json::<Value>().await.expect("json")));
        }
        answers.sort_by_key(|(status, _, _)| *status);
        let [(won, winner, admitted), (lost, _, refused)] = answers.try_into().expect("two answers");
        assert_eq!((won, lost), (StatusCode::OK, StatusCode::CONFLICT), "{admitted} / {refused}");
        assert_eq!(refused["type"], "https://boxoffice.dev/problems/ticket-already-admitted");
        assert_eq!(refused["admission"]["admittedBy"], winner.to_string(), "the loser is told who admitted it");
        assert_eq!(refused["admission"]["admittedAt"], admitted["admission"]["admittedAt"]);
    }
    let admitted: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM tickets WHERE admitted_at IS NOT NULL", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(admitted, 16);
}

#[tokio::test]
async fn the_same_scanners_retry_gets_the_original_admission_and_another_door_a_409() {
    let app = TestApp::spawn().await;
    let show = booking::show(&app, 0).await;
    let (booking_id, token) = paid(&app, &show, 0, 1).await;
    let ticket = token_of(&tickets_of(&app, &token, booking_id).await[0]);
    let (scanner, staff) = app.staff().await;
    let (_, other) = app.staff().await;

    let count = |outcome: &str| {
        booking::counter(&app, "boxoffice_checkins_total", &[&format!("outcome=\"{outcome}\""), "mode=\"online\""])
    };
    let before = [count("admitted"), count("replayed"), count("already_admitted")];
    let first = expect_status(scan(&app, &staff, json!({"token": ticket})).await, StatusCode::OK).await;
    let retry = expect_status(scan(&app, &staff, json!({"token": ticket})).await, StatusCode::OK).await;
    assert_eq!((first["replayed"].as_bool(), retry["replayed"].as_bool()), (Some(false), Some(true)));
    assert_eq!(retry["admission"], first["admission"]);
    assert_eq!(first["admission"]["admittedBy"], scanner.to_string());
    let refused = expect_problem(
        scan(&app, &other, json!({"token": ticket})).await,
        StatusCode::CONFLICT,
        "ticket-already-admitted",
    )
    .await;
    assert_eq!(refused["admission"], first["admission"]);
    // Admissions by outcome (other tests run alongside in this process: at least ours).
    let after = [count("admitted"), count("replayed"), count("already_admitted")];
    assert!(before.iter().zip(after).all(|(b, a)| a >= b + 1.0), "{before:?} -> {after:?}");
}

#[tokio::test]
async fn a_canceled_bookings_ticket_is_gone_and_a_ticket_for_another_theater_is_refused() {
    let app = TestApp::spawn().await;
    let show = booking::show(&app, 0).await;
    let (booking_id, token) = paid(&app, &show, 0, 1).await;
    let (kept, kept_token) = paid(&app, &show, 1, 1).await;
    let canceled = token_of(&tickets_of(&app, &token, booking_id).await[0]);
    let valid = token_of(&tickets_of(&app, &kept_token, kept).await[0]);
    let (_, staff) = app.staff().await;
    expect_status(booking::cancel(&app, Some(&token), &booking_id, None).await, StatusCode::OK).await;

    expect_problem(scan(&app, &staff, json!({"token": canceled})).await, StatusCode::GONE, "ticket-canceled").await;
    assert!(tickets_of(&app, &token, booking_id).await.is_empty(), "a canceled booking shows no tickets");

    let theater: Uuid = app
        .db()
        .await
        .query_one("SELECT theater_id FROM showtimes WHERE id = $1", &[&show.id])
        .await
        .expect("theater")
        .get(0);
    let elsewhere = Uuid::new_v4();
    for body in [json!({"token": valid, "theaterId": elsewhere}), json!({"token": valid, "showtimeId": elsewhere})] {
        expect_problem(scan(&app, &staff, body).await, StatusCode::CONFLICT, "ticket-wrong-showtime").await;
    }
    let at_its_door = json!({"token": valid, "theaterId": theater, "showtimeId": show.id});
    let admitted = expect_status(scan(&app, &staff, at_its_door).await, StatusCode::OK).await;
    assert_eq!(admitted["admission"]["theaterId"], theater.to_string());
}

#[tokio::test]
async fn an_offline_upload_is_settled_first_scan_by_scan_time_winning_and_uploading_again_changes_nothing() {
    let app = TestApp::spawn().await;
    let show = booking::show(&app, 0).await;
    let (booking_id, token) = paid(&app, &show, 0, 2).await;
    let tickets = tickets_of(&app, &token, booking_id).await;
    let (one, two) = (token_of(&tickets[0]), token_of(&tickets[1]));
    let (online_id, online) = app.staff().await;
    let (offline_id, offline) = app.staff().await;

    // The offline scanner downloads the showtime's tickets and keys.
    let list =
        expect_status(app.get(&format!("/showtimes/{}/tickets", show.id), Some(&offline)).await, StatusCode::OK).await;
    assert_eq!(list["tickets"].as_array().map(Vec::len), Some(2));
    let keys: HashMap<String, Value> = list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| (k["kid"].as_str().expect("kid").to_owned(), k.clone()))
        .collect();
    assert!(keys.contains_key("t1"));

    // Ticket one is admitted online now; offline it was scanned an hour ago (first), and again ten minutes later.
    expect_status(scan(&app, &online, json!({"token": one})).await, StatusCode::OK).await;
    let at = |minutes_ago: i64| {
        (OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago)).format(&Rfc3339).expect("time")
    };
    let upload = json!({"scans": [
        {"token": one, "scannedAt": at(50)},
        {"token": two, "scannedAt": at(30)},
        {"token": one, "scannedAt": at(60)},
        {"token": "Zm9yZ2Vk", "scannedAt": at(20)},
    ]});
    for round in 0..2 {
        let settled =
            expect_status(app.post_json("/checkins/batch", &upload, Some(&offline)).await, StatusCode::OK).await;
        let results = settled["results"].as_array().expect("results");
        let outcomes: Vec<&str> = results.iter().map(|r| r["outcome"].as_str().expect("outcome")).collect();
        assert_eq!(outcomes, ["duplicate", "admitted", "admitted", "forged"], "round {round}: {settled}");
        assert_eq!(results[0]["admission"], results[2]["admission"], "the duplicate names the first scan");
        assert_eq!(results[2]["admission"]["admittedBy"], offline_id.to_string());
    }
    // The online scanner's later admission lost to the earlier offline scan; scanning again says so.
    let refused = expect_problem(
        scan(&app, &online, json!({"token": one})).await,
        StatusCode::CONFLICT,
        "ticket-already-admitted",
    )
    .await;
    assert_eq!(refused["admission"]["admittedBy"], offline_id.to_string());
    assert_ne!(online_id, offline_id);
}

/// A mail's MIME parts: (headers, decoded body) of each part of a multipart message.
fn mime_parts(message: &str) -> Vec<(String, Vec<u8>)> {
    let boundary = message
        .lines()
        .find_map(|l| l.split_once("boundary=").map(|(_, b)| b.trim_matches('"').to_owned()))
        .expect("a multipart mail");
    message
        .split(&format!("--{boundary}"))
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .filter_map(|part| {
            let part = part.replace("\r\n", "\n");
            let (head, body) = part.trim_start_matches('\n').split_once("\n\n")?;
            let bytes = if head.to_ascii_lowercase().contains("content-transfer-encoding: base64") {
                base64::engine::general_purpose::STANDARD.decode(body.split_whitespace().collect::<String>()).ok()?
            } else {
                body.as_bytes().to_vec()
            };
            Some((head.to_owned(), bytes))
        })
        .collect()
}

#[tokio::test]
async fn the_confirmation_mail_carries_each_ticket_as_a_qr_code_that_decodes_and_a_calendar_entry_that_parses() {
    let app = TestApp::spawn_with(&[("BOXOFFICE_SMTP_URL", &crate::mail::smtp_url())]).await;
    let show = booking::show(&app, 0).await;
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    expect_status(app.register(&email, "correct horse battery").await, StatusCode::CREATED).await;
    let login = expect_status(app.login(&email, "correct horse battery").await, StatusCode::OK).await;
    let token = login["accessToken"].as_str().expect("token").to_owned();
    let held = booking::held(&app, &token, show.id, &show.standard(0, 2)).await;
    let booking_id = id_of(&held);
    expect_status(booking::finalize(&app, Some(&token), &booking_id, "tok_visa", None).await, StatusCode::OK).await;
    let dispatcher =
        boxoffice::notify::Dispatcher::new(app.state.db.clone(), &app.state.config.mail).expect("dispatcher");
    assert_eq!(dispatcher.dispatch().await.expect("dispatch").sent, 1);

    let mails = crate::mail::mails_to(&email);
    let mail = mails.values().next().expect("the confirmation");
    let parts = mime_parts(mail);
    let mut decoded: Vec<String> = parts
        .iter()
        .filter(|(head, _)| head.contains("image/png"))
        .map(|(_, png)| {
            let mut reader = png::Decoder::new(png.as_slice()).read_info().expect("a PNG");
            let mut pixels = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut pixels).expect("a frame");
            let (w, h) = (info.width as usize, info.height as usize);
            let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
            let grids = image.detect_grids();
            assert_eq!(grids.len(), 1, "one QR code per ticket");
            grids[0].decode().expect("the QR code decodes").1
        })
        .collect();
    decoded.sort();
    let mut issued: Vec<String> = tickets_of(&app, &token, booking_id).await.iter().map(token_of).collect();
    issued.sort();
    assert_eq!(decoded, issued, "each seat's QR code is its ticket");

    let (_, ics) = parts.iter().find(|(head, _)| head.contains("text/calendar")).expect("a calendar entry");
    let calendar = ical::IcalParser::new(ics.as_slice()).next().expect("a calendar").expect("it parses");
    let event = &calendar.events[0];
    let prop =
        |name: &str| event.properties.iter().find(|p| p.name == name).and_then(|p| p.value.clone()).expect("property");
    let row = app
        .db()
        .await
        .query_one(
            "SELECT s.start_time, s.end_time, t.address FROM showtimes s
             JOIN theaters t ON t.region = s.region AND t.id = s.theater_id WHERE s.id = $1",
            &[&show.id],
        )
        .await
        .expect("showtime");
    let utc = |t: OffsetDateTime| {
        t.to_offset(time::UtcOffset::UTC)
            .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
            .expect("format")
    };
    assert_eq!(prop("DTSTART"), utc(row.get(0)));
    assert_eq!(prop("DTEND"), utc(row.get(1)));
    let address: String = row.get(2);
    let location = prop("LOCATION").replace("\\,", ",").replace("\\;", ";");
    assert!(location.contains(&address), "{location} lacks {address}");
    assert_eq!(prop("UID"), format!("{booking_id}@boxoffice"));
}
