//! The outbox SQL of the dispatcher (`sql/queries/outbox/`). Writes run through [`db::retry`].

use std::convert::Infallible;
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use super::mail::MailContext;
use crate::db::{self, Db, Region, RetryError, queries::outbox as q};

/// An event claimed for delivery.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Its region.
    pub region: Region,
    /// Its id.
    pub id: Uuid,
    /// Its topic, e.g. `booking.paid`.
    pub topic: String,
    /// Its payload.
    pub payload: Value,
    /// Delivery attempts so far, this one included.
    pub attempts: i32,
}

/// Claims up to `batch` due events, each leased for `lease`.
///
/// # Errors
/// Database failures.
pub async fn claim(db: &Db, batch: i64, lease: Duration) -> Result<Vec<Claimed>, RetryError<Infallible>> {
    let lease = lease.as_secs_f64();
    db::retry(db, "outbox_claim", |tx| async move {
        let stmt = tx.prepare_cached(q::CLAIM).await?;
        let rows = tx.query(&stmt, &[&batch, &lease]).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            claimed.push(Claimed {
                region: row.try_get("region")?,
                id: row.try_get("id")?,
                topic: row.try_get("topic")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get("attempts")?,
            });
        }
        Ok(claimed)
    })
    .await
}

/// Ends the delivery of the events `ids` of `region` (a batch): each sent (its `errors` entry `None`) or refused for
/// good (the reason). `ids` and `errors` have the same length.
///
/// # Errors
/// Database failures.
pub async fn mark_sent_many(
    db: &Db,
    region: &Region,
    ids: &[Uuid],
    errors: &[Option<String>],
) -> Result<(), RetryError<Infallible>> {
    db::retry(db, "outbox_mark_sent", |tx| async move {
        let stmt = tx.prepare_cached(q::MARK_SENT_MANY).await?;
        tx.execute(&stmt, &[region, &ids, &errors]).await?;
        Ok(())
    })
    .await
}

/// Schedules another attempt after `delay`, keeping `error`.
///
/// # Errors
/// Database failures.
pub async fn mark_failed(
    db: &Db,
    region: &Region,
    id: Uuid,
    error: &str,
    delay: Duration,
) -> Result<(), RetryError<Infallible>> {
    let delay = delay.as_secs_f64();
    db::retry(db, "outbox_mark_failed", |tx| async move {
        let stmt = tx.prepare_cached(q::MARK_FAILED).await?;
        tx.execute(&stmt, &[region, &id, &error, &delay]).await?;
        Ok(())
    })
    .await
}

/// The recipient and showtime details of a booking mail; `None` when the showtime or the user is gone. Read from the
/// primary: the event may be a moment old.
///
/// # Errors
/// Database failures.
pub async fn mail_context(db: &Db, region: &Region, showtime: Uuid, user: Uuid) -> anyhow::Result<Option<MailContext>> {
    let client = db.write.get().await?;
    let stmt = client.prepare_cached(q::MAIL_CONTEXT).await?;
    let Some(row) = client.query_opt(&stmt, &[region, &showtime, &user]).await? else { return Ok(None) };
    Ok(Some(MailContext {
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        title: row.try_get("title")?,
        theater: row.try_get("theater")?,
        address: row.try_get("address")?,
        screen_number: row.try_get("screen_number")?,
        local_start: row.try_get("local_start")?,
        time_zone: row.try_get("time_zone")?,
        start: row.try_get("start_time")?,
        end: row.try_get("end_time")?,
        city: row.try_get("city")?,
        zip: row.try_get("zip")?,
    }))
}

/// Unsent events and the age of the oldest, in seconds.
///
/// # Errors
/// Database failures.
pub async fn backlog(db: &Db) -> anyhow::Result<(i64, f64)> {
    let client = db.write.get().await?;
    let stmt = client.prepare_cached(q::BACKLOG).await?;
    let row = client.query_one(&stmt, &[]).await?;
    Ok((row.try_get("pending")?, row.try_get("oldest_seconds")?))
}
