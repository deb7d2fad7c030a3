//! The worker's reconciler of charge attempts whose outcome was lost (the sweeper of lapsed holds is
//! [`crate::booking::sweep`]).
use std::time::Duration;

use super::BookingService;
use super::payment::{ChargeAttempt, Release};
use crate::booking::BookingError;
use crate::booking::model::BookingId;
use crate::payment::store::{self as payment_store, PaymentStatus};
use crate::payment::{Charge, ChargeStatus, charge_key};

/// What a reconciler run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Bookings changed (expired; or paid/released/refunded).
    pub resolved: u64,
    /// Items left for a later run (provider unreachable, contention).
    pub deferred: u64,
}

impl BookingService {
    /// The reconciler: for each charge attempt unresolved for longer than `older_than`, asks the provider what
    /// happened (by the attempt's idempotency key) and completes the booking (paid, or refunded if its seats are
    /// gone) or releases it (back to `reserved`, or `expired` if the hold has lapsed).
    ///
    /// # Errors
    /// Database failures while listing the attempts; failures on one attempt are logged and left for the next run.
    pub async fn reconcile_payments(&self, older_than: Duration, batch: i64) -> Result<JobReport, BookingError> {
        let unresolved = {
            let client = self.db.write.get().await?;
            payment_store::find_unresolved(&client, older_than.as_secs_f64(), batch).await?
        };
        let mut report = JobReport::default();
        for p in unresolved {
            let id = BookingId(p.booking);
            let charge = ChargeAttempt { region: &p.region, booking: id, attempt: p.attempt };
            let outcome = match self.payments.find_charge(charge_key(p.booking, p.attempt)).await {
                Ok(Some(Charge { status: ChargeStatus::Succeeded, id: charge_id, .. })) => {
                    match self.complete_paid(charge, &charge_id, p.amount, None).await {
                        Ok(_)
                        | Err(
                            BookingError::LapsedDuringPayment { refunded: true }
                            | BookingError::CanceledDuringPayment { refunded: true },
                        ) => Ok("paid_or_refunded"),
                        Err(
                            BookingError::LapsedDuringPayment { refunded: false }
                            | BookingError::CanceledDuringPayment { refunded: false },
                        ) => Err("refund failed".to_owned()),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Ok(Some(Charge { status: ChargeStatus::Declined { .. }, id: charge_id, .. })) => {
                    let release = Release::unattended(PaymentStatus::Declined, Some(&charge_id));
                    self.release_payment(charge, release).await.map(|()| "declined").map_err(|e| e.to_string())
                }
                Ok(Some(Charge { status: ChargeStatus::Failed, .. }) | None) => {
                    let release = Release::unattended(PaymentStatus::Failed, None);
                    self.release_payment(charge, release).await.map(|()| "not_charged").map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(outcome) => {
                    report.resolved += 1;
                    metrics::counter!("boxoffice_payments_reconciled_total", "outcome" => outcome).increment(1);
                }
                Err(error) => {
                    report.deferred += 1;
                    tracing::warn!(booking = %id, attempt = p.attempt, %error, "payment not reconciled; next run retries");
                }
            }
        }
        Ok(report)
    }
}
