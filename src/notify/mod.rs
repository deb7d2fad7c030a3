//! The outbox dispatcher (DESIGN.md §2): the worker delivers the events that booking transactions append to the
//! outbox (`booking.paid`: the confirmation with the tickets; `booking.canceled`) as mails.
//!
//! Delivery is at least once. A run claims a batch of due events with a lease (`UPDATE .. FOR UPDATE SKIP LOCKED`:
//! several workers share the work and never wait on each other), sends up to `BOXOFFICE_OUTBOX_CONCURRENCY` of them
//! at once over lettre's pool of reused SMTP connections (one delivery after another kept a worker near 22 mails/s:
//! issue 23), and records the outcomes, one statement per region for the whole batch:
//!
//! | outcome | when | the event |
//! |---|---|---|
//! | `sent` | the server accepted the mail (or, without `BOXOFFICE_SMTP_URL`, it was logged) | `sent_at` set |
//! | `rejected` | the server refused it for good (5xx, an unusable address) | `sent_at` set, `last_error` kept |
//! | `skipped` | a topic without a mail, or a payload or context that cannot make one | `sent_at` set, `last_error` kept |
//! | `failed` | the server was unreachable, timed out or answered 4xx | tried again after a back-off (30 s doubling, at most 1 h) |
//!
//! A worker that dies mid-batch leaves its events to the next claim once their lease ends: a mail may then be sent
//! twice (up to a batch of them, since outcomes are recorded per batch), with the same Message-ID (`<event
//! id@sender's domain>`). The worker abandons a run that outlasts [`Dispatcher::run_timeout`], inside the lease, so
//! a slow run does not see its events claimed again by another worker. A full batch is followed at once by the next
//! ([`crate::worker`]). After a transient failure the rest of the batch is
//! put back at once with the same back-off: the server is likely down for all of them. Each run also refreshes the
//! backlog gauges `boxoffice_outbox_pending` and `boxoffice_outbox_oldest_pending_seconds` (alert
//! `BoxofficeOutboxBacklog`). Mails are counted in `boxoffice_mails_total{topic,outcome}`.

pub mod mail;
pub mod store;
pub mod transport;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::config::MailConfig;
use crate::db::{Db, Region};
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
    concurrency: usize,
    lease: Duration,
    interval: Duration,
    /// Events this dispatcher claimed but could not finish because the database went away mid-batch (a failover):
    /// handed back at the start of the next run, so that they wait for the next claim rather than for their lease.
    /// A plain mutex: held to swap the list, never across an await.
    orphans: std::sync::Mutex<Vec<(Region, Uuid)>>,
    /// Signs the tickets a confirmation carries (`None`: `BOXOFFICE_TICKET_KEYS` unset, no QR codes).
    tickets: Option<crate::tickets::token::TicketKeys>,
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
        let concurrency = config.concurrency.max(1);
        Ok(Self {
            db,
            mailer,
            batch: config.batch,
            concurrency,
            lease: lease(config.timeout, config.batch, concurrency),
            interval: config.interval,
            orphans: std::sync::Mutex::default(),
            tickets: crate::tickets::token::TicketKeys::from_seeds(&config.ticket_keys),
        })
    }

    /// How often the worker runs [`Self::dispatch`] when the outbox has nothing more for it.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Events claimed per run: a run that handled this many is followed at once by the next.
    pub fn batch(&self) -> i64 {
        self.batch
    }

    /// How long a claim keeps its events from other workers. A run lasting longer is abandoned by the worker
    /// ([`Self::run_timeout`]) before its lease ends, so that under normal operation no event is sent twice.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The longest a run may take: well inside its lease.
    pub fn run_timeout(&self) -> Duration {
        self.lease.saturating_sub(FIRST_BACKOFF / 2)
    }

    /// One run: claims a batch of due events, delivers up to `concurrency` of them at once (over the transport's
    /// pool of reused connections), records the outcomes in one statement per region, refreshes the backlog gauges.
    ///
    /// # Errors
    /// Database failures (a failed send is an outcome, not an error). Events already delivered are recorded first,
    /// so that an error repeats as few mails as possible.
    pub async fn dispatch(&self) -> anyhow::Result<DispatchReport> {
        self.release_orphans().await?;
        let claimed = store::claim(&self.db, self.batch, self.lease).await?;
        // The first transient failure (server down) puts the rest of the batch back without trying them.
        let outage: OnceLock<String> = OnceLock::new();
        let permits = Semaphore::new(self.concurrency);
        let outcomes = join_all(claimed.iter().map(|event| self.attempt(event, &permits, &outage))).await;

        let mut report = DispatchReport::default();
        let mut done: HashMap<&Region, (Vec<Uuid>, Vec<Option<String>>)> = HashMap::new();
        let mut first_error = None;
        // Events still leased to us that a database failure left unfinished: released at the next run.
        let mut orphaned: Vec<(Region, Uuid)> = Vec::new();
        for (event, outcome) in outcomes {
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(e) => {
                    first_error.get_or_insert(e);
                    orphaned.push((event.region.clone(), event.id));
                    continue;
                }
            };
            metrics::counter!("boxoffice_mails_total", "topic" => topic_label(&event.topic), "outcome" => outcome.label())
                .increment(1);
            match outcome {
                Outcome::Sent => report.sent += 1,
                Outcome::Rejected(_) => report.rejected += 1,
                Outcome::Skipped(_) => report.skipped += 1,
                Outcome::Failed(_) => report.failed += 1,
            }
            match outcome {
                Outcome::Sent => push(&mut done, event, None),
                Outcome::Rejected(error) | Outcome::Skipped(error) => push(&mut done, event, Some(error)),
                Outcome::Failed(error) => {
                    if let Err(e) = self.put_back(event, &error).await {
                        first_error.get_or_insert(e);
                        orphaned.push((event.region.clone(), event.id));
                    }
                }
            }
        }
        for (region, (ids, errors)) in done {
            if let Err(e) = store::mark_sent_many(&self.db, region, &ids, &errors).await {
                // Sent but not recorded: due again next run (at least once; the same Message-ID).
                orphaned.extend(ids.iter().map(|id| (region.clone(), *id)));
                first_error.get_or_insert(e.into());
            }
        }
        if let Some(e) = first_error {
            self.orphans.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(orphaned);
            return Err(e);
        }
        let (pending, oldest) = store::backlog(&self.db).await?;
        #[expect(clippy::cast_precision_loss, reason = "a backlog of 2^53 events is not a concern")]
        metrics::gauge!("boxoffice_outbox_pending").set(pending as f64);
        metrics::gauge!("boxoffice_outbox_oldest_pending_seconds").set(oldest);
        Ok(report)
    }

    /// One event of a batch: delivered once a permit is free, unless the server was found down meanwhile.
    async fn attempt<'a>(
        &self,
        event: &'a store::Claimed,
        permits: &Semaphore,
        outage: &OnceLock<String>,
    ) -> (&'a store::Claimed, anyhow::Result<Outcome>) {
        let _permit = permits.acquire().await;
        let outcome = match outage.get() {
            Some(error) => Ok(Outcome::Failed(error.clone())),
            None => self.deliver(event).await,
        };
        if let Ok(Outcome::Failed(error)) = &outcome {
            let _ = outage.set(error.clone());
        }
        (event, outcome)
    }

    /// Composes and sends one event's mail; the outcome is recorded by the caller, with the batch's.
    async fn deliver(&self, event: &store::Claimed) -> anyhow::Result<Outcome> {
        let skipped = |error: String| {
            tracing::warn!(event = %event.id, topic = %event.topic, %error, "outbox event has no mail");
            Ok(Outcome::Skipped(error))
        };
        let booking: BookingEvent = match serde_json::from_value(event.payload.clone()) {
            Ok(booking) => booking,
            Err(e) => return skipped(format!("payload: {e}")),
        };
        let Some(context) = store::mail_context(&self.db, &event.region, booking.showtime_id, booking.user_id).await?
        else {
            return skipped("the showtime or the user is gone".into());
        };
        let Some(mail) = mail::compose(&event.topic, &booking, &context, self.tickets.as_ref()) else {
            return skipped(format!("no mail for topic {}", event.topic));
        };
        match self.mailer.send(event.id, &mail).await {
            Ok(()) => Ok(Outcome::Sent),
            Err(SendError::Permanent(error)) => {
                tracing::warn!(event = %event.id, booking = %booking.booking_id, %error, "mail refused for good");
                Ok(Outcome::Rejected(error))
            }
            Err(SendError::Transient(error)) => Ok(Outcome::Failed(error)),
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

    async fn put_back(&self, event: &store::Claimed, error: &str) -> anyhow::Result<()> {
        let delay = backoff(event.attempts);
        tracing::warn!(event = %event.id, attempts = event.attempts, %error, retry_in_secs = delay.as_secs(), "mail delivery failed");
        store::mark_failed(&self.db, &event.region, event.id, error, delay).await?;
        Ok(())
    }
}

/// Adds a finished event to its region's list.
fn push<'a>(
    done: &mut HashMap<&'a Region, (Vec<Uuid>, Vec<Option<String>>)>,
    event: &'a store::Claimed,
    error: Option<String>,
) {
    let (ids, errors) = done.entry(&event.region).or_default();
    ids.push(event.id);
    errors.push(error);
}

/// The lease of a claim: the batch's sends in rounds of `concurrency`, each allowed the whole SMTP timeout, plus the
/// first back-off as a margin (the run is abandoned half-way through that margin: [`Dispatcher::run_timeout`]).
fn lease(timeout: Duration, batch: i64, concurrency: usize) -> Duration {
    let batch = u64::try_from(batch).unwrap_or(u64::MAX);
    let rounds = batch.div_ceil(u64::try_from(concurrency.max(1)).unwrap_or(1));
    timeout.saturating_mul(u32::try_from(rounds).unwrap_or(u32::MAX)) + FIRST_BACKOFF
}

/// What became of one event, with the reason kept on the row when it was not sent.
enum Outcome {
    Sent,
    Rejected(String),
    Skipped(String),
    Failed(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Rejected(_) => "rejected",
            Self::Skipped(_) => "skipped",
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

    #[test]
    fn the_lease_covers_the_batch_in_rounds_of_concurrent_sends() {
        let timeout = Duration::from_secs(5);
        assert_eq!(lease(timeout, 200, 16), Duration::from_secs(13 * 5 + 30));
        assert_eq!(lease(timeout, 50, 1), Duration::from_secs(50 * 5 + 30));
        assert_eq!(lease(timeout, 16, 16), Duration::from_secs(5 + 30));
        assert_eq!(lease(timeout, 1, 0), Duration::from_secs(5 + 30));
    }
}
