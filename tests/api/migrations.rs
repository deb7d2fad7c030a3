//! Migrations: idempotent, safe from several runners at once, append-only.

use boxoffice::db::{Dialect, migrate};
use tokio_postgres::NoTls;

use crate::helpers::{database_url, empty_database};

async fn connect(db: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&database_url(db), NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    let first = migrate::run(&mut client, Dialect::Postgres).await.expect("first run");
    assert_eq!(first.len(), migrate::POSTGRES.len());
    let second = migrate::run(&mut client, Dialect::Postgres).await.expect("second run");
    assert!(second.is_empty(), "{second:?}");
    let count: i64 = client.query_one("SELECT count(*) FROM schema_migrations", &[]).await.expect("count").get(0);
    assert_eq!(count as usize, migrate::POSTGRES.len());
}

#[tokio::test]
async fn concurrent_runners_apply_each_migration_exactly_once() {
    let db = empty_database().await;
    let runners = (0..4).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut client = connect(&db).await;
            migrate::run(&mut client, Dialect::Postgres).await
        })
    });
    let mut applied = Vec::new();
    for runner in runners {
        applied.extend(runner.await.expect("joined").expect("every runner succeeds"));
    }
    applied.sort_unstable();
    let expected: Vec<i32> = migrate::POSTGRES.iter().map(|m| m.version).collect();
    assert_eq!(applied, expected, "each version applied once across all runners");
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    migrate::run(&mut client, Dialect::Postgres).await.expect("migrated");
    client.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1", &[]).await.expect("tamper");
    let err = migrate::run(&mut client, Dialect::Postgres).await.expect_err("refused");
    assert!(matches!(err, migrate::MigrateError::Edited { version: 1, .. }), "{err}");
}

#[tokio::test]
async fn every_query_prepares_against_the_migrated_schema() {
    let db = empty_database().await;
    let mut client = connect(&db).await;
    migrate::run(&mut client, Dialect::Postgres).await.expect("migrated");
    for (path, sql) in boxoffice::db::queries::ALL {
        client.prepare(sql).await.unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
