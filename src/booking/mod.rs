//! The booking side (the write path): holds, purchases, cancellations, expiry, and the idempotency of each
//! (DESIGN.md §6–7). It must never sell a seat twice: the claim's primary key is the guard (I1), every
//! multi-statement write is one SERIALIZABLE transaction through [`crate::db::retry`], and the payment call happens
//! between transactions, never inside one.
//!
//! Routes: `POST /bookings`, `GET /bookings/{bookingId}`, `PUT /bookings/{bookingId}/finalize`,
//! `DELETE /bookings/{bookingId}`, `POST /bookings/{bookingId}/extend`, `GET /users/me/bookings`.
//!
//! Rooms: [`model`] (pure rules), [`pick`] (best available: the pure seat picker), [`store`] (SQL), [`service`] (the protocol: transactions, payments, post-commit
//! effects; also used by the worker's reconciler), [`sweep`] (the worker's bounded hold-expiry sweeper), [`routes`]
//! (HTTP), [`gate`] (the in-process seat gate a hold passes before its transaction), [`combine`] (group commit: the
//! holds that wait for a write connection go together in one transaction).

pub mod combine;
pub mod gate;
pub mod model;
pub mod pick;
pub mod routes;
pub mod service;
pub mod store;
pub mod sweep;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{delete, get, post, put};
use tokio::sync::OnceCell;

use crate::auth::token::TokenKeys;
use crate::db::{Region, RetryError};
use crate::edge::Edge;
use crate::error::{ApiError, Problem};
use model::{Refusal, ShowtimeClosed};

pub use service::BookingService;

/// The booking routes, for any state that yields the [`BookingService`], the token keys and the [`Edge`]. Every write
/// (hold, finalize, cancel) counts against the caller's write quota, shared by every pod
/// ([`crate::edge::middleware::user_writes`]); reads do not. Cancellations count too: each is a SERIALIZABLE
/// transaction and, for a paid booking, a refund through the payment provider.
pub fn router<S>(state: S) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<BookingService>: FromRef<S>,
    // Best available reads the showtime's layout and seat map through the catalog's caches.
    Arc<crate::catalog::CatalogState>: FromRef<S>,
    Arc<TokenKeys>: FromRef<S>,
    Arc<Edge>: FromRef<S>,
{
    let writes = axum::middleware::from_fn_with_state(state, crate::edge::middleware::user_writes::<S>);
    Router::new()
        .route("/bookings", post(routes::hold).route_layer(writes.clone()))
        .route(
            "/bookings/{booking_id}",
            get(routes::get_booking).merge(delete(routes::cancel).route_layer(writes.clone())),
        )
        .route("/bookings/{booking_id}/finalize", put(routes::finalize).route_layer(writes.clone()))
        .route("/bookings/{booking_id}/extend", post(routes::extend).route_layer(writes))
        .route("/users/me/bookings", get(routes::my_bookings))
}

/// Why the booking protocol did not do what was asked; each becomes one problem type (see the `From` impl).
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// The showtime does not exist.
    #[error("no such showtime")]
    UnknownShowtime,
    /// The showtime takes no holds.
    #[error("the showtime takes no bookings: {0:?}")]
    ShowtimeClosed(ShowtimeClosed),
    /// The screen has no such seats.
    #[error("unknown seats: {0:?}")]
    UnknownSeats(Vec<String>),
    /// Seats held or sold by someone else.
    #[error("seats unavailable: {0:?}")]
    SeatsUnavailable(Vec<String>),
    /// The per-user cap on the showtime.
    #[error("seat limit {limit} exceeded ({already_held} already held)")]
    SeatLimit {
        /// The cap.
        limit: usize,
        /// The user's live seats on the showtime before this hold.
        already_held: usize,
    },
    /// A refusal of the state machine or of authorization.
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// The Idempotency-Key was used for another request.
    #[error("idempotency key reused for another request")]
    KeyReused,
    /// The first request with this Idempotency-Key is still running.
    #[error("idempotency key in flight")]
    KeyInFlight,
    /// The issuer declined the charge.
    #[error("payment declined: {reason}")]
    Declined {
        /// The provider's code.
        reason: String,
    },
    /// The provider did not answer in time (outcome unknown; the reconciler resolves it).
    #[error("payment provider timeout")]
    PaymentTimeout,
    /// The provider failed.
    #[error("payment provider error: {0}")]
    PaymentProvider(String),
    /// The circuit breaker is open; nothing was attempted.
    #[error("payments paused for {retry_after:?}")]
    PaymentPaused {
        /// When to try again.
        retry_after: Duration,
    },
    /// The payment succeeded after the hold lapsed and the seats could not be re-claimed.
    #[error("hold lapsed during payment (refunded: {refunded})")]
    LapsedDuringPayment {
        /// Whether the refund went through already (otherwise the reconciler retries it).
        refunded: bool,
    },
    /// The payment succeeded after the showtime was canceled, so its seats could not be claimed.
    #[error("showtime canceled during payment (refunded: {refunded})")]
    CanceledDuringPayment {
        /// Whether the refund went through already (otherwise the reconciler retries it).
        refunded: bool,
    },
    /// No seats fit a best-available request.
    #[error("no seats fit: {}", .0.as_str())]
    NoFit(pick::NoFit),
    /// A best-available proposal would strand a seat: the seats beyond it, taken since the pick, are listed (the
    /// service picks again; should it reach a client, it reads as seats unavailable).
    #[error("the proposal would strand a seat next to {0:?}")]
    WouldStrand(Vec<String>),
    /// The hold was extended as often as allowed.
    #[error("hold extended {limit} times already")]
    ExtensionLimit {
        /// The configured number of extensions.
        limit: u32,
    },
    /// The hold already runs until the showtime starts.
    #[error("the hold already lasts until the showtime starts")]
    ExtensionPastStart,
    /// Transaction retries exhausted.
    #[error("contention: {0:#}")]
    Contended(anyhow::Error),
    /// The database is unreachable, or a COMMIT's outcome could not be established.
    #[error("database unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// A fault on our side.
    #[error("internal: {0:#}")]
    Internal(anyhow::Error),
}

impl From<tokio_postgres::Error> for BookingError {
    fn from(err: tokio_postgres::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<deadpool_postgres::PoolError> for BookingError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(err.into())
    }
}

impl From<Refusal> for BookingError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl BookingError {
    /// The failure of a [`crate::db::retry`] call that did not abort with a business answer (the callers match
    /// `Aborted` themselves; here it can only be a logic error).
    pub fn from_retry<E: std::fmt::Debug>(err: RetryError<E>) -> Self {
        match err {
            RetryError::Exhausted { tx, attempts, last } => {
                Self::Contended(anyhow::Error::new(last).context(format!("{tx}: {attempts} attempts")))
            }
            RetryError::AmbiguousCommit { tx, source } => {
                Self::Unavailable(anyhow::Error::new(source).context(format!("{tx}: outcome of COMMIT unknown")))
            }
            RetryError::Pool(e) => Self::Unavailable(e.into()),
            RetryError::Db(e) => Self::Internal(e.into()),
            RetryError::Aborted(answer) => Self::Internal(anyhow::anyhow!("unexpected transaction abort: {answer:?}")),
        }
    }
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl From<BookingError> for ApiError {
    fn from(err: BookingError) -> Self {
        use BookingError as E;
        match err {
            E::UnknownShowtime => ApiError::new(Problem::UnknownShowtime, "the showtime does not exist"),
            E::ShowtimeClosed(reason) => ApiError::new(
                Problem::ShowtimeClosed,
                match reason {
                    ShowtimeClosed::Canceled => "the showtime was canceled",
                    ShowtimeClosed::Started => "the showtime has started; it takes no more bookings",
                },
            )
            .with("reason", reason),
            E::UnknownSeats(seats) => {
                ApiError::new(Problem::UnknownSeats, format!("the screen has no seats {}", seats.join(", ")))
                    .with("unknownSeats", seats)
            }
            E::SeatsUnavailable(seats) => ApiError::new(
                Problem::SeatsUnavailable,
                format!("seats {} are held or sold; pick others", seats.join(", ")),
            )
            .with("unavailableSeats", seats),
            E::SeatLimit { limit, already_held } => ApiError::new(
                Problem::SeatLimitExceeded,
                format!("at most {limit} seats per person on a showtime; you already hold {already_held}"),
            )
            .with("limit", limit)
            .with("alreadyHeld", already_held),
            E::Refused(Refusal::NotFound) => ApiError::new(Problem::NotFound, "no such booking"),
            E::Refused(Refusal::NotAllowed(why)) => ApiError::new(Problem::Forbidden, why),
            E::Refused(Refusal::HoldExpired) => {
                ApiError::new(Problem::HoldExpired, "the hold has expired; its seats may be someone else's now")
            }
            E::Refused(Refusal::PaymentInProgress) => ApiError::new(
                Problem::PaymentInProgress,
                "a payment for this booking is under way or its outcome is being established; retry shortly",
            )
            .retry_after(5),
            E::Refused(Refusal::WrongState(status)) => {
                ApiError::new(Problem::BookingStateConflict, format!("the booking is {status}"))
                    .with("bookingStatus", status)
            }
            E::KeyReused => ApiError::new(
                Problem::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request; use a new key for a new request",
            ),
            E::KeyInFlight => ApiError::new(
                Problem::IdempotencyKeyInFlight,
                "the first request with this Idempotency-Key is still running; retry shortly",
            )
            .retry_after(1),
            E::Declined { reason } => {
                ApiError::new(Problem::PaymentDeclined, "the payment was declined; the seats stay held until the hold expires")
                    .with("reason", reason)
            }
            E::PaymentTimeout => ApiError::new(
                Problem::PaymentTimeout,
                "the payment provider did not answer in time; the booking stays payment_pending until the outcome \
                 is known (GET the booking)",
            ),
            E::PaymentProvider(cause) => ApiError::new(
                Problem::PaymentProviderError,
                "the payment provider failed; the booking's payment is being reconciled (GET the booking)",
            )
            .caused_by(anyhow::anyhow!(cause)),
            E::PaymentPaused { retry_after } => ApiError::new(
                Problem::PaymentUnavailable,
                "payments are paused after repeated provider failures; nothing was charged",
            )
            .retry_after(secs_ceil(retry_after).max(1)),
            E::LapsedDuringPayment { refunded } => ApiError::new(
                Problem::HoldExpired,
                if refunded {
                    "the hold lapsed before the payment completed and its seats were taken; the payment was refunded"
                } else {
                    "the hold lapsed before the payment completed and its seats were taken; the payment will be refunded"
                },
            )
            .with("refunded", refunded),
            E::CanceledDuringPayment { refunded } => ApiError::new(
                Problem::ShowtimeClosed,
                if refunded {
                    "the showtime was canceled while the payment was processed; the booking is canceled and the \
                     payment was refunded"
                } else {
                    "the showtime was canceled while the payment was processed; the booking is canceled and the \
                     payment will be refunded"
                },
            )
            .with("reason", ShowtimeClosed::Canceled)
            .with("refunded", refunded),
            E::NoFit(reason) => ApiError::new(
                Problem::NoSeatsFit,
                match reason {
                    pick::NoFit::NotEnoughSeats => "fewer seats of that kind are free than requested",
                    pick::NoFit::NoBlockFits => {
                        "no row has that many seats side by side without leaving a single seat stranded; allow a \
                         split (best.allowSplit) or ask for fewer"
                    }
                    pick::NoFit::NoAccessibleFit => {
                        "no wheelchair space with companion seats fits the request; ask for fewer seats"
                    }
                },
            )
            .with("reason", reason.as_str()),
            E::WouldStrand(seats) => ApiError::new(
                Problem::SeatsUnavailable,
                format!("seats {} were taken meanwhile; pick again", seats.join(", ")),
            )
            .with("unavailableSeats", seats),
            E::ExtensionLimit { limit } => ApiError::new(
                Problem::HoldExtensionRefused,
                format!("a hold may be extended {limit} time(s); this one has been"),
            )
            .with("reason", "limit-reached")
            .with("limit", limit),
            E::ExtensionPastStart => ApiError::new(
                Problem::HoldExtensionRefused,
                "the hold already lasts until the showtime starts; it cannot be extended further",
            )
            .with("reason", "showtime-starts"),
            E::Contended(cause) => {
                ApiError::unavailable("too much contention on this showtime right now; retry shortly", 1).caused_by(cause)
            }
            E::Unavailable(cause) => ApiError::unavailable(
                "the database is unavailable; retry shortly (a write with the same Idempotency-Key, if it had one)",
                2,
            )
            .caused_by(cause),
            E::Internal(cause) => ApiError::internal(cause),
        }
    }
}

/// An in-process cache of immutable id -> region mappings (showtimes, bookings: DESIGN.md §4 "a showtime id resolves
/// to its region through an immutable, cached lookup"). Bounded: when full it is cleared (misses only cost one
/// indexed lookup). A `RwLock` because reads dominate and no await happens while it is held.
///
/// Concurrent misses of one id make one lookup ([`RegionCache::get_or_fetch`]): an on-sale's first second is a
/// thousand holds of a showtime no request of this process has resolved yet, and each would otherwise take a pooled
/// connection for the same answer.
#[derive(Debug)]
pub struct RegionCache<K> {
    map: RwLock<HashMap<K, Region>>,
    capacity: usize,
    /// Lookups under way, shared by the requests that missed meanwhile.
    fetching: Mutex<HashMap<K, Arc<OnceCell<Option<Region>>>>>,
}

impl<K: Copy + Eq + std::hash::Hash> RegionCache<K> {
    /// An empty cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self { map: RwLock::new(HashMap::new()), capacity, fetching: Mutex::new(HashMap::new()) }
    }

    /// The cached region of `id`.
    pub fn get(&self, id: K) -> Option<Region> {
        self.map.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id).cloned()
    }

    /// Remembers the region of `id`.
    pub fn insert(&self, id: K, region: Region) {
        let mut map = self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(id, region);
    }

    /// The region of `id`: cached, or looked up by `fetch` once for all the requests that miss at the same time
    /// (`None`: no such id, not cached). A failed lookup is tried again by the next waiter.
    ///
    /// # Errors
    /// The lookup's.
    pub async fn get_or_fetch<E, Fut>(&self, id: K, fetch: impl FnOnce() -> Fut) -> Result<Option<Region>, E>
    where
        Fut: Future<Output = Result<Option<Region>, E>>,
    {
        if let Some(region) = self.get(id) {
            return Ok(Some(region));
        }
        let fetching = || self.fetching.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let cell = fetching().entry(id).or_default().clone();
        let result = cell.get_or_try_init(fetch).await.cloned();
        {
            let mut fetching = fetching();
            if fetching.get(&id).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                fetching.remove(&id);
            }
        }
        if let Ok(Some(region)) = &result {
            self.insert(id, region.clone());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn the_region_cache_is_bounded() {
        let cache = RegionCache::new(2);
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        cache.insert(a, Region::new("us-east"));
        cache.insert(b, Region::new("us-west"));
        assert_eq!(cache.get(a), Some(Region::new("us-east")));
        cache.insert(c, Region::new("us-central"));
        assert_eq!(cache.get(c), Some(Region::new("us-central")));
        assert_eq!(cache.get(a), None, "cleared when full");
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_id_make_one_lookup_and_a_failure_is_not_cached() {
        let cache = Arc::new(RegionCache::new(10));
        let id = Uuid::from_u128(7);
        let lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failed: Result<Option<Region>, &str> = cache.get_or_fetch(id, || async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        let start = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (cache, lookups, start) = (cache.clone(), lookups.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    cache
                        .get_or_fetch(id, || async move {
                            lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok::<_, ()>(Some(Region::new("us-west")))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task"), Ok(Some(Region::new("us-west"))));
        }
        assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 1, "one lookup for 50 concurrent misses");
        assert_eq!(cache.get(id), Some(Region::new("us-west")));
    }

    #[test]
    fn every_booking_error_is_a_problem_with_its_extensions() {
        let cases: Vec<(BookingError, u16, &str)> = vec![
            (BookingError::UnknownShowtime, 422, "unknown-showtime"),
            (BookingError::ShowtimeClosed(ShowtimeClosed::Started), 409, "showtime-closed"),
            (BookingError::UnknownSeats(vec!["Z99".into()]), 422, "unknown-seats"),
            (BookingError::SeatsUnavailable(vec!["A1".into()]), 409, "seats-unavailable"),
            (BookingError::SeatLimit { limit: 10, already_held: 9 }, 409, "seat-limit-exceeded"),
            (BookingError::Refused(Refusal::NotFound), 404, "not-found"),
            (BookingError::Refused(Refusal::HoldExpired), 410, "hold-expired"),
            (BookingError::Refused(Refusal::PaymentInProgress), 409, "payment-in-progress"),
            (BookingError::Refused(Refusal::WrongState(model::BookingStatus::Expired)), 409, "booking-state-conflict"),
            (BookingError::KeyReused, 422, "idempotency-key-reused"),
            (BookingError::KeyInFlight, 409, "idempotency-key-in-flight"),
            (BookingError::Declined { reason: "card_declined".into() }, 402, "payment-declined"),
            (BookingError::PaymentTimeout, 504, "payment-timeout"),
            (BookingError::PaymentProvider("500".into()), 502, "payment-provider-error"),
            (BookingError::PaymentPaused { retry_after: Duration::from_millis(1500) }, 503, "payment-unavailable"),
            (BookingError::LapsedDuringPayment { refunded: true }, 410, "hold-expired"),
            (BookingError::CanceledDuringPayment { refunded: true }, 409, "showtime-closed"),
        ];
        for (err, status, slug) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status, "{slug}");
            let body = api.body();
            assert_eq!(body["type"], format!("https://boxoffice.dev/problems/{slug}"));
            // Extensions never shadow the RFC 9457 members.
            assert_eq!(body["status"], status, "{slug}: {body}");
        }
        let body = ApiError::from(BookingError::SeatsUnavailable(vec!["A1".into(), "A2".into()])).body();
        assert_eq!(body["unavailableSeats"], serde_json::json!(["A1", "A2"]));
        let body = ApiError::from(BookingError::SeatLimit { limit: 10, already_held: 9 }).body();
        assert_eq!((body["limit"].as_u64(), body["alreadyHeld"].as_u64()), (Some(10), Some(9)));
    }
}
