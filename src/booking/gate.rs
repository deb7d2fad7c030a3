//! The seat gate: which seats of a showtime a hold of this process is claiming right now, and which ones a hold of
//! this process claimed a moment ago. A hold enters the gate with its seats before its transaction and leaves it when
//! the transaction is over; a hold that committed leaves its seats behind as claimed, for a short while
//! (`BOXOFFICE_SEAT_GATE_MEMORY_MS`, never past the hold's expiry). A hold of this process that asks for any of those
//! seats is answered 409 at once, without a transaction.
//!
//! Why: in an on-sale stampede most requests ask for a seat that another request is claiming at that moment, or has
//! just claimed. Sent to the database, the first kind would wait for the winner's row lock and commit, fail with a
//! serialization error, back off, run again and only then learn the seat is taken; the second kind would take a
//! pooled connection and two round trips (the hold, then `hold_refusal.sql`) away from the holds that can still win.
//! Both cost tens of milliseconds to say no; the gate says the same no in microseconds.
//!
//! What it is not: the double-booking guard. That stays the claim's primary key (I1): the gate is per process and
//! knows nothing of other pods. Its inaccuracies are the ones DESIGN.md I6 allows a cache, a 409 the client retries,
//! never a double sale:
//! - a seat refused because a concurrent hold was claiming it, when that hold then failed for another reason
//!   (another of its seats was taken, its user's cap), was in fact free for that instant;
//! - a claimed seat that another pod, or the worker's sweeper, released is refused until its memory lapses (bounded
//!   by the memory's lifetime). What this process releases (a cancellation, an expiry, a payment given up) makes it
//!   forget the showtime's claimed seats at once ([`SeatGate::forget`]).
//!
//! A request that collides with its own Idempotency-Key in flight learns that its first attempt is still running.
//! A request with an Idempotency-Key is never refused for a claimed seat: the seat may be its own first attempt's,
//! and the key's stored response is the answer (I3).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::auth::model::UserId;
use crate::ids::ShowtimeId;

const SHARDS: usize = 16;

/// Who is claiming a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    user: UserId,
    key: Option<String>,
}

/// One showtime's seats in the gate.
#[derive(Debug, Default)]
struct Seats {
    /// Being claimed by a hold of this process, in its transaction.
    claiming: HashMap<String, Holder>,
    /// Claimed by a committed hold of this process: refused until then.
    claimed: HashMap<String, Instant>,
}

impl Seats {
    fn is_empty(&self) -> bool {
        self.claiming.is_empty() && self.claimed.is_empty()
    }
}

/// The showtimes of one shard, and when its lapsed memories are dropped next.
#[derive(Debug)]
struct Shard {
    showtimes: HashMap<ShowtimeId, Seats>,
    next_prune: Instant,
}

impl Shard {
    /// Drops the claimed seats whose memory lapsed, and the showtimes left empty, at most once per `every`.
    fn prune(&mut self, now: Instant, every: Duration) {
        if now < self.next_prune {
            return;
        }
        self.showtimes.retain(|_, seats| {
            seats.claimed.retain(|_, until| *until > now);
            !seats.is_empty()
        });
        self.next_prune = now + every.max(Duration::from_millis(100));
    }
}

/// Seats being claimed and seats claimed a moment ago, per showtime. Sharded by showtime so that holds of different
/// showtimes rarely share a lock; each lock is held for a few map operations and never across an await.
#[derive(Debug)]
pub struct SeatGate {
    shards: Vec<Mutex<Shard>>,
    /// How long a committed hold's seats are remembered as claimed (zero: not at all).
    memory: Duration,
}

/// Why the gate refused a hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// These seats are being claimed by another request, or were claimed a moment ago.
    Busy(Vec<String>),
    /// The caller's own request with the same Idempotency-Key is claiming them.
    SameKey,
}

impl SeatGate {
    /// An empty gate that remembers committed holds' seats for `memory`.
    pub fn new(memory: Duration) -> Self {
        let now = Instant::now();
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard { showtimes: HashMap::new(), next_prune: now })).collect(),
            memory,
        }
    }

    fn shard(&self, showtime: ShowtimeId) -> MutexGuard<'_, Shard> {
        let index = (showtime.0.as_u128() % SHARDS as u128) as usize;
        // A poisoned lock means a panic elsewhere while holding it; the map is still consistent (every change is
        // one insert or remove).
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enters `labels` of `showtime` for `user` (with the request's Idempotency-Key, if any); the pass leaves the gate
    /// when dropped, or leaves its seats behind as claimed ([`Pass::claimed`]).
    ///
    /// # Errors
    /// The seats being claimed or claimed a moment ago, or [`Refused::SameKey`].
    pub fn enter(
        &self,
        showtime: ShowtimeId,
        labels: &[String],
        user: UserId,
        key: Option<&str>,
    ) -> Result<Pass<'_>, Refused> {
        let now = Instant::now();
        let mut shard = self.shard(showtime);
        shard.prune(now, self.memory);
        let seats = shard.showtimes.entry(showtime).or_default();
        let claiming: Vec<&Holder> = labels.iter().filter_map(|l| seats.claiming.get(l)).collect();
        if key.is_some() && claiming.iter().any(|h| h.user == user && h.key.as_deref() == key) {
            return Err(Refused::SameKey);
        }
        // A keyed request goes to its key whatever this process remembers (see the module's notes).
        let remembered = |label: &String| key.is_none() && seats.claimed.get(label).is_some_and(|until| *until > now);
        let busy: Vec<String> =
            labels.iter().filter(|l| seats.claiming.contains_key(*l) || remembered(l)).cloned().collect();
        if !busy.is_empty() {
            let reason = if busy.iter().any(|l| seats.claiming.contains_key(l)) { "claiming" } else { "claimed" };
            if seats.is_empty() {
                shard.showtimes.remove(&showtime);
            }
            drop(shard);
            metrics::counter!("boxoffice_seat_gate_refusals_total", "reason" => reason).increment(1);
            return Err(Refused::Busy(busy));
        }
        let holder = Holder { user, key: key.map(str::to_owned) };
        for label in labels {
            seats.claimed.remove(label);
            seats.claiming.insert(label.clone(), holder.clone());
        }
        Ok(Pass { gate: self, showtime, labels: labels.to_vec() })
    }

    /// Forgets the seats of `showtime` remembered as claimed: this process released some of its claims.
    pub fn forget(&self, showtime: ShowtimeId) {
        let mut shard = self.shard(showtime);
        if let Some(seats) = shard.showtimes.get_mut(&showtime) {
            seats.claimed.clear();
            if seats.is_empty() {
                shard.showtimes.remove(&showtime);
            }
        }
    }

    /// How many seats are remembered as claimed, lapsed or not, all showtimes.
    pub fn remembered(&self) -> usize {
        self.sum(|seats| seats.claimed.len())
    }

    /// How many showtimes have seats being claimed (tests check that it empties).
    pub fn showtimes(&self) -> usize {
        self.sum(|seats| usize::from(!seats.claiming.is_empty()))
    }

    /// `count` summed over every showtime of every shard.
    fn sum(&self, count: impl Fn(&Seats) -> usize) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).showtimes.values().map(&count).sum::<usize>())
            .sum()
    }
}

/// Seats in the gate for one hold; they leave it when this is dropped.
#[derive(Debug)]
pub struct Pass<'a> {
    gate: &'a SeatGate,
    showtime: ShowtimeId,
    labels: Vec<String>,
}

impl Pass<'_> {
    /// The hold committed, its seats claimed until `expires` (the hold's expiry): they stay in the gate as claimed
    /// for the gate's memory, or until then if sooner.
    pub fn claimed(mut self, expires: Instant) {
        let until = expires.min(Instant::now() + self.gate.memory);
        let labels = std::mem::take(&mut self.labels);
        let mut shard = self.gate.shard(self.showtime);
        let seats = shard.showtimes.entry(self.showtime).or_default();
        for label in labels {
            seats.claiming.remove(&label);
            if !self.gate.memory.is_zero() {
                seats.claimed.insert(label, until);
            }
        }
        if seats.is_empty() {
            shard.showtimes.remove(&self.showtime);
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if self.labels.is_empty() {
            return;
        }
        let mut shard = self.gate.shard(self.showtime);
        if let Some(seats) = shard.showtimes.get_mut(&self.showtime) {
            for label in &self.labels {
                seats.claiming.remove(label);
            }
            if seats.is_empty() {
                shard.showtimes.remove(&self.showtime);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn labels(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn seats_being_claimed_are_refused_until_the_claim_ends() {
        let gate = SeatGate::new(Duration::ZERO);
        let show = ShowtimeId(Uuid::from_u128(1));
        let (alice, bob) = (UserId(Uuid::from_u128(10)), UserId(Uuid::from_u128(11)));
        let pass = gate.enter(show, &labels(&["A1", "A2"]), alice, None).expect("free");
        assert_eq!(gate.enter(show, &labels(&["A2", "A3"]), bob, None).map(drop), Err(Refused::Busy(labels(&["A2"]))));
        // Other seats, and the same seats of another showtime, are not affected.
        let other = gate.enter(show, &labels(&["A3"]), bob, None).expect("free");
        let elsewhere = gate.enter(ShowtimeId(Uuid::from_u128(2)), &labels(&["A1"]), bob, None).expect("free");
        drop((pass, other, elsewhere));
        assert!(gate.enter(show, &labels(&["A2", "A3"]), bob, None).is_ok());
        assert_eq!(gate.showtimes(), 0, "the gate empties");
    }

    #[test]
    fn a_request_colliding_with_its_own_key_is_told_so() {
        let gate = SeatGate::new(Duration::ZERO);
        let show = ShowtimeId(Uuid::from_u128(1));
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

    #[test]
    fn committed_seats_are_refused_for_the_memory_unless_the_request_has_a_key() {
        let gate = SeatGate::new(Duration::from_secs(60));
        let show = ShowtimeId(Uuid::from_u128(1));
        let (alice, bob) = (UserId(Uuid::from_u128(10)), UserId(Uuid::from_u128(11)));
        let far = Instant::now() + Duration::from_secs(600);
        gate.enter(show, &labels(&["A1", "A2"]), alice, None).expect("free").claimed(far);
        assert_eq!(gate.showtimes(), 0, "nothing is being claimed");
        assert_eq!(gate.remembered(), 2);
        assert_eq!(gate.enter(show, &labels(&["A2", "A3"]), bob, None).map(drop), Err(Refused::Busy(labels(&["A2"]))));
        // Alice's own retry without a key is refused as the database would (her booking holds the seat) ...
        assert_eq!(gate.enter(show, &labels(&["A1"]), alice, None).map(drop), Err(Refused::Busy(labels(&["A1"]))));
        // ... with a key it goes to the database, where the key's stored response answers it.
        drop(gate.enter(show, &labels(&["A1"]), alice, Some("k1")).expect("keyed requests pass"));
        // A seat passed through by a keyed request is no longer remembered: the database decides.
        assert!(gate.enter(show, &labels(&["A1"]), bob, None).is_ok());
        assert_eq!(gate.enter(show, &labels(&["A2"]), bob, None).map(drop), Err(Refused::Busy(labels(&["A2"]))));
        // Released by this process: forgotten at once.
        gate.forget(show);
        assert_eq!(gate.remembered(), 0);
        assert!(gate.enter(show, &labels(&["A2"]), bob, None).is_ok());
        assert_eq!(gate.showtimes(), 0);
    }

    #[test]
    fn a_memory_lapses_with_the_hold_and_is_pruned() {
        let gate = SeatGate::new(Duration::from_millis(20));
        let (show, other) = (ShowtimeId(Uuid::from_u128(1)), ShowtimeId(Uuid::from_u128(17))); // the same shard
        let (alice, bob) = (UserId(Uuid::from_u128(10)), UserId(Uuid::from_u128(11)));
        // A hold that has already expired (its expiry comes before the memory's end) blocks nothing.
        let past = Instant::now().checked_sub(Duration::from_millis(1)).expect("a past instant");
        gate.enter(show, &labels(&["A1"]), alice, None).expect("free").claimed(past);
        assert!(gate.enter(show, &labels(&["A1"]), bob, None).is_ok());
        gate.enter(show, &labels(&["B1"]), alice, None)
            .expect("free")
            .claimed(Instant::now() + Duration::from_secs(600));
        assert_eq!(gate.remembered(), 1);
        // Past the memory (and the shard's pruning interval, at least 100 ms), the next hold of the shard drops what
        // lapsed, and the showtime with it.
        std::thread::sleep(Duration::from_millis(150));
        drop(gate.enter(other, &labels(&["A1"]), bob, None).expect("free"));
        assert_eq!(gate.remembered(), 0);
    }

    #[test]
    fn without_memory_committed_seats_leave_the_gate() {
        let gate = SeatGate::new(Duration::ZERO);
        let show = ShowtimeId(Uuid::from_u128(1));
        let (alice, bob) = (UserId(Uuid::from_u128(10)), UserId(Uuid::from_u128(11)));
        gate.enter(show, &labels(&["A1"]), alice, None)
            .expect("free")
            .claimed(Instant::now() + Duration::from_secs(600));
        assert_eq!(gate.remembered(), 0);
        assert!(gate.enter(show, &labels(&["A1"]), bob, None).is_ok());
    }
}
