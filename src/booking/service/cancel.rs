//! Cancelling a booking (DESIGN.md §6 "Cancel"): a hold is released in one transaction; a paid booking is refunded
//! first, then canceled.
use std::sync::Arc;

use serde_json::Value;

use super::idempotency::answer_key;
use super::{Answer, BookingService, CancelCommand, Stop, abort, disagreement, outbox_payload, to_json};
use crate::booking::BookingError;
use crate::booking::model::{Action, Booking, BookingStatus, CancelStep, Refusal, cancel_step};
use crate::booking::store::{self, Found, Guarded, StatusChange};
use crate::db::{self, Region, RetryError, Tx, TxError};
use crate::payment::store::{self as payment_store, PaymentStatus};
use crate::payment::{GatewayError, RefundRequest, refund_key};

/// What cancel's first transaction decided.
enum CancelStart {
    Done { booking: Booking, released: bool },
    NeedsRefund { booking: Booking, attempt: i32, charge_id: String, amount: i64 },
}

impl BookingService {
    /// Cancels a booking (DESIGN.md §6 "Cancel"): a hold is released; a paid booking is refunded first.
    ///
    /// # Errors
    /// Not found, expired, payment under way, refund failures, key reuse; database failures.
    pub async fn cancel(&self, cmd: &CancelCommand) -> Result<Answer<Booking>, BookingError> {
        let region = &self.booking_region(cmd.booking).await?;
        let start = db::retry(&self.db, "cancel", |tx| self.cancel_start(tx, region, cmd)).await;
        let key = cmd.idempotency.as_ref().map(|i| i.key_ref(cmd.caller.id));
        let (booking, attempt, charge_id, amount) = match start {
            Ok(CancelStart::Done { booking, released }) => {
                if released {
                    self.after_claims_changed(booking.showtime_id);
                    metrics::counter!("boxoffice_bookings_total", "outcome" => "canceled").increment(1);
                }
                return Ok(Answer::Fresh(booking));
            }
            Ok(CancelStart::NeedsRefund { booking, attempt, charge_id, amount }) => {
                (booking, attempt, charge_id, amount)
            }
            Err(RetryError::Aborted(Stop::Replay(stored))) => return Ok(Answer::Replayed(stored)),
            Err(RetryError::Aborted(Stop::Refused(err))) => return Err(err),
            Err(err) => return Err(BookingError::from_retry(err)),
        };
        let refund =
            RefundRequest { idempotency_key: refund_key(booking.id.0, attempt), charge_id: charge_id.clone(), amount };
        if let Err(err) = self.payments.refund(refund).await {
            if let Some(k) = key {
                let released = db::retry(&self.db, "cancel_release_key", |tx| async move {
                    store::release_key(&tx, region, k.user, k.key).await?;
                    Ok::<_, TxError<()>>(())
                })
                .await;
                if let Err(e) = released {
                    tracing::warn!(booking = %booking.id, error = %e, "could not release the idempotency key");
                }
            }
            return Err(match err {
                GatewayError::Timeout => BookingError::PaymentTimeout,
                GatewayError::CircuitOpen { retry_after } => BookingError::PaymentPaused { retry_after },
                GatewayError::Unavailable(why) | GatewayError::Rejected(why) => BookingError::PaymentProvider(why),
            });
        }
        let booking = &booking;
        let done = db::retry(&self.patient, "cancel_refunded", |tx| async move {
            let succeeded = [PaymentStatus::Succeeded];
            let paid = [BookingStatus::Paid];
            let (_, changed) = store::resolve_and_change(
                &tx,
                (region, booking.id, attempt, PaymentStatus::Refunded, None, &succeeded),
                StatusChange::Set { status: BookingStatus::Canceled, expected: &paid, hold: None, payment_ref: None },
            )
            .await?;
            let released = changed.is_some();
            let Some(found) = (match changed {
                Some(found) => Some(found),
                None => store::find(&tx, region, booking.id).await?,
            }) else {
                return Err(TxError::Abort(()));
            };
            let view = found.booking.as_seen_at(found.now);
            let body = serde_json::to_value(&view).unwrap_or(Value::Null);
            let key_outcome = key.map(|k| (region, k.user, k.key, Some((200, &body))));
            if released {
                let payload = outbox_payload(&view);
                store::settle(&tx, &view, None, Some(("booking.canceled", &payload)), key_outcome).await?;
            } else if let Some(k) = key {
                store::complete_key(&tx, region, k.user, k.key, 200, &body).await?;
            }
            Ok((view, released))
        })
        .await;
        match done {
            Ok((view, released)) => {
                if released {
                    self.after_claims_changed(view.showtime_id);
                    metrics::counter!("boxoffice_bookings_total", "outcome" => "canceled").increment(1);
                }
                Ok(Answer::Fresh(view))
            }
            Err(RetryError::Aborted(())) => Err(Refusal::NotFound.into()),
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    async fn cancel_start(
        &self,
        tx: Arc<Tx>,
        region: &Region,
        cmd: &CancelCommand,
    ) -> Result<CancelStart, TxError<Stop>> {
        let user = cmd.caller.id;
        let guarded = Guarded::CancelHold { user, admin: cmd.caller.is_admin() };
        let idem = cmd.idempotency.as_ref();
        let (Found { booking, now }, after, _) =
            self.guarded_start(&tx, region, &cmd.caller, idem, cmd.booking, guarded, Action::Cancel).await?;
        match cancel_step(booking.status, booking.hold_expires_at, now).or_else(abort)? {
            CancelStep::AlreadyCanceled => {
                let view = booking.as_seen_at(now);
                answer_key(&tx, region, user, idem, &view).await?;
                Ok(CancelStart::Done { booking: view, released: false })
            }
            CancelStep::Release => {
                let Some(canceled) = after else { return abort(disagreement(booking.id, "cancel_hold")) };
                let view = canceled.booking.as_seen_at(canceled.now);
                let body = to_json(&view)?;
                let payload = outbox_payload(&view);
                let key_outcome =
                    cmd.idempotency.as_ref().map(|idem| (region, user, idem.key.as_str(), Some((200, &body))));
                store::settle(&tx, &view, None, Some(("booking.canceled", &payload)), key_outcome).await?;
                Ok(CancelStart::Done { booking: view, released: true })
            }
            CancelStep::RefundThenRelease => {
                let Some(payment) = payment_store::find_succeeded(&tx, region, booking.id.0).await? else {
                    return abort(disagreement(booking.id, "paid booking without a successful charge"));
                };
                Ok(CancelStart::NeedsRefund {
                    booking,
                    attempt: payment.attempt,
                    charge_id: payment.provider_ref,
                    amount: payment.amount,
                })
            }
        }
    }
}
