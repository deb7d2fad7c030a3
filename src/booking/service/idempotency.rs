//! Idempotency of the booking writes (DESIGN.md §6, I3): a request's key and fingerprint, the response stored
//! with it, and the one reading of a key found taken: its stored response replayed, or the refusal of a key reused
//! for another request or still in flight.

use serde_json::Value;

use super::{BookingService, Stop, to_json};
use crate::auth::model::UserId;
use crate::booking::BookingError;
use crate::booking::model::{Booking, IdempotencyKey, KeyVerdict, judge_key};
use crate::booking::store::{self, KeyClaim};
use crate::db::{Region, Tx, TxError};

/// A request's idempotency: its key and fingerprint ([`super::model::request_hash`]).
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The `Idempotency-Key` header.
    pub key: IdempotencyKey,
    /// Hash of method, route, user and canonical body.
    pub request_hash: String,
}

/// A response stored with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body (a booking, or a problem document).
    pub body: Value,
}

/// The idempotency key of a request in flight, for completing or releasing it later.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyRef<'a> {
    pub(super) user: UserId,
    pub(super) key: &'a str,
}

impl Idempotency {
    pub(super) fn key_ref(&self, user: UserId) -> KeyRef<'_> {
        KeyRef { user, key: self.key.as_str() }
    }
}

impl BookingService {
    /// An in-flight claim of `idem` (NULL response).
    pub(super) fn in_flight<'a>(&self, region: &'a Region, user: UserId, idem: &'a Idempotency) -> KeyClaim<'a> {
        KeyClaim {
            region,
            user,
            key: idem.key.as_str(),
            request_hash: &idem.request_hash,
            response: None,
            abandon_after_secs: self.abandon_after.as_secs_f64(),
        }
    }
}

/// The verdict of an existing idempotency key on a request (`None`: the key is gone, expired meanwhile).
pub(super) async fn existing_key(
    tx: &Tx,
    region: &Region,
    user: UserId,
    idem: &Idempotency,
) -> Result<Option<Stop>, tokio_postgres::Error> {
    let Some(stored) = store::find_key(tx, region, user, idem.key.as_str()).await? else { return Ok(None) };
    Ok(Some(match judge_key(&stored.request_hash, stored.response, &idem.request_hash) {
        KeyVerdict::Replay { status, body } => Stop::Replay(StoredResponse { status, body }),
        KeyVerdict::Reused => Stop::Refused(BookingError::KeyReused),
        KeyVerdict::InFlight => Stop::Refused(BookingError::KeyInFlight),
    }))
}

/// Stops with the existing key's verdict when a key claim found the key taken.
/// Records `view` as the answer (200) of the request's idempotency key, when it has one.
pub(super) async fn answer_key(
    tx: &Tx,
    region: &Region,
    user: UserId,
    idem: Option<&Idempotency>,
    view: &Booking,
) -> Result<(), TxError<Stop>> {
    if let Some(idem) = idem {
        store::complete_key(tx, region, user, idem.key.as_str(), 200, &to_json(view)?).await?;
    }
    Ok(())
}

pub(super) async fn check_claimed(
    tx: &Tx,
    region: &Region,
    user: UserId,
    idem: Option<&Idempotency>,
    claimed: Option<bool>,
) -> Result<(), TxError<Stop>> {
    match (idem, claimed) {
        (Some(idem), Some(false)) => {
            let stop = existing_key(tx, region, user, idem).await?.unwrap_or(Stop::Refused(BookingError::KeyInFlight));
            Err(TxError::Abort(stop))
        }
        _ => Ok(()),
    }
}
