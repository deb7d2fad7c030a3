//! The seat gate: which seats of a showtime a hold of this process is claiming right now. A hold enters the gate
//! with its seats before its transaction and leaves it when the transaction is over; a concurrent hold of this process
//! that asks for any of those seats is answered 409 at once, without a transaction.
//!
//! Why: in an on-sale stampede most requests ask for a seat that another request is claiming at that moment. Sent
//! to the database, each would wait for the winner's row lock and commit, fail with a serialization error, back off,
//! run again and only then learn the seat is taken: tens of milliseconds of a pooled connection and a transaction,
//! to say no. The gate says the same no in microseconds.
//!
//! What it is not: the double-booking guard. That stays the claim's primary key (I1): the gate is per process, knows
//! nothing of other pods, and forgets a seat as soon as its transaction ends. Its one inaccuracy is the one DESIGN.md
//! I6 allows a cache: a seat refused because a concurrent hold was claiming it, when that hold then fails for another
//! reason (another of its seats was taken, its user's cap), was in fact free for that instant: a 409 the client
//! retries, never a double sale. A request that collides with its own Idempotency-Key learns that its first attempt
//! is still running instead.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use crate::auth::model::UserId;

const SHARDS: usize = 16;

/// Who is claiming a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    user: UserId,
    key: Option<String>,
}

/// Seats being claimed, per showtime. Sharded by showtime so that holds of different showtimes rarely share a lock;
/// each lock is held for a few map operations and never across an await.
#[derive(Debug)]
pub struct SeatGate {
    shards: Vec<Mutex<HashMap<Uuid, HashMap<String, Holder>>>>,
}

/// Why the gate refused a hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// These seats are being claimed by another request.
    Busy(Vec<String>),
    /// The caller's own request with the same Idempotency-Key is claiming them.
    SameKey,
}

impl Default for SeatGate {
    fn default() -> Self {
        Self::new()
    }
}

impl SeatGate {
    /// An empty gate.
    pub fn new() -> Self {
        Self { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn shard(&self, showtime: Uuid) -> MutexGuard<'_, HashMap<Uuid, HashMap<String, Holder>>> {
        let index = (showtime.as_u128() % SHARDS as u128) as usize;
        // A poisoned lock means a panic elsewhere while holding it; the map is still consistent (every change is
        // one insert or remove).
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enters `labels` of `showtime` for `user` (with the request's Idempotency-Key, if any); the pass leaves the gate
    /// when dropped.
    ///
    /// # Errors
    /// The seats already being claimed, or [`Refused::SameKey`].
    pub fn enter(
        &self,
        showtime: Uuid,
        labels: &[String],
        user: UserId,
        key: Option<&str>,
    ) -> Result<Pass<'_>, Refused> {
        let mut shard = self.shard(showtime);
        let seats = shard.entry(showtime).or_default();
        let busy: Vec<&Holder> = labels.iter().filter_map(|l| seats.get(l)).collect();
        if !busy.is_empty() {
            let same_key = key.is_some() && busy.iter().any(|h| h.user == user && h.key.as_deref() == key);
            let refused = if same_key {
                Refused::SameKey
            } else {
                Refused::Busy(labels.iter().filter(|l| seats.contains_key(*l)).cloned().collect())
            };
            if seats.is_empty() {
                shard.remove(&showtime);
            }
            return Err(refused);
        }
        let holder = Holder { user, key: key.map(str::to_owned) };
        for label in labels {
            seats.insert(label.clone(), holder.clone());
        }
        Ok(Pass { gate: self, showtime, labels: labels.to_vec() })
    }

    /// How many showtimes have seats in the gate (tests check that it empties).
    pub fn showtimes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len()).sum()
    }
}

/// Seats in the gate for one hold; they leave it when this is dropped.
#[derive(Debug)]
pub struct Pass<'a> {
    gate: &'a SeatGate,
    showtime: Uuid,
    labels: Vec<String>,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut shard = self.gate.shard(self.showtime);
        if let Some(seats) = shard.get_mut(&self.showtime) {
            for label in &self.labels {
                seats.remove(label);
            }
            if seats.is_empty() {
                shard.remove(&self.showtime);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn seats_being_claimed_are_refused_until_the_claim_ends() {
        let gate = SeatGate::new();
        let show = Uuid::from_u128(1);
        let (alice, bob) = (UserId(Uuid::from_u128(10)), UserId(Uuid::from_u128(11)));
        let pass = gate.enter(show, &labels(&["A1", "A2"]), alice, None).expect("free");
        assert_eq!(gate.enter(show, &labels(&["A2", "A3"]), bob, None).map(drop), Err(Refused::Busy(labels(&["A2"]))));
        // Other seats, and the same seats of another showtime, are not affected.
        let other = gate.enter(show, &labels(&["A3"]), bob, None).expect("free");
        let elsewhere = gate.enter(Uuid::from_u128(2), &labels(&["A1"]), bob, None).expect("free");
        drop((pass, other, elsewhere));
        assert!(gate.enter(show, &labels(&["A2", "A3"]), bob, None).is_ok());
        assert_eq!(gate.showtimes(), 0, "the gate empties");
    }

    #[test]
    fn a_request_colliding_with_its_own_key_is_told_so() {
        let gate = SeatGate::new();
        let show = Uuid::from_u128(1);
        let alice = UserId(Uuid::from_u128(10));
        let _first = gate.enter(show, &labels(&["A1"]), alice, Some("k1")).expect("free");
        assert_eq!(gate.enter(show, &labels(&["A1"]), alice, Some("k1")).map(drop), Err(Refused::SameKey));
        assert_eq!(
            gate.enter(show, &labels(&["A1"]), alice, Some("k2")).map(drop),
            Err(Refused::Busy(labels(&["A1"])))
        );
        let bob = UserId(Uuid::from_u128(11));
        assert_eq!(gate.enter(show, &labels(&["A1"]), bob, Some("k1")).map(drop), Err(Refused::Busy(labels(&["A1"]))));
    }
}
