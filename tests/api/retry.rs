//! The serializable retry helper against real conflicts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use boxoffice::db::{RetryError, TxError, retry};
use boxoffice::error::ApiError;
use reqwest::StatusCode;
use tokio::sync::Barrier;
use tokio_postgres::NoTls;

use crate::helpers::{TestApp, database_url};

/// Creates a one-row table `counter(k, v)` in the app's database.
async fn counter_table(app: &TestApp, table: &str) {
    app.db()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {table} (k INT PRIMARY KEY, v INT NOT NULL); INSERT INTO {table} VALUES (1, 0);"
        ))
        .await
        .expect("table");
}

/// Commits `UPDATE table SET v = v + 1` from another session, serializable, while the helper's transaction is open.
async fn interfere(app: &TestApp, table: &str) {
    let (mut client, connection) = tokio_postgres::connect(&database_url(&app.db_name), NoTls).await.expect("connect");
    tokio::spawn(connection);
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::Serializable)
        .start()
        .await
        .expect("begin");
    tx.execute(&format!("UPDATE {table} SET v = v + 1 WHERE k = 1"), &[]).await.expect("update");
    tx.commit().await.expect("commit");
}

fn retries_counted(app: &TestApp, tx: &str) -> u64 {
    let text = app.state.metrics.render();
    text.lines()
        .filter(|l| {
            l.starts_with("boxoffice_db_tx_retries_total")
                && l.contains(&format!("tx=\"{tx}\""))
                && l.contains("serialization_failure")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn a_real_serialization_failure_is_retried_and_counted() {
    let app = TestApp::spawn().await;
    counter_table(&app, "counter_a").await;
    let attempts = Arc::new(AtomicU32::new(0));
    // Attempt 1 reads, lets another session commit an update of the same row, then writes it: 40001.
    // Attempt 2 runs alone and commits.
    let app = &app;
    let result = retry::<i32, (), _, _>(&app.state.db, "test_retry_once", |tx| {
        let attempts = attempts.clone();
        async move {
            let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let v: i32 = tx.query_one("SELECT v FROM counter_a WHERE k = 1", &[]).await?.get(0);
            if n == 1 {
                interfere(app, "counter_a").await;
            }
            tx.execute("UPDATE counter_a SET v = $1 WHERE k = 1", &[&(v + 10)]).await?;
            Ok(v + 10)
        }
    })
    .await
    .expect("committed on the second attempt");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(result, 11, "the retry saw the other session's committed update");
    let v: i32 = app.db().await.query_one("SELECT v FROM counter_a", &[]).await.expect("read").get(0);
    assert_eq!(v, 11);
    assert_eq!(retries_counted(app, "test_retry_once"), 1);
}

#[tokio::test]
async fn exhausted_retries_become_a_503_with_retry_after() {
    let app = TestApp::spawn_with(&[
        ("BOXOFFICE_TX_MAX_ATTEMPTS", "3"),
        ("BOXOFFICE_TX_BACKOFF_BASE_MS", "1"),
        ("BOXOFFICE_TX_BACKOFF_MAX_MS", "5"),
    ])
    .await;
    counter_table(&app, "counter_b").await;
    let attempts = AtomicU32::new(0);
    let app = &app;
    let attempts = &attempts;
    let err = retry::<(), ApiError, _, _>(&app.state.db, "test_retry_exhausted", |tx| async move {
        attempts.fetch_add(1, Ordering::SeqCst);
        tx.query_one("SELECT v FROM counter_b WHERE k = 1", &[]).await?;
        interfere(app, "counter_b").await;
        tx.execute("UPDATE counter_b SET v = v + 10 WHERE k = 1", &[]).await?;
        Ok(())
    })
    .await
    .expect_err("every attempt conflicts");
    assert!(matches!(err, RetryError::Exhausted { attempts: 3, .. }), "{err:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(retries_counted(app, "test_retry_exhausted"), 3);
    let response = axum::response::IntoResponse::into_response(ApiError::from(err));
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE.as_u16());
    assert_eq!(response.headers()["retry-after"], "1");
    // Nothing of the conflicting transactions was written: only the three interfering +1s.
    let v: i32 = app.db().await.query_one("SELECT v FROM counter_b", &[]).await.expect("read").get(0);
    assert_eq!(v, 3);
}

#[tokio::test]
async fn a_business_abort_rolls_back_and_is_not_retried() {
    let app = TestApp::spawn().await;
    counter_table(&app, "counter_c").await;
    let barrier = Barrier::new(1);
    let attempts = AtomicU32::new(0);
    let attempts = &attempts;
    let barrier = &barrier;
    let err = retry::<(), &str, _, _>(&app.state.db, "test_abort", |tx| async move {
        attempts.fetch_add(1, Ordering::SeqCst);
        barrier.wait().await;
        tx.execute("UPDATE counter_c SET v = 99 WHERE k = 1", &[]).await?;
        Err(TxError::Abort("seats taken"))
    })
    .await
    .expect_err("aborted");
    assert!(matches!(err, RetryError::Aborted("seats taken")));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    let v: i32 = app.db().await.query_one("SELECT v FROM counter_c", &[]).await.expect("read").get(0);
    assert_eq!(v, 0, "the aborted write was rolled back");
}

#[tokio::test]
async fn a_transaction_whose_backend_is_terminated_before_commit_is_rerun_on_a_fresh_connection() {
    let app = TestApp::spawn().await;
    counter_table(&app, "counter_t").await;
    let attempts = Arc::new(AtomicU32::new(0));
    let app = &app;
    let result = retry::<u32, (), _, _>(&app.state.db, "test_terminated", |tx| {
        let attempts = attempts.clone();
        async move {
            let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                // What a primary switch does to the old primary's sessions: 57P01, then the socket closes. The
                // second argument waits until the backend is gone, so the UPDATE below meets a dead session.
                let pid: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
                let killer = app.db().await;
                killer.execute("SELECT pg_terminate_backend($1, 5000)", &[&pid]).await.expect("terminated");
            }
            tx.execute("UPDATE counter_t SET v = v + 1 WHERE k = 1", &[]).await?;
            Ok(n)
        }
    })
    .await
    .expect("committed on a fresh connection, not a 500");
    assert_eq!(result, 2, "run again once");
    let v: i32 = app.db().await.query_one("SELECT v FROM counter_t", &[]).await.expect("read").get(0);
    assert_eq!(v, 1, "applied once");
}
