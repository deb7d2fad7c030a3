//! Plans: the keyed booking statements find their row by its key, whatever the statistics say.
//!
//! Under SERIALIZABLE, PostgreSQL records what a statement read as predicate locks on the index pages it scanned. A
//! payment that reached its booking through `bookings_status_expiry_idx` (a range over every live hold) conflicted
//! with every concurrent hold and payment: the load run's k6 booking scenario retried `finalize_start` three times a
//! payment. The planner picked that index whenever the statistics said few holds were live, as after the load run's
//! resets. This test builds that state and checks the write pool's generic plans.

use boxoffice::db::{WRITE_SESSION, migrate, queries};
use tokio_postgres::NoTls;
use tokio_postgres::types::Type;

use crate::helpers::{database_url, empty_database, server_dialect};

/// The statements that change or read bookings by id (the sweeper and the reconciler scan by status on purpose).
const KEYED: &[&str] = &[
    "booking/find.sql",
    "booking/start_payment.sql",
    "booking/cancel_hold.sql",
    "booking/revert_payment.sql",
    "booking/set_status.sql",
    "booking/expire_taken_over.sql",
];

#[tokio::test]
async fn keyed_booking_statements_use_the_key_when_statistics_say_no_hold_is_live() {
    if server_dialect().await != boxoffice::db::Dialect::Postgres {
        return; // CockroachDB plans differently and has no generic plans; this is about PostgreSQL's.
    }
    let db = empty_database().await;
    let (mut client, connection) = tokio_postgres::connect(&database_url(&db), NoTls).await.expect("connect");
    tokio::spawn(connection);
    migrate::run(&mut client, server_dialect().await).await.expect("migrated");
    boxoffice::seed::demo(&mut client).await.expect("seeded");
    // A region whose bookings are all paid (hold_expires_at NULL), analysed: to the planner, `status = 'reserved'
    // AND hold_expires_at > now()` then matches almost nothing and looks cheaper than the key.
    let region: String = client
        .query_one("SELECT region FROM showtimes ORDER BY start_time DESC LIMIT 1", &[])
        .await
        .expect("a showtime")
        .get(0);
    client
        .batch_execute(&format!(
            "INSERT INTO users (name, email, phone_number, password_hash)
             VALUES ('Ada', 'ada@example.com', '+15550100', 'x');
             INSERT INTO bookings (region, user_id, showtime_id, status, seats, seat_count, total_amount, currency)
             SELECT s.region, u.id, s.id, 'paid', '[]', 1, 1250, 'USD'
             FROM (SELECT region, id FROM showtimes WHERE region = '{region}' LIMIT 50) s,
                  (SELECT id FROM users LIMIT 1) u, generate_series(1, 60);
             ANALYZE bookings;"
        ))
        .await
        .expect("paid bookings");
    client.batch_execute(WRITE_SESSION).await.expect("the write pool's session settings");

    for path in KEYED {
        let (_, sql) = queries::ALL.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("{path} is a query"));
        let params = client.prepare(sql).await.unwrap_or_else(|e| panic!("{path}: {e}")).params().to_vec();
        // The region is the first parameter of each; the others stay NULL (a generic plan does not look at them).
        let args: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, ty)| if i == 0 && *ty == Type::TEXT { format!("'{region}'") } else { "NULL".to_owned() })
            .collect();
        client.batch_execute(&format!("DEALLOCATE ALL; PREPARE keyed AS {sql}")).await.expect("PREPARE");
        let plan: String = client
            .query(&format!("EXPLAIN (COSTS OFF) EXECUTE keyed({})", args.join(", ")), &[])
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .iter()
            .map(|row| row.get::<_, String>(0) + "\n")
            .collect();
        assert!(!plan.contains("status_hold_expires_at"), "{path} scans the status index:\n{plan}");
        assert!(plan.contains("(id = $2)") || plan.contains("(id = ANY ($2))"), "{path} is not keyed:\n{plan}");
    }
}
