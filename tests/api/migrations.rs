//! Migrations: idempotent, safe from several runners at once, append-only; in both modes (one transaction per
//! migration on PostgreSQL, one statement at a time with a claim and a lease on CockroachDB, whose bookkeeping is
//! tested here on PostgreSQL with migrations written for the purpose).

use std::time::Duration;

use boxoffice::db::migrate::{self, Migration, Mode};
use tokio_postgres::NoTls;

use crate::helpers::{database_url, empty_database, server_dialect};

async fn connect(db: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&database_url(db), NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    let dialect = server_dialect().await;
    let first = migrate::run(&mut client, dialect).await.expect("first run");
    assert_eq!(first.len(), migrate::for_dialect(dialect).len());
    let second = migrate::run(&mut client, dialect).await.expect("second run");
    assert!(second.is_empty(), "{second:?}");
    let count: i64 = client.query_one("SELECT count(*) FROM schema_migrations", &[]).await.expect("count").get(0);
    assert_eq!(count as usize, migrate::for_dialect(dialect).len());
}

#[tokio::test]
async fn concurrent_runners_apply_each_migration_exactly_once() {
    let db = empty_database().await;
    let runners = (0..4).map(|_| {
        let db = db.to_string();
        tokio::spawn(async move {
            let mut client = connect(&db).await;
            migrate::run(&mut client, server_dialect().await).await
        })
    });
    let mut applied = Vec::new();
    for runner in runners {
        applied.extend(runner.await.expect("joined").expect("every runner succeeds"));
    }
    applied.sort_unstable();
    let expected: Vec<i32> = migrate::for_dialect(server_dialect().await).iter().map(|m| m.version).collect();
    assert_eq!(applied, expected, "each version applied once across all runners");
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    let dialect = server_dialect().await;
    migrate::run(&mut client, dialect).await.expect("migrated");
    client.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1", &[]).await.expect("tamper");
    let err = migrate::run(&mut client, dialect).await.expect_err("refused");
    assert!(matches!(err, migrate::MigrateError::Edited { version: 1, .. }), "{err}");
}

#[tokio::test]
async fn every_query_prepares_against_the_migrated_schema() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    migrate::run(&mut client, server_dialect().await).await.expect("migrated");
    for (path, sql) in boxoffice::db::queries::ALL {
        client.prepare(sql).await.unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

/// Migration 0003 moves the count of charge attempts onto the booking: a booking paid (or tried) before it must
/// continue from its last attempt number, or its next charge would reuse a provider idempotency key.
#[tokio::test]
async fn bookings_charged_before_0003_continue_from_their_last_attempt() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    let dialect = server_dialect().await;
    let all = migrate::for_dialect(dialect);
    let before = all.iter().position(|m| m.name.ends_with("_payment_attempts")).expect("the migration is listed");
    migrate::apply(&mut client, &all[..before], Mode::for_dialect(dialect)).await.expect("migrated up to 0003");
    boxoffice::seed::demo(&mut client).await.expect("seeded");
    let showtime = client
        .query_one("SELECT region, id FROM showtimes ORDER BY start_time DESC LIMIT 1", &[])
        .await
        .expect("a showtime");
    let (region, showtime): (boxoffice::db::region::Region, uuid::Uuid) = (showtime.get(0), showtime.get(1));
    let user: uuid::Uuid = client
        .query_one(
            "INSERT INTO users (name, email, phone_number, password_hash)
             VALUES ('Ada', 'ada@example.com', '+15550100', 'x') RETURNING id",
            &[],
        )
        .await
        .expect("a user")
        .get(0);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id: uuid::Uuid = client
            .query_one(
                "INSERT INTO bookings (region, user_id, showtime_id, seats, seat_count, total_amount, currency)
                 VALUES ($1, $2, $3, '[]', 1, 1250, 'USD') RETURNING id",
                &[&region, &user, &showtime],
            )
            .await
            .expect("a booking")
            .get(0);
        ids.push(id);
    }
    for attempt in 1..=2_i32 {
        client
            .execute(
                "INSERT INTO payments (region, booking_id, attempt, provider, amount, currency, status)
                 VALUES ($1, $2, $3, 'sandbox', 1250, 'USD', 'declined')",
                &[&region, &ids[0], &attempt],
            )
            .await
            .expect("a payment");
    }
    migrate::run(&mut client, dialect).await.expect("migrated to the end");
    for (id, expected) in [(ids[0], 2), (ids[1], 0)] {
        let attempts: i32 = client
            .query_one("SELECT payment_attempts FROM bookings WHERE id = $1", &[&id])
            .await
            .expect("the booking")
            .get(0);
        assert_eq!(attempts, expected, "booking {id}");
    }
}

// --- One statement at a time (CockroachDB's mode) -----------------------------------------------------------------

const PER_STATEMENT: Mode = Mode::PerStatement { lease: Duration::from_secs(60) };

/// Two migrations in the style CockroachDB's must have: idempotent statements, `{{database}}` for the database.
const TABLES: Migration = Migration {
    version: 1,
    name: "0001_tables",
    sql: "-- a header comment; with a semicolon\n\
          COMMENT ON DATABASE {{database}} IS 'migrated one statement at a time';\n\
          CREATE TABLE IF NOT EXISTS things (id INT4 PRIMARY KEY, label TEXT NOT NULL);\n\
          CREATE INDEX IF NOT EXISTS things_label_idx ON things (label);\n",
};
const ROWS: Migration = Migration {
    version: 2,
    name: "0002_rows",
    sql: "INSERT INTO things (id, label) VALUES (1, 'a;b') ON CONFLICT (id) DO NOTHING;\n\
          SELECT pg_sleep(0.2);\n",
};

async fn finished_versions(client: &tokio_postgres::Client) -> Vec<i32> {
    client
        .query("SELECT version FROM schema_migrations WHERE finished_at IS NOT NULL ORDER BY version", &[])
        .await
        .expect("read schema_migrations")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn per_statement_migrations_apply_once_and_record_their_checksum() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    let first = migrate::apply(&mut client, &[TABLES, ROWS], PER_STATEMENT).await.expect("first run");
    assert_eq!(first, vec![1, 2]);
    let second = migrate::apply(&mut client, &[TABLES, ROWS], PER_STATEMENT).await.expect("second run");
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(finished_versions(&client).await, vec![1, 2]);
    let sum: String =
        client.query_one("SELECT checksum FROM schema_migrations WHERE version = 1", &[]).await.expect("row").get(0);
    assert_eq!(sum, migrate::checksum(TABLES.sql));
    // `{{database}}` named this database, and the quoted semicolon did not split the INSERT.
    let comment: Option<String> = client
        .query_one(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&db.to_string()],
        )
        .await
        .expect("comment")
        .get(0);
    assert_eq!(comment.as_deref(), Some("migrated one statement at a time"));
    let label: String = client.query_one("SELECT label FROM things WHERE id = 1", &[]).await.expect("row").get(0);
    assert_eq!(label, "a;b");
}

#[tokio::test]
async fn concurrent_per_statement_runners_apply_each_migration_exactly_once() {
    let db = empty_database().await;
    let runners = (0..4).map(|_| {
        let db = db.to_string();
        tokio::spawn(async move {
            let mut client = connect(&db).await;
            migrate::apply(&mut client, &[TABLES, ROWS], PER_STATEMENT).await
        })
    });
    let mut applied = Vec::new();
    for runner in runners {
        applied.extend(runner.await.expect("joined").expect("every runner succeeds"));
    }
    applied.sort_unstable();
    assert_eq!(applied, vec![1, 2], "each version applied by exactly one runner");
    let client = connect(&db).await;
    assert_eq!(finished_versions(&client).await, vec![1, 2]);
}

#[tokio::test]
async fn a_failed_per_statement_migration_releases_its_claim_and_the_next_run_completes_it() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    let needs_prerequisite = Migration {
        version: 1,
        name: "0001_half",
        sql: "CREATE TABLE IF NOT EXISTS first_half (id INT4);\n\
              INSERT INTO prerequisite (id) VALUES (1) ON CONFLICT (id) DO NOTHING;\n",
    };
    let err = migrate::apply(&mut client, &[needs_prerequisite], PER_STATEMENT).await.expect_err("fails");
    assert!(matches!(err, migrate::MigrateError::Failed { version: 1, .. }), "{err}");
    // Outside a transaction, what ran before the failure stays; the claim does not.
    client.query_one("SELECT count(*) FROM first_half", &[]).await.expect("the first statement took effect");
    let claims: i64 = client.query_one("SELECT count(*) FROM schema_migrations", &[]).await.expect("count").get(0);
    assert_eq!(claims, 0, "the failed claim was released");

    client.batch_execute("CREATE TABLE prerequisite (id INT4 PRIMARY KEY)").await.expect("fix the cause");
    let applied = migrate::apply(&mut client, &[needs_prerequisite], PER_STATEMENT).await.expect("second run");
    assert_eq!(applied, vec![1]);
    assert_eq!(finished_versions(&client).await, vec![1]);
}

#[tokio::test]
async fn an_abandoned_claim_is_taken_over_once_its_lease_expired() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    migrate::apply(&mut client, &[], PER_STATEMENT).await.expect("tracking table");
    // A runner claimed migration 1 an hour ago (with an earlier text of it) and died half-way.
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
             VALUES (1, '0001_tables', 'older draft', now() - INTERVAL '1 hour')",
            &[],
        )
        .await
        .expect("stale claim");
    let applied = migrate::apply(&mut client, &[TABLES], PER_STATEMENT).await.expect("takes over");
    assert_eq!(applied, vec![1]);
    let sum: String =
        client.query_one("SELECT checksum FROM schema_migrations WHERE version = 1", &[]).await.expect("row").get(0);
    assert_eq!(sum, migrate::checksum(TABLES.sql), "the takeover records the text it applied");
}

#[tokio::test]
async fn a_runner_waits_for_a_live_claim_and_accepts_its_result() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    migrate::apply(&mut client, &[], PER_STATEMENT).await.expect("tracking table");
    // Another runner is applying migration 1 right now (fresh lease).
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (1, '0001_tables', $1)",
            &[&migrate::checksum(TABLES.sql)],
        )
        .await
        .expect("live claim");
    let waiting = tokio::spawn({
        let db = db.to_string();
        async move {
            let mut client = connect(&db).await;
            migrate::apply(&mut client, &[TABLES], PER_STATEMENT).await
        }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!waiting.is_finished(), "the runner must wait while the other one holds a fresh lease");
    // The other runner finishes (it created the table itself).
    client.batch_execute("CREATE TABLE things (id INT4 PRIMARY KEY, label TEXT NOT NULL)").await.expect("its work");
    client.execute("UPDATE schema_migrations SET finished_at = now() WHERE version = 1", &[]).await.expect("finish");
    let applied = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting runner notices")
        .expect("joined")
        .expect("succeeds");
    assert!(applied.is_empty(), "the other runner applied it: {applied:?}");
}

#[tokio::test]
async fn an_edited_per_statement_migration_is_refused_once_finished() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    migrate::apply(&mut client, &[TABLES], PER_STATEMENT).await.expect("migrated");
    let edited = Migration { sql: "CREATE TABLE IF NOT EXISTS other (id INT4);", ..TABLES };
    let err = migrate::apply(&mut client, &[edited], PER_STATEMENT).await.expect_err("refused");
    assert!(matches!(err, migrate::MigrateError::Edited { version: 1, .. }), "{err}");
}
