//! The outbox dispatcher (DESIGN.md §2): the worker delivers the events that booking transactions append to the
//! outbox (`booking.paid`: the confirmation with the tickets; `booking.canceled`) as mails.
//!
//! Delivery is at least once. A run claims a batch of due events with a lease (`UPDATE .. FOR UPDATE SKIP LOCKED`:
//! several workers share the work and never wait on each other), sends each, and records the outcome:
//!
//! | outcome | when | the event |
//! |---|---|---|
//! | `sent` | the server accepted the mail (or, without `BOXOFFICE_SMTP_URL`, it was logged) | `sent_at` set |
//! | `rejected` | the server refused it for good (5xx, an unusable address) | `sent_at` set, `last_error` kept |
//! | `skipped` | a topic without a mail, or a payload or context that cannot make one | `sent_at` set, `last_error` kept |
//! | `failed` | the server was unreachable, timed out or answered 4xx | tried again after a back-off (30 s doubling, at most 1 h) |
//!
//! A worker that dies mid-batch leaves its events to the next claim once their lease ends: a mail may then be sent
//! twice, with the same Message-ID (`<event id@sender's domain>`). After a transient failure the rest of the batch is
//! put back at once with the same back-off: the server is likely down for all of them. Each run also refreshes the
//! backlog gauges `boxoffice_outbox_pending` and `boxoffice_outbox_oldest_pending_seconds` (alert
//! `BoxofficeOutboxBacklog`). Mails are counted in `boxoffice_mails_total{topic,outcome}`.

pub mod mail;
pub mod store;
pub mod transport;

use std::time::Duration;

use crate::config::MailConfig;
use crate::db::Db;
use mail::BookingEvent;
pub use transport::{Mailer, SendError};

/// The first retry delay of a failed delivery; doubled per attempt.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What one dispatcher run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Mails accepted by the server (or logged).
    pub sent: u64,
    /// Mails refused for good.
    pub rejected: u64,
    /// Events without a mail.
    pub skipped: u64,
    /// Deliveries put back for a later attempt.
    pub failed: u64,
}

impl DispatchReport {
    /// Events handled.
    pub fn total(self) -> u64 {
        self.sent + self.rejected + self.skipped + self.failed
    }
}

/// Delivers outbox events as mails.
#[derive(Debug)]
pub struct Dispatcher {
    db: Db,
    mailer: Mailer,
    batch: i64,
    lease: Duration,
    interval: Duration,
    /// Events this dispatcher claimed but could not finish because the database went away mid-batch (a failover):
    /// handed back at the start of the next run, so that they wait for the next claim rather than for their lease
    /// (batch x SMTP timeout + 30 s). A plain mutex: held to swap the list, never across an await.
    orphans: std::sync::Mutex<Vec<(crate::db::Region, uuid::Uuid)>>,
}

impl Dispatcher {
    /// A dispatcher with the transport `config` describes.
    ///
    /// # Errors
    /// An invalid sender or SMTP URL.
    pub fn new(db: Db, config: &MailConfig) -> anyhow::Result<Self> {
        let mailer = Mailer::from_config(config)?;
        if matches!(mailer, Mailer::Log { .. }) {
            tracing::warn!("BOXOFFICE_SMTP_URL is unset: booking mails are written to the log, not sent");
        }
        // The lease outlasts a whole batch of sends that each take the full timeout.
        let lease = config.timeout.saturating_mul(u32::try_from(config.batch).unwrap_or(u32::MAX)) + FIRST_BACKOFF;
        Ok(Self { db, mailer, batch: config.batch, lease, interval: config.interval, orphans: Default::default() })
    }

    /// How often the worker runs [`Self::dispatch`].
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// One run: claims due events, delivers them, records the outcomes, refreshes the backlog gauges.
    ///
    /// # Errors
    /// Database failures (a failed send is an outcome, not an error).
    pub async fn dispatch(&self) -> anyhow::Result<DispatchReport> {
        self.release_orphans().await?;
        let claimed = store::claim(&self.db, self.batch, self.lease).await?;
        let mut report = DispatchReport::default();
        let mut outage: Option<String> = None;
        for (n, event) in claimed.iter().enumerate() {
            let outcome = match &outage {
                Some(error) => self.put_back(event, error).await,
                None => self.deliver(event).await,
            };
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(err) => {
                    // This event and the rest of the batch are still leased to us: release them next run.
                    let mut orphans = self.orphans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    orphans.extend(claimed[n..].iter().map(|e| (e.region.clone(), e.id)));
                    return Err(err);
                }
            };
            if let Outcome::Failed(error) = &outcome {
                outage = Some(error.clone());
            }
            let label = outcome.label();
            metrics::counter!("boxoffice_mails_total", "topic" => topic_label(&event.topic), "outcome" => label)
                .increment(1);
            match outcome {
                Outcome::Sent => report.sent += 1,
                Outcome::Rejected => report.rejected += 1,
                Outcome::Skipped => report.skipped += 1,
                Outcome::Failed(_) => report.failed += 1,
            }
        }
        let (pending, oldest) = store::backlog(&self.db).await?;
        #[allow(clippy::cast_precision_loss)] // a backlog of 2^53 events is not a concern
        metrics::gauge!("boxoffice_outbox_pending").set(pending as f64);
        metrics::gauge!("boxoffice_outbox_oldest_pending_seconds").set(oldest);
        Ok(report)
    }

    async fn deliver(&self, event: &store::Claimed) -> anyhow::Result<Outcome> {
        let finished = |error: String| async move {
            store::mark_sent(&self.db, &event.region, event.id, Some(&error)).await?;
            tracing::warn!(event = %event.id, topic = %event.topic, %error, "outbox event has no mail");
            Ok::<_, anyhow::Error>(Outcome::Skipped)
        };
        let booking: BookingEvent = match serde_json::from_value(event.payload.clone()) {
            Ok(booking) => booking,
            Err(e) => return finished(format!("payload: {e}")).await,
        };
        let Some(context) = store::mail_context(&self.db, &event.region, booking.showtime_id, booking.user_id).await?
        else {
            return finished("the showtime or the user is gone".into()).await;
        };
        let Some(mail) = mail::compose(&event.topic, &booking, &context) else {
            return finished(format!("no mail for topic {}", event.topic)).await;
        };
        match self.mailer.send(event.id, &mail).await {
            Ok(()) => {
                store::mark_sent(&self.db, &event.region, event.id, None).await?;
                Ok(Outcome::Sent)
            }
            Err(SendError::Permanent(error)) => {
                tracing::warn!(event = %event.id, booking = %booking.booking_id, %error, "mail refused for good");
                store::mark_sent(&self.db, &event.region, event.id, Some(&error)).await?;
                Ok(Outcome::Rejected)
            }
            Err(SendError::Transient(error)) => self.put_back(event, &error).await,
        }
    }

    /// Makes the events of a batch interrupted by a database failure due again (see `orphans`). A mail of theirs
    /// may have gone out before the failure: delivery is at least once.
    async fn release_orphans(&self) -> anyhow::Result<()> {
        let orphans = std::mem::take(&mut *self.orphans.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for (n, (region, id)) in orphans.iter().enumerate() {
            let released =
                store::mark_failed(&self.db, region, *id, "the worker lost the database mid-batch", Duration::ZERO)
                    .await;
            if let Err(err) = released {
                let mut left = self.orphans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                left.extend(orphans[n..].iter().cloned());
                return Err(err.into());
            }
        }
        Ok(())
    }

    async fn put_back(&self, event: &store::Claimed, error: &str) -> anyhow::Result<Outcome> {
        let delay = backoff(event.attempts);
        tracing::warn!(event = %event.id, attempts = event.attempts, %error, retry_in_secs = delay.as_secs(), "mail delivery failed");
        store::mark_failed(&self.db, &event.region, event.id, error, delay).await?;
        Ok(Outcome::Failed(error.to_owned()))
    }
}

enum Outcome {
    Sent,
    Rejected,
    Skipped,
    Failed(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Rejected => "rejected",
            Self::Skipped => "skipped",
            Self::Failed(_) => "failed",
        }
    }
}

/// A bounded label: the known topics, else `other`.
fn topic_label(topic: &str) -> &'static str {
    match topic {
        mail::BOOKING_PAID => mail::BOOKING_PAID,
        mail::BOOKING_CANCELED => mail::BOOKING_CANCELED,
        _ => "other",
    }
}

/// The delay before attempt `attempts + 1`: 30 s, doubling, at most an hour.
fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(16);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_an_hour() {
        let delays: Vec<u64> = [1, 2, 3, 7, 8, 40].into_iter().map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 1920, 3600, 3600]);
        assert_eq!(backoff(0), FIRST_BACKOFF);
    }
}
