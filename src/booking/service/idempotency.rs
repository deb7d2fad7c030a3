//! Idempotency of the booking writes (DESIGN.md §6, I3): a request's key and fingerprint, the response stored
//! with it, and the one reading of a key found taken: its stored response replayed, or the refusal of a key reused
//! for another request or still in flight.
use deadpool_postgres::ClientWrapper;
use serde_json::Value;

use super::{BookingService, Stop, to_json};
use crate::auth::model::UserId;
use crate::booking::BookingError;
use crate::booking::model::{Booking, IdempotencyKey, KeyVerdict, judge_key};
use crate::booking::store::{self, KeyClaim};
use crate::db::{Region, Tx, TxError};

/// A request's idempotency: its key and fingerprint ([`crate::booking::model::request_hash`]).
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
    /// The key's owner.
    pub(super) user: UserId,
    /// The key.
    pub(super) key: &'a str,
}

impl Idempotency {
    /// The key of this request by `user`, to complete or release later.
    pub(super) fn key_ref(&self, user: UserId) -> KeyRef<'_> {
        KeyRef { user, key: self.key.as_str() }
    }

    /// The verdict on this request of its key as stored now: `Ok`, the stored response to replay; `Err`, the
    /// refusal of a key used for another request or still in flight. `None`: there is no such key (it expired
    /// meanwhile). Read on `c`: inside the transaction that found the key taken, or on a connection of its own.
    pub(super) async fn verdict(
        &self,
        c: &ClientWrapper,
        region: &Region,
        user: UserId,
    ) -> Result<Option<Result<StoredResponse, BookingError>>, tokio_postgres::Error> {
        let Some(stored) = store::find_key(c, region, user, self.key.as_str()).await? else { return Ok(None) };
        Ok(Some(match judge_key(&stored.request_hash, stored.response, &self.request_hash) {
            KeyVerdict::Replay { status, body } => Ok(StoredResponse { status, body }),
            KeyVerdict::Reused => Err(BookingError::KeyReused),
            KeyVerdict::InFlight => Err(BookingError::KeyInFlight),
        }))
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

/// Stops with the key's verdict when the claim of the request's key found it taken (`claimed`: what the claim
/// reported). A key gone by the time it is read was taken by a request still in flight a moment ago.
pub(super) async fn check_claimed(
    tx: &Tx,
    region: &Region,
    user: UserId,
    idem: Option<&Idempotency>,
    claimed: Option<bool>,
) -> Result<(), TxError<Stop>> {
    match (idem, claimed) {
        (Some(idem), Some(false)) => Err(TxError::Abort(match idem.verdict(tx, region, user).await? {
            Some(Ok(stored)) => Stop::Replay(stored),
            Some(Err(refusal)) => Stop::Refused(refusal),
            None => Stop::Refused(BookingError::KeyInFlight),
        })),
        _ => Ok(()),
    }
}
