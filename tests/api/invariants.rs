//! `loadtest/invariants.sql`, the checks a load run ends with, can fail: each violation it names is planted in a
//! test database (inside a transaction rolled back afterwards) and must be reported, and only after the planting.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::booking::{Show, customers, finalize, held, id_of, show};
use crate::helpers::{TestApp, expect_status};

const INVARIANTS: &str = include_str!("../../loadtest/invariants.sql");

/// Each check's count of violations, as the load run reads them.
async fn violations(tx: &tokio_postgres::Transaction<'_>) -> BTreeMap<String, i64> {
    let rows = tx.query(INVARIANTS, &[]).await.expect("the invariants query runs");
    rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect()
}

/// Two acknowledged bookings on one showtime, as a load run leaves them: `held` (reserved) and `paid`.
async fn two_acknowledged_bookings(app: &TestApp) -> (Show, Uuid, Uuid) {
    let show = show(app, 0).await;
    let customers = customers(app, 2).await;
    let held_seats = show.standard(0, 2);
    let paid_seats = show.standard(2, 2);
    let reserved = held(app, &customers[0].1, show.id, &held_seats).await;
    let paid = held(app, &customers[1].1, show.id, &paid_seats).await;
    expect_status(finalize(app, Some(&customers[1].1), &id_of(&paid), "tok_visa", None).await, StatusCode::OK).await;
    let db = app.db().await;
    db.batch_execute("CREATE TABLE load_acks (id UUID NOT NULL, seats TEXT NOT NULL)").await.expect("acks table");
    for (booking, seats) in [(&reserved, &held_seats), (&paid, &paid_seats)] {
        let id = id_of(booking);
        db.execute("INSERT INTO load_acks VALUES ($1, $2)", &[&id, &seats.join(",")]).await.expect("ack");
    }
    (show, id_of(&reserved), id_of(&paid))
}

#[tokio::test]
async fn every_invariant_reports_its_own_violation_and_nothing_on_a_clean_run() {
    let app = TestApp::spawn().await;
    let (show, reserved, paid) = two_acknowledged_bookings(&app).await;
    let other_showtime: Uuid = app
        .db()
        .await
        .query_one("SELECT id FROM showtimes WHERE region = $1 AND id <> $2 LIMIT 1", &[&show.region, &show.id])
        .await
        .expect("another showtime of the region")
        .get(0);
    let (r, p) = (reserved.to_string(), paid.to_string());
    // (check, statements that break it). Other checks may fire too: one fault often breaks several rules.
    let plantings: Vec<(&str, String)> = vec![
        ("acknowledged_booking_missing", format!("INSERT INTO load_acks VALUES ('{}', 'A1')", Uuid::new_v4())),
        (
            "acknowledged_booking_not_live",
            format!(
                "UPDATE bookings SET status = 'canceled' WHERE id = '{r}'; DELETE FROM booking_seats WHERE booking_id = '{r}'"
            ),
        ),
        (
            "acknowledged_seats_not_claimed",
            format!(
                "DELETE FROM booking_seats WHERE booking_id = '{r}' AND seat_label = (SELECT min(seat_label) FROM booking_seats WHERE booking_id = '{r}')"
            ),
        ),
        (
            "paid_seats_not_claimed",
            format!("UPDATE booking_seats SET hold_expires_at = now() + INTERVAL '1 hour' WHERE booking_id = '{p}'"),
        ),
        ("seat_count_mismatch", format!("UPDATE bookings SET seat_count = 3 WHERE id = '{r}'")),
        ("claim_of_ended_booking", format!("UPDATE bookings SET status = 'expired' WHERE id = '{r}'")),
        (
            // The seat lists of two live bookings share a seat: what the claims' primary key cannot see.
            "seat_in_two_live_bookings",
            format!("UPDATE bookings SET seats = (SELECT seats FROM bookings WHERE id = '{r}') WHERE id = '{p}'"),
        ),
        (
            "claim_on_another_showtime",
            format!("UPDATE booking_seats SET showtime_id = '{other_showtime}' WHERE booking_id = '{r}'"),
        ),
    ];

    let mut db = app.db().await;
    let tx = db.transaction().await.expect("begin");
    let clean = violations(&tx).await;
    let mut checks: Vec<&str> = clean.keys().map(String::as_str).collect();
    checks.sort_unstable();
    let mut planted: Vec<&str> = plantings.iter().map(|(check, _)| *check).collect();
    planted.sort_unstable();
    assert_eq!(checks, planted, "every check has a planting, and no planting lacks its check");
    assert!(clean.values().all(|n| *n == 0), "a clean run reports nothing: {clean:?}");
    tx.rollback().await.expect("rollback");

    for (check, statements) in &plantings {
        let tx = db.transaction().await.expect("begin");
        tx.batch_execute(statements).await.unwrap_or_else(|e| panic!("planting {check}: {e}"));
        let found = violations(&tx).await;
        assert!(found[*check] >= 1, "{check} was planted but reported {found:?}");
        tx.rollback().await.expect("rollback");
    }
}
