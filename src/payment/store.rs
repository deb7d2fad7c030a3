//! Payment SQL: one row per charge attempt of a booking (`payments`), written in the booking transactions.

use deadpool_postgres::ClientWrapper;
use uuid::Uuid;

use crate::db::{Region, queries::payment as q};

/// The status of a charge attempt (the values of `payments_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Recorded before the provider is called.
    Pending,
    /// Money taken.
    Succeeded,
    /// Declined by the issuer.
    Declined,
    /// Not charged (provider failure known to have charged nothing, or never attempted).
    Failed,
    /// The provider's answer was lost (timeout, server error): the reconciler finds out.
    Unknown,
    /// Money returned.
    Refunded,
}

impl PaymentStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
            Self::Refunded => "refunded",
        }
    }
}

/// Records a charge attempt before calling the provider; returns its attempt number.
///
/// # Errors
/// Database errors.
pub async fn insert(
    c: &ClientWrapper,
    region: &Region,
    booking: Uuid,
    provider: &str,
    amount: i64,
    currency: &str,
) -> Result<i32, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::INSERT).await?;
    c.query_one(&stmt, &[region, &booking, &provider, &amount, &currency]).await?.try_get(0)
}

/// Moves an attempt from one of `expected` to `status`; `false` when it was not in one of them (someone else
/// resolved it).
///
/// # Errors
/// Database errors.
pub async fn resolve(
    c: &ClientWrapper,
    region: &Region,
    booking: Uuid,
    attempt: i32,
    status: PaymentStatus,
    provider_ref: Option<&str>,
    expected: &[PaymentStatus],
) -> Result<bool, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::RESOLVE).await?;
    let expected: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
    let row = c.query_opt(&stmt, &[region, &booking, &attempt, &status.as_str(), &provider_ref, &expected]).await?;
    Ok(row.is_some())
}

/// A charge attempt whose outcome the reconciler must find out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// Region of the booking.
    pub region: Region,
    /// The booking.
    pub booking: Uuid,
    /// Attempt number.
    pub attempt: i32,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Attempts pending or unknown for longer than `older_than_secs`, oldest first, at most `batch`.
///
/// # Errors
/// Database errors.
pub async fn find_unresolved(
    c: &ClientWrapper,
    older_than_secs: f64,
    batch: i64,
) -> Result<Vec<Unresolved>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::FIND_UNRESOLVED).await?;
    let rows = c.query(&stmt, &[&older_than_secs, &batch]).await?;
    rows.iter()
        .map(|r| {
            Ok(Unresolved {
                region: r.try_get("region")?,
                booking: r.try_get("booking_id")?,
                attempt: r.try_get("attempt")?,
                amount: r.try_get("amount")?,
                currency: r.try_get("currency")?,
            })
        })
        .collect()
}

/// The successful charge of a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Succeeded {
    /// Attempt number.
    pub attempt: i32,
    /// The provider's charge id.
    pub provider_ref: String,
    /// Minor units.
    pub amount: i64,
}

/// The successful charge of a booking, if any.
///
/// # Errors
/// Database errors.
pub async fn find_succeeded(
    c: &ClientWrapper,
    region: &Region,
    booking: Uuid,
) -> Result<Option<Succeeded>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::FIND_SUCCEEDED).await?;
    let Some(row) = c.query_opt(&stmt, &[region, &booking]).await? else { return Ok(None) };
    Ok(Some(Succeeded {
        attempt: row.try_get("attempt")?,
        provider_ref: row.try_get::<_, Option<String>>("provider_ref")?.unwrap_or_default(),
        amount: row.try_get("amount")?,
    }))
}
