//! Paying for a hold (DESIGN.md §6 "Finalize"), and the transactions that settle a charge attempt's outcome, shared
//! with the worker's reconciler ([`super::jobs`]): paid (seats claimed for good), released (back to `reserved`, or
//! `expired`), unknown (left to the reconciler), or refunded when the seats are gone.
use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use super::idempotency::{KeyRef, StoredResponse, answer_key};
use super::{Answer, BookingService, FinalizeCommand, Stop, abort, outbox_payload, previous_owners};
use crate::booking::BookingError;
use crate::booking::model::{Action, Booking, BookingId, BookingStatus, FinalizeStep, Refusal, finalize_step};
use crate::booking::store::{self, Found, Guarded, StatusChange};
use crate::db::{self, Region, RetryError, Tx, TxError};
use crate::error::ApiError;
use crate::payment::store::{self as payment_store, PaymentStatus};
use crate::payment::{Charge, ChargeRequest, ChargeStatus, GatewayError, RefundRequest, charge_key, refund_key};

/// What finalize's first transaction decided.
enum Start {
    AlreadyPaid(Booking),
    Charge { booking: Booking, attempt: i32, original_hold: Option<OffsetDateTime> },
}

/// One charge attempt of a booking: what every transaction that settles a payment's outcome is about.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChargeAttempt<'a> {
    /// The booking's region.
    pub(super) region: &'a Region,
    /// The booking.
    pub(super) booking: BookingId,
    /// The attempt's number (`payments.attempt`).
    pub(super) attempt: i32,
}

/// How a charge attempt known not to have taken money is settled ([`BookingService::release_payment`]).
#[derive(Debug)]
pub(super) struct Release<'a> {
    /// The attempt's final status (declined, failed).
    pub(super) status: PaymentStatus,
    /// The provider's reference of the charge, when there was one.
    pub(super) charge_ref: Option<&'a str>,
    /// The hold before the payment window, restored; `None`: keep the current one.
    pub(super) restore_hold: Option<OffsetDateTime>,
    /// The request's idempotency key: given `stored` as its response, or released when there is none.
    pub(super) key: Option<KeyRef<'a>>,
    /// The response to store with the key.
    pub(super) stored: Option<StoredResponse>,
}

impl Release<'_> {
    /// A release by the reconciler: no request waits on it, and the hold stays as it is.
    pub(super) fn unattended(status: PaymentStatus, charge_ref: Option<&str>) -> Release<'_> {
        Release { status, charge_ref, restore_hold: None, key: None, stored: None }
    }
}

/// Why completing a paid booking stopped.
#[derive(Debug)]
enum Completion {
    /// Someone else (the request or the reconciler) resolved this attempt first.
    AlreadyResolved,
    /// The seats cannot be had (taken over after the hold lapsed, or the booking ended): refund.
    Refund,
    /// The booking does not exist.
    Missing,
}

impl BookingService {
    /// Pays for a held booking (DESIGN.md §6 "Finalize").
    ///
    /// # Errors
    /// Not found / not allowed, expired hold, payment under way, decline, provider timeout or failure, paused
    /// payments, key reuse; database failures.
    pub async fn finalize(&self, cmd: &FinalizeCommand) -> Result<Answer<Booking>, BookingError> {
        let region = self.booking_region(cmd.booking).await?;
        if let Some(retry_after) = self.payments.breaker().open_for() {
            // Fail fast, touching nothing: no charge would be attempted anyway.
            metrics::counter!("boxoffice_bookings_total", "outcome" => "payment_failed").increment(1);
            return Err(BookingError::PaymentPaused { retry_after });
        }
        // The patient budget: a payment the buyer is waiting on should not fail for contention with other buyers'
        // holds of the same showtime (page-granular SERIALIZABLE conflicts on PostgreSQL; the load run's k6 booking
        // scenario saw 17% of finalizes exhaust the default 8 attempts).
        let start = db::retry(&self.patient, "finalize_start", |tx| self.finalize_start(tx, &region, cmd)).await;
        let (booking, attempt, original_hold) = match start {
            Ok(Start::AlreadyPaid(booking)) => return Ok(Answer::Fresh(booking)),
            Ok(Start::Charge { booking, attempt, original_hold }) => (booking, attempt, original_hold),
            Err(RetryError::Aborted(Stop::Replay(stored))) => return Ok(Answer::Replayed(stored)),
            Err(RetryError::Aborted(Stop::Refused(err))) => return Err(err),
            Err(err) => return Err(BookingError::from_retry(err)),
        };
        let key = cmd.idempotency.as_ref().map(|i| i.key_ref(cmd.caller.id));
        let request = ChargeRequest {
            idempotency_key: charge_key(booking.id.0, attempt),
            amount: booking.total,
            currency: booking.currency.clone(),
            token: cmd.token.clone(),
        };
        let charged = self.payments.charge(request).await;
        if !matches!(charged, Ok(Charge { status: ChargeStatus::Succeeded, .. })) {
            metrics::counter!("boxoffice_bookings_total", "outcome" => "payment_failed").increment(1);
        }
        let charge = ChargeAttempt { region: &region, booking: booking.id, attempt };
        // Every outcome but a success and a lost answer took no money: the attempt is released the same way.
        let (status, charge_ref, stored, err) = match charged {
            Ok(Charge { status: ChargeStatus::Succeeded, id: charge_id, .. }) => {
                return self.complete_paid(charge, &charge_id, booking.total, key).await;
            }
            Err(GatewayError::Timeout) => {
                self.payment_unknown(charge, key).await?;
                return Err(BookingError::PaymentTimeout);
            }
            Err(GatewayError::Unavailable(why)) => {
                self.payment_unknown(charge, key).await?;
                return Err(BookingError::PaymentProvider(why));
            }
            Ok(Charge { status: ChargeStatus::Declined { reason }, id: charge_id, .. }) => {
                let body = ApiError::from(BookingError::Declined { reason: reason.clone() }).body();
                let stored = StoredResponse { status: 402, body };
                (PaymentStatus::Declined, Some(charge_id), Some(stored), BookingError::Declined { reason })
            }
            Ok(Charge { status: ChargeStatus::Failed, .. }) => (
                PaymentStatus::Failed,
                None,
                None,
                BookingError::PaymentProvider("the provider reported the charge as failed".into()),
            ),
            Err(GatewayError::Rejected(why)) => (
                PaymentStatus::Failed,
                None,
                None,
                BookingError::PaymentProvider(format!("the provider refused the charge request: {why}")),
            ),
            // Nothing was attempted: the hold goes back as it was.
            Err(GatewayError::CircuitOpen { retry_after }) => {
                (PaymentStatus::Failed, None, None, BookingError::PaymentPaused { retry_after })
            }
        };
        let release = Release { status, charge_ref: charge_ref.as_deref(), restore_hold: original_hold, key, stored };
        self.release_payment(charge, release).await?;
        Err(err)
    }

    async fn finalize_start(
        &self,
        tx: Arc<Tx>,
        region: &Region,
        cmd: &FinalizeCommand,
    ) -> Result<Start, TxError<Stop>> {
        let guarded = Guarded::StartPayment { user: cmd.caller.id, window_secs: self.payment_window.as_secs_f64() };
        let idem = cmd.idempotency.as_ref();
        let (Found { booking, now }, after, attempt) =
            self.guarded_start(&tx, region, &cmd.caller, idem, cmd.booking, guarded, Action::Pay).await?;
        match finalize_step(booking.status, booking.hold_expires_at, now).or_else(abort)? {
            FinalizeStep::AlreadyPaid => {
                let view = booking.as_seen_at(now);
                answer_key(&tx, region, cmd.caller.id, idem, &view).await?;
                Ok(Start::AlreadyPaid(view))
            }
            FinalizeStep::Charge => {
                let (Some(started), Some(attempt)) = (after, attempt) else {
                    // Its showtime was canceled or has started (or a bug): see showtime_cancel.
                    return abort(super::showtime_cancel::not_started(&tx, region, &booking).await?);
                };
                let extended = started.booking.hold_expires_at != booking.hold_expires_at;
                let provider = self.payments.provider();
                store::extend_claims_and_record_payment(&tx, &started.booking, extended, provider, attempt).await?;
                Ok(Start::Charge { booking: started.booking, attempt, original_hold: booking.hold_expires_at })
            }
        }
    }

    /// event, and the key's response; if the seats cannot be had, the charge is refunded.
    pub(super) async fn complete_paid(
        &self,
        charge: ChargeAttempt<'_>,
        charge_id: &str,
        amount: i64,
        key: Option<KeyRef<'_>>,
    ) -> Result<Answer<Booking>, BookingError> {
        let ChargeAttempt { region, booking: id, attempt } = charge;
        // A charge has been taken: giving up here means a 503 and a wait for the reconciler, so this transaction is
        // given a larger retry budget than the others.
        let result = db::retry(&self.patient, "finalize_complete", |tx| async move {
            let pending = [PaymentStatus::Pending, PaymentStatus::Unknown];
            let from = [BookingStatus::PaymentPending, BookingStatus::Expired, BookingStatus::Reserved];
            let (resolved, paid) = store::resolve_and_change(
                &tx,
                (region, id, attempt, PaymentStatus::Succeeded, Some(charge_id), &pending),
                StatusChange::Set {
                    status: BookingStatus::Paid,
                    expected: &from,
                    hold: None,
                    payment_ref: Some(charge_id),
                },
            )
            .await?;
            if !resolved {
                return Err(TxError::Abort(Completion::AlreadyResolved));
            }
            let Some(paid) = paid else {
                // Paid by another attempt, canceled, or gone: this charge cannot buy anything.
                return Err(TxError::Abort(match store::find(&tx, region, id).await? {
                    Some(_) => Completion::Refund,
                    None => Completion::Missing,
                }));
            };
            let view = paid.booking.as_seen_at(paid.now);
            let payload = outbox_payload(&view);
            let body = serde_json::to_value(&view).unwrap_or(Value::Null);
            let labels = view.labels();
            let key_outcome = key.map(|k| (region, k.user, k.key, Some((200, &body))));
            let claimed =
                store::settle(&tx, &view, Some(&labels), Some(("booking.paid", &payload)), key_outcome).await?;
            if claimed.len() < labels.len() {
                return Err(TxError::Abort(Completion::Refund));
            }
            // One ticket per seat, in the transaction that makes the booking paid (src/tickets).
            crate::tickets::store::issue(&tx, region, id, view.showtime_id, &labels).await?;
            let taken_over = previous_owners(&claimed, id);
            if !taken_over.is_empty() {
                store::expire_taken_over(&tx, region, &taken_over).await?;
            }
            Ok((view, taken_over.len()))
        })
        .await;
        match result {
            Ok((view, taken_over)) => {
                self.after_claims_changed(view.showtime_id);
                metrics::counter!("boxoffice_bookings_total", "outcome" => "paid").increment(1);
                if taken_over > 0 {
                    metrics::counter!("boxoffice_holds_expired_total", "by" => "takeover").increment(taken_over as u64);
                }
                Ok(Answer::Fresh(view))
            }
            Err(RetryError::Aborted(Completion::AlreadyResolved)) => {
                let found = self.find_committed(region, id).await?.ok_or(Refusal::NotFound)?;
                Ok(Answer::Fresh(found.booking.as_seen_at(found.now)))
            }
            Err(RetryError::Aborted(Completion::Missing)) => Err(Refusal::NotFound.into()),
            Err(RetryError::Aborted(Completion::Refund)) => {
                Err(self.refund_late_payment(charge, charge_id, amount, key).await?)
            }
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    /// A charge that succeeded for seats the booking no longer has: refund it, record it, and end the booking:
    /// `canceled`, with a cancellation mail, when its showtime was canceled meanwhile (the showtime's cancellation
    /// leaves a payment under way to its request); `expired` otherwise. Returns the answer for the client
    /// ([`BookingError::LapsedDuringPayment`] or [`BookingError::CanceledDuringPayment`]), which says whether the
    /// refund went through (if not, the attempt stays unresolved and the reconciler retries; the refund's
    /// idempotency key makes that safe).
    async fn refund_late_payment(
        &self,
        charge: ChargeAttempt<'_>,
        charge_id: &str,
        amount: i64,
        key: Option<KeyRef<'_>>,
    ) -> Result<BookingError, BookingError> {
        let ChargeAttempt { region, booking: id, attempt } = charge;
        let refund =
            RefundRequest { idempotency_key: refund_key(id.0, attempt), charge_id: charge_id.to_owned(), amount };
        let refunded = match self.payments.refund(refund).await {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(booking = %id, attempt, error = %err, "refund of a late payment failed; the reconciler retries");
                false
            }
        };
        let stored = |answer: BookingError| {
            let error = ApiError::from(answer);
            StoredResponse { status: error.status().as_u16(), body: error.body() }
        };
        let (lapsed, canceled) = (
            stored(BookingError::LapsedDuringPayment { refunded }),
            stored(BookingError::CanceledDuringPayment { refunded }),
        );
        let result = db::retry(&self.db, "finalize_refund", |tx| {
            let (lapsed, canceled) = (&lapsed, &canceled);
            async move {
                if refunded {
                    let pending = [PaymentStatus::Pending, PaymentStatus::Unknown];
                    payment_store::resolve(
                        &tx,
                        region,
                        id.0,
                        attempt,
                        PaymentStatus::Refunded,
                        Some(charge_id),
                        &pending,
                    )
                    .await?;
                }
                let (mut released, mut showtime_canceled) = (None, false);
                if let Some(Found { booking, .. }) = store::find(&tx, region, id).await?
                    && matches!(booking.status, BookingStatus::PaymentPending | BookingStatus::Reserved)
                {
                    let from = [BookingStatus::PaymentPending, BookingStatus::Reserved];
                    showtime_canceled = store::showtime_canceled(&tx, region, booking.showtime_id).await?;
                    let status = if showtime_canceled { BookingStatus::Canceled } else { BookingStatus::Expired };
                    store::set_status(&tx, region, id, status, &from, booking.hold_expires_at, None).await?;
                    released = (store::delete_claims(&tx, region, id).await? > 0).then_some(booking.showtime_id);
                    if showtime_canceled {
                        // The mail a showtime's cancellation sends (`release_holds.sql`, `refunded.sql`), naming
                        // the charge only once it is refunded.
                        let ended = Booking { status, payment_ref: refunded.then(|| charge_id.to_owned()), ..booking };
                        let mut payload = outbox_payload(&ended);
                        payload["reason"] = "showtime_canceled".into();
                        store::insert_outbox(&tx, region, "booking.canceled", &payload).await?;
                    }
                }
                if let Some(k) = key {
                    let stored = if showtime_canceled { canceled } else { lapsed };
                    if refunded {
                        store::complete_key(&tx, region, k.user, k.key, stored.status, &stored.body).await?;
                    } else {
                        store::release_key(&tx, region, k.user, k.key).await?;
                    }
                }
                Ok::<_, TxError<()>>((released, showtime_canceled))
            }
        })
        .await;
        match result {
            Ok((released, showtime_canceled)) => {
                if let Some(showtime) = released {
                    self.after_claims_changed(showtime);
                }
                Ok(if showtime_canceled {
                    BookingError::CanceledDuringPayment { refunded }
                } else {
                    BookingError::LapsedDuringPayment { refunded }
                })
            }
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    /// A charge known not to have taken money (declined, failed, never attempted): the attempt gets its status, and
    /// a booking still `payment_pending` goes back to `reserved` with the hold it had before the payment window (or
    /// its current one) — or to `expired`, claims released, if that hold has lapsed. The key gets the stored
    /// response, or is released when there is none.
    pub(super) async fn release_payment(
        &self,
        charge: ChargeAttempt<'_>,
        release: Release<'_>,
    ) -> Result<(), BookingError> {
        let ChargeAttempt { region, booking: id, attempt } = charge;
        let Release { status, charge_ref, restore_hold, key, stored } = release;
        let stored = &stored;
        let result = db::retry(&self.patient, "finalize_release", |tx| async move {
            let pending = [PaymentStatus::Pending, PaymentStatus::Unknown];
            let (resolved, reverted) = store::resolve_and_change(
                &tx,
                (region, id, attempt, status, charge_ref, &pending),
                StatusChange::Revert { hold: restore_hold },
            )
            .await?;
            if !resolved {
                return Ok(None);
            }
            let mut released = None;
            match reverted {
                Some(Found { booking: Booking { hold_expires_at: Some(hold), .. }, .. }) => {
                    store::set_claims_expiry(&tx, region, id, hold).await?;
                }
                _ => {
                    // Not reverted: the booking moved on, or its hold has lapsed and it ends here.
                    if let Some(Found { booking, .. }) = store::find(&tx, region, id).await?
                        && booking.status == BookingStatus::PaymentPending
                    {
                        let from = [BookingStatus::PaymentPending];
                        let hold = booking.hold_expires_at;
                        store::set_status(&tx, region, id, BookingStatus::Expired, &from, hold, None).await?;
                        store::delete_claims(&tx, region, id).await?;
                        released = Some(booking.showtime_id);
                    }
                }
            }
            if let Some(k) = key {
                match stored {
                    Some(r) => store::complete_key(&tx, region, k.user, k.key, r.status, &r.body).await?,
                    None => store::release_key(&tx, region, k.user, k.key).await?,
                }
            }
            Ok::<_, TxError<()>>(released)
        })
        .await;
        match result {
            Ok(Some(showtime)) => {
                self.after_claims_changed(showtime);
                metrics::counter!("boxoffice_holds_expired_total", "by" => "payment").increment(1);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(err) => Err(BookingError::from_retry(err)),
        }
    }

    /// The provider's answer was lost: the attempt becomes `unknown` (the booking stays `payment_pending` for the
    /// reconciler) and the key is released so that a retry sees the booking's state rather than this error.
    async fn payment_unknown(&self, charge: ChargeAttempt<'_>, key: Option<KeyRef<'_>>) -> Result<(), BookingError> {
        let ChargeAttempt { region, booking: id, attempt } = charge;
        db::retry(&self.db, "finalize_unknown", |tx| async move {
            let pending = [PaymentStatus::Pending];
            payment_store::resolve(&tx, region, id.0, attempt, PaymentStatus::Unknown, None, &pending).await?;
            if let Some(k) = key {
                store::release_key(&tx, region, k.user, k.key).await?;
            }
            Ok::<_, TxError<()>>(())
        })
        .await
        .map_err(BookingError::from_retry)
    }
}
