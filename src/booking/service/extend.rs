//! Extending a hold (issue #20, part 3): `POST /bookings/{id}/extend` adds `BOXOFFICE_HOLD_EXTENSION_SECS` to a live
//! hold of its owner, at most `BOXOFFICE_HOLD_EXTENSIONS_MAX` times, never past the showtime's start
//! ([`crate::booking::model::extend_until`] decides). One SERIALIZABLE transaction: `extend_state.sql` reads the
//! count, the decision is made, then `extend_hold.sql` raises the count and moves the expiry of the booking and of its
//! claims with the COMMIT. Two concurrent extensions of one hold cannot both pass the count: one is rolled back and
//! rerun, and then sees it. The sweeper reads `bookings.hold_expires_at`, and the seat cache's entry is invalidated
//! after the commit, so neither lets the seats go at the old expiry.
use crate::auth::AuthUser;
use crate::booking::BookingError;
use crate::booking::model::{Booking, BookingId, ExtendRefused, extend_until};
use crate::booking::store;
use crate::db::{self, RetryError, TxError};

use super::BookingService;

impl BookingService {
    /// Extends a hold (see the module docs).
    ///
    /// # Errors
    /// Not found (or not the caller's), not the owner (an admin), expired (410), being paid, paid or canceled, the
    /// showtime closed, the limit reached or the hold already at the start (409); database failures.
    pub async fn extend(&self, caller: AuthUser, id: BookingId) -> Result<Booking, BookingError> {
        let region = &self.booking_region(id).await?;
        let (limit, by) = (self.limits.hold_extensions_max, self.limits.hold_extension);
        let extended = db::retry(&self.db, "extend_hold", |tx| async move {
            let Some(state) = store::extend_state(&tx, region, id).await? else {
                return Err(TxError::Abort(ExtendRefused::Refused(crate::booking::model::Refusal::NotFound)));
            };
            let until = extend_until(
                state.user_id,
                caller.id,
                caller.is_admin(),
                state.status,
                state.hold_expires_at,
                state.extensions,
                (&state.showtime_status, state.start_time),
                limit,
                by,
                state.now,
            )
            .map_err(TxError::Abort)?;
            store::extend_hold_and_commit(&tx, region, id, until).await
        })
        .await;
        match extended {
            Ok(Some(found)) => {
                // The cache entry expired with the old hold at the latest; a fresh one takes the new expiry.
                self.seats.invalidate(found.booking.showtime_id);
                metrics::counter!("boxoffice_hold_extensions_total").increment(1);
                Ok(found.booking.as_seen_at(found.now))
            }
            // The row read a moment before in the same transaction is gone: cannot happen; say so.
            Ok(None) => Err(BookingError::Internal(anyhow::anyhow!("booking {id} vanished while extended"))),
            Err(RetryError::Aborted(refused)) => Err(match refused {
                ExtendRefused::Refused(refusal) => BookingError::Refused(refusal),
                ExtendRefused::Closed(closed) => BookingError::ShowtimeClosed(closed),
                ExtendRefused::Limit(limit) => BookingError::ExtensionLimit { limit },
                ExtendRefused::PastStart => BookingError::ExtensionPastStart,
            }),
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }
}
