//! Tickets and the door: one signed ticket per seat of a paid booking, and check-in that admits each ticket exactly
//! once (issue #21; the contract for scanners, online and offline, is in `src/tickets/README.md`).
//!
//! Routes: `GET /tickets/keys` (anyone: the public keys, JWKS-like), `GET /bookings/{id}/tickets` (owner, admin),
//! `POST /checkins` (staff), `POST /checkins/batch` (staff: an offline scanner's upload), `GET
//! /showtimes/{id}/tickets` (staff: what an offline scanner downloads).
//!
//! Rooms: [`token`] (the signed binary token), [`model`] (the door's decision), [`store`] (SQL), [`routes`]
//! (handlers), [`render`] (QR codes and the calendar entry, for the mail and the web client).

pub mod model;
pub mod render;
pub mod routes;
pub mod store;
pub mod token;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::token::TokenKeys;
use crate::booking::{BookingError, BookingService, RegionCache};
use crate::config::Config;
use crate::db::{self, Db, Region, RetryError, TxError};
use crate::ids::ShowtimeId;
use model::{Admission, Scan, Verdict};
use token::{TicketClaims, TicketKeys, TokenError};

/// What the ticket handlers share.
pub struct TicketService {
    db: Db,
    /// `None` without `BOXOFFICE_TICKET_KEYS`: no ticket is shown and the door answers 503.
    keys: Option<Arc<TicketKeys>>,
    showtime_regions: RegionCache<ShowtimeId>,
}

impl std::fmt::Debug for TicketService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketService").field("keys", &self.keys).finish_non_exhaustive()
    }
}

/// The outcome of one scan, as the door reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckIn {
    /// Admitted by this scan (`replayed`: by this scanner before, and answered as then).
    Admitted {
        /// The ticket.
        ticket: TicketClaims,
        /// The admission.
        admission: Admission,
        /// Whether this was the same scanner's retry.
        replayed: bool,
    },
    /// Admitted before by another scan (409).
    AlreadyAdmitted {
        /// The ticket.
        ticket: TicketClaims,
        /// The first admission.
        first: Admission,
    },
    /// The booking was canceled (410).
    Canceled(TicketClaims),
    /// The ticket is for another theater or showtime (409).
    WrongShowtime(TicketClaims),
    /// Not a ticket of ours (400).
    Forged(TokenError),
}

impl CheckIn {
    /// The metric label of the outcome.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Admitted { replayed: false, .. } => "admitted",
            Self::Admitted { replayed: true, .. } => "replayed",
            Self::AlreadyAdmitted { .. } => "already_admitted",
            Self::Canceled(_) => "canceled",
            Self::WrongShowtime(_) => "wrong_showtime",
            Self::Forged(_) => "forged",
        }
    }
}

const REGION_CACHE_CAPACITY: usize = 100_000;

impl TicketService {
    /// The service with the configured keys.
    pub fn new(db: Db, config: &Config) -> Self {
        let keys = TicketKeys::from_seeds(&config.auth.ticket_keys).map(Arc::new);
        Self { db, keys, showtime_regions: RegionCache::new(REGION_CACHE_CAPACITY) }
    }

    /// The keys, when configured.
    pub fn keys(&self) -> Option<&Arc<TicketKeys>> {
        self.keys.as_ref()
    }

    async fn showtime_region(&self, showtime: Uuid) -> Result<Option<Region>, BookingError> {
        let showtime = ShowtimeId(showtime);
        self.showtime_regions
            .get_or_fetch(showtime, || async {
                let client = self.db.write.get().await?;
                Ok::<_, BookingError>(crate::booking::store::showtime_region(&client, showtime).await?)
            })
            .await
    }

    /// Checks a ticket in: verifies the token, then, in one SERIALIZABLE transaction, reads the ticket, its
    /// booking and showtime, decides ([`model::decide`]) and admits with a conditional UPDATE. Two scanners of
    /// one ticket: one commits the admission, the other's transaction conflicts, is retried, and reads it.
    /// `scanned_at`: an offline scanner's scan time (first by scan time wins); `None`: now, online.
    ///
    /// # Errors
    /// No keys configured ([`BookingError::Unavailable`]); database failures and exhausted retries.
    pub async fn check_in(
        &self,
        token: &str,
        scan: Scan,
        scanned_at: Option<OffsetDateTime>,
    ) -> Result<CheckIn, BookingError> {
        let keys = self.keys.as_ref().ok_or_else(|| {
            BookingError::Unavailable(anyhow::anyhow!("BOXOFFICE_TICKET_KEYS is not set: tickets are off"))
        })?;
        let ticket = match keys.verify(token) {
            Ok(claims) => claims,
            Err(err) => return Ok(CheckIn::Forged(err)),
        };
        let Some(region) = self.showtime_region(ticket.showtime).await? else {
            return Ok(CheckIn::Forged(TokenError::Layout));
        };
        let mode = if scanned_at.is_some() { "offline" } else { "online" };
        let ticket_ref = &ticket;
        let region = &region;
        let attempt = || {
            db::retry(&self.db, "checkin", move |tx| async move {
                let key = (ticket_ref.booking, ticket_ref.seat.as_str(), ticket_ref.showtime);
                let Some((view, now)) = store::door_view(&tx, region, key).await? else {
                    return Err(TxError::Abort(None));
                };
                let verdict = match (model::decide(&view, ticket_ref.showtime, &scan), scanned_at) {
                    // Offline, only the same scan uploaded again is a retry; the same scanner's second scan of a
                    // ticket is a second person.
                    (Verdict::Replay(first), Some(at)) if first.admitted_at != at => Verdict::AlreadyAdmitted(first),
                    (verdict, _) => verdict,
                };
                let offline = scanned_at.is_some();
                let admission = Admission {
                    admitted_at: scanned_at.unwrap_or(now),
                    admitted_by: scan.scanner,
                    theater_id: scan.door,
                };
                // Offline, an earlier scan than the recorded one takes the admission over (first by scan time).
                let takes_over = offline
                    && matches!(verdict, Verdict::AlreadyAdmitted(first) if first.admitted_at > admission.admitted_at);
                if (verdict == Verdict::Admit || takes_over)
                    && !store::admit(&tx, region, (ticket_ref.booking, &ticket_ref.seat), &admission, offline).await?
                {
                    // The read above said it could: in the same snapshot, only a bug gets here.
                    return Err(TxError::Abort(Some(Verdict::Admit)));
                }
                Ok((verdict, admission, takes_over))
            })
        };
        let mut result = attempt().await;
        if let Err(RetryError::AmbiguousCommit { .. }) = result {
            // Was the admission recorded? Asking again answers it: this scanner's own admission is a replay.
            result = attempt().await;
        }
        let outcome = match result {
            Ok((Verdict::Admit, admission, _)) | Ok((_, admission, true)) => {
                CheckIn::Admitted { ticket, admission, replayed: false }
            }
            Ok((Verdict::Replay(first), _, _)) => CheckIn::Admitted { ticket, admission: first, replayed: true },
            Ok((Verdict::AlreadyAdmitted(first), _, _)) => CheckIn::AlreadyAdmitted { ticket, first },
            Ok((Verdict::Canceled, _, _)) => CheckIn::Canceled(ticket),
            Ok((Verdict::WrongShowtime, _, _)) => CheckIn::WrongShowtime(ticket),
            // Signed by us, yet no such ticket of that showtime: a key leaked or a bug; refused as forged.
            Err(RetryError::Aborted(None)) => CheckIn::Forged(TokenError::Layout),
            Err(err) => return Err(BookingError::from_retry(err)),
        };
        metrics::counter!("boxoffice_checkins_total", "outcome" => outcome.outcome(), "mode" => mode).increment(1);
        Ok(outcome)
    }

    /// The tickets of a booking the caller may see (empty unless paid), with their tokens.
    ///
    /// # Errors
    /// Not found (or not the caller's); no keys; database failures.
    pub async fn of_booking(
        &self,
        bookings: &BookingService,
        caller: crate::auth::AuthUser,
        id: crate::booking::model::BookingId,
    ) -> Result<Vec<routes::Ticket>, BookingError> {
        let booking = bookings.get(caller, id).await?;
        let keys = self.signing_keys()?;
        let client = self.db.write.get().await?;
        let rows = store::of_booking(&client, &booking.region, id.0).await?;
        let paid = booking.status == crate::booking::model::BookingStatus::Paid;
        rows.into_iter().filter(|_| paid).map(|row| routes::Ticket::of(keys, row)).collect()
    }

    /// A showtime's valid tickets, for an offline scanner (`None`: no such showtime).
    ///
    /// # Errors
    /// No keys; database failures.
    pub async fn of_showtime(&self, showtime: Uuid) -> Result<Option<Vec<routes::Ticket>>, BookingError> {
        let keys = self.signing_keys()?;
        let Some(region) = self.showtime_region(showtime).await? else { return Ok(None) };
        let client = self.db.write.get().await?;
        let rows = store::of_showtime(&client, &region, showtime).await?;
        rows.into_iter().map(|row| routes::Ticket::of(keys, row)).collect::<Result<_, _>>().map(Some)
    }

    fn signing_keys(&self) -> Result<&TicketKeys, BookingError> {
        self.keys.as_deref().ok_or_else(|| {
            BookingError::Unavailable(anyhow::anyhow!("BOXOFFICE_TICKET_KEYS is not set: tickets are off"))
        })
    }
}

/// The ticket routes, for any state that yields the ticket and booking services and the token keys.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<TicketService>: FromRef<S>,
    Arc<BookingService>: FromRef<S>,
    Arc<TokenKeys>: FromRef<S>,
{
    Router::new()
        .route("/tickets/keys", get(routes::keys))
        .route("/bookings/{booking_id}/tickets", get(routes::booking_tickets))
        .route("/showtimes/{showtime_id}/tickets", get(routes::showtime_tickets))
        .route("/checkins", post(routes::check_in))
        .route("/checkins/batch", post(routes::check_in_batch))
}
