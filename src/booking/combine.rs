//! Group commit of holds: when every write connection is busy, the holds of one region waiting for one are committed
//! together, in one transaction of one round trip and one statement (BEGIN, `hold_batch.sql`, COMMIT).
//!
//! Why: in an on-sale the winners of the seat gate all want a write connection at once. One at a time, each hold is a
//! transaction: a pooled connection, a round trip, a WAL flush, and 200 of them through 16 connections queue in about
//! 13 waves while a thousand other requests share the CPU. Waiting together, they go in a few transactions. One
//! statement for the batch, rather than `hold.sql` once per hold, pays PostgreSQL's statement start-up once: 22% less
//! database CPU a hold with 7 holds a batch (pgbench), and the on-sale's p99 12% lower (interleaved stampedes). Each
//! hold is still all or nothing as in `hold.sql` (seats claimed, showtime open, per-user cap kept), and the database's
//! guards (I1) are the same.
//!
//! How: a hold that finds the pool exhausted (or a batch of its region already forming) joins its region's queue; the
//! one that finds the queue empty starts a runner task. The runner waits for a connection through `db::retry` and,
//! once it has one, takes the queue (at most `max` holds; a runner is started for the rest) and runs them. A batch
//! is one region's, because a transaction should stay in its region's partition (CockroachDB: `REGIONAL BY ROW`).
//! Its holds run in the global order of claim locks, so that batches deadlock neither each other nor single holds;
//! a hold that does not fit that order waits for the next batch, then runs alone ([`in_lock_order`]). So does a
//! user's second hold on a showtime: in one statement the cap check of each hold sees only what committed before, so
//! it could not count the first ([`one_per_buyer`]).
//! The runner is a task of its own so that a client that goes away cannot take its batch with it.
//!
//! Each hold gets its batch's [`Outcome`]:
//! - committed: its own row, or none when it claimed nothing (its seats were taken): it is then explained as any
//!   refused hold is;
//! - a hold that claimed seats but was refused fails the batch's statement and rolls the batch back: every hold of the
//!   batch then runs alone, as it would have without the combiner (so one refusal costs the others a round trip,
//!   never their answer);
//! - the COMMIT's outcome was lost: each hold looks itself up, as after its own lost COMMIT;
//! - conflicts are retried by `db::retry` for the batch as a whole; when they are exhausted, or anything else failed,
//!   each hold runs alone.
//!
//! Holds with an Idempotency-Key never join a batch: their key is answered between the hold and the COMMIT.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::oneshot;

use super::store::{self, HeldRow, NewHold};
use crate::db::{self, Db, Region, RetryError, TxError};
use crate::ids::ShowtimeId;

/// What became of a hold sent with a batch.
#[derive(Debug)]
pub enum Outcome {
    /// The batch committed: the booking, or `None` when this hold claimed no seat and inserted nothing. Its
    /// effects after the commit (the seat cache among them) are the hold's own, as for a hold alone.
    Committed(Option<HeldRow>),
    /// The batch's COMMIT outcome was lost: the hold may or may not have committed.
    Unknown,
    /// Nothing of the batch was committed: run the hold alone.
    Alone,
}

struct Member {
    hold: NewHold,
    reply: oneshot::Sender<Outcome>,
    /// Left out of a batch once already (see [`in_lock_order`]).
    deferred: bool,
}

/// The queues of holds waiting for a write connection, per region.
pub struct HoldCombiner {
    db: Db,
    max: usize,
    queues: Mutex<HashMap<Region, Vec<Member>>>,
}

impl std::fmt::Debug for HoldCombiner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HoldCombiner").field("max", &self.max).finish_non_exhaustive()
    }
}

impl HoldCombiner {
    /// Batches of at most `max` holds (at least 2) on `db`'s write pool.
    pub fn new(db: Db, max: usize) -> Arc<Self> {
        Arc::new(Self { db, max: max.max(2), queues: Mutex::new(HashMap::new()) })
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<Region, Vec<Member>>> {
        // Every change under the lock is one push or one drain: a panic elsewhere cannot leave it half done.
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a hold of `region` should join a batch: no write connection is free and none can be opened, or a
    /// batch of the region is already waiting for one.
    pub fn busy(&self, region: &Region) -> bool {
        let pool = self.db.write.status();
        (pool.available == 0 && pool.size >= pool.max_size) || self.queues().get(region).is_some_and(|q| !q.is_empty())
    }

    /// Holds waiting in a queue now, all regions.
    pub fn queued(&self) -> usize {
        self.queues().values().map(Vec::len).sum()
    }

    /// Sends `hold` with the next batch of its region and waits for the batch's outcome.
    pub async fn submit(self: &Arc<Self>, hold: NewHold) -> Outcome {
        let region = hold.region.clone();
        let (reply, outcome) = oneshot::channel();
        let first = {
            let mut queues = self.queues();
            let queue = queues.entry(region.clone()).or_default();
            queue.push(Member { hold, reply, deferred: false });
            queue.len() == 1
        };
        if first {
            tokio::spawn(Arc::clone(self).run(region));
        }
        // No reply means the runner died (a panic; nothing in it should panic): nothing is known of the batch. Run
        // alone, the hold keeps its booking id, so a batch that did commit fails the rerun on the primary key and the
        // hold then finds its booking (Stop::MaybeCommitted), never a second one.
        outcome.await.unwrap_or(Outcome::Alone)
    }

    /// Takes the region's queue, at most `max` of it; a runner is started for the rest.
    fn take(self: &Arc<Self>, region: &Region) -> Vec<Member> {
        let (batch, rest) = {
            let mut queues = self.queues();
            let Some(queue) = queues.get_mut(region) else { return Vec::new() };
            // The oldest first.
            let rest = queue.split_off(self.max.min(queue.len()));
            (std::mem::replace(queue, rest), !queue.is_empty())
        };
        if rest {
            tokio::spawn(Arc::clone(self).run(region.clone()));
        }
        batch
    }

    /// Puts `members` back at the head of the region's queue, for the next batch.
    fn put_back(self: &Arc<Self>, region: &Region, members: Vec<Member>) {
        if members.is_empty() {
            return;
        }
        let idle = {
            let mut queues = self.queues();
            let queue = queues.entry(region.clone()).or_default();
            // A queue that is not empty has its runner already, waiting for a connection.
            let idle = queue.is_empty();
            queue.splice(0..0, members.into_iter().map(|m| Member { deferred: true, ..m }));
            idle
        };
        if idle {
            tokio::spawn(Arc::clone(self).run(region.clone()));
        }
    }

    /// Runs the region's next batch and answers each of its holds.
    async fn run(self: Arc<Self>, region: Region) {
        // Taken when the transaction has its connection (holds keep joining until then), and kept for its retries.
        let batch: OnceLock<Vec<Member>> = OnceLock::new();
        let result = db::retry(&self.db, "hold_batch", |tx| {
            let (batch, this, region) = (&batch, &self, &region);
            async move {
                let members = batch.get_or_init(|| {
                    let (members, mut later) = in_lock_order(this.take(region), |m| (m.hold.showtime, &m.hold.labels));
                    let (members, twins) = one_per_buyer(members, |m| (m.hold.user, m.hold.showtime));
                    later.extend(twins);
                    // Left out once: back to the head of the queue. Twice: alone, so that none waits for ever.
                    let (again, alone): (Vec<_>, Vec<_>) = later.into_iter().partition(|m| !m.deferred);
                    this.put_back(region, again);
                    for member in alone {
                        let _ = member.reply.send(Outcome::Alone);
                    }
                    metrics::counter!("boxoffice_hold_batches_total").increment(1);
                    metrics::counter!("boxoffice_hold_batch_members_total").increment(members.len() as u64);
                    members
                });
                let holds: Vec<&NewHold> = members.iter().map(|m| &m.hold).collect();
                match store::hold_batch(&tx, &holds).await? {
                    Some(rows) => Ok(rows),
                    None => Err(TxError::Abort(())),
                }
            }
        })
        .await;
        // No connection was had (the pool timed out): the queue was never taken, and its holds have no other runner.
        let members = batch.into_inner().unwrap_or_else(|| self.take(&region));
        match result {
            Ok(rows) => {
                for (member, row) in members.into_iter().zip(rows) {
                    let _ = member.reply.send(Outcome::Committed(row));
                }
            }
            Err(err) => {
                let outcome = || match &err {
                    RetryError::AmbiguousCommit { .. } => Outcome::Unknown,
                    _ => Outcome::Alone,
                };
                if !matches!(err, RetryError::Aborted(())) {
                    let holds = members.len();
                    tracing::warn!(region = %region, holds, error = %err, "hold batch failed; its holds run alone");
                }
                for member in members {
                    let _ = member.reply.send(outcome());
                }
            }
        }
    }
}

/// The holds that can go in one transaction without risking a deadlock, in the order to run them, and the rest.
///
/// A hold claims its seats in label order, so holds alone lock claim rows in one global order and never deadlock
/// each other. A batch keeps that order across its holds: they run sorted by (showtime, labels), and a hold whose
/// seats would not all come after the previous hold's last seat is left for a later batch: seat sets that overlap
/// (the seat gate off, or holds from another pod) or interleave in label order (`A9` and `A10` span `A1`..`A8`).
/// The first hold always fits; single-seat holds, the on-sale's, always do.
fn in_lock_order<T>(mut holds: Vec<T>, key: impl Fn(&T) -> (ShowtimeId, &Vec<String>)) -> (Vec<T>, Vec<T>) {
    holds.sort_by(|a, b| key(a).cmp(&key(b)));
    let (mut kept, mut rest) = (Vec::with_capacity(holds.len()), Vec::new());
    let mut last: Option<(ShowtimeId, String)> = None;
    for hold in holds {
        let (showtime, labels) = key(&hold);
        let (Some(first), Some(final_seat)) = (labels.first(), labels.last()) else {
            kept.push(hold);
            continue;
        };
        if last.as_ref().is_none_or(|(s, l)| (*s, l.as_str()) < (showtime, first.as_str())) {
            last = Some((showtime, final_seat.clone()));
            kept.push(hold);
        } else {
            rest.push(hold);
        }
    }
    (kept, rest)
}

/// The holds of a batch that are the first of their user on their showtime, in order, and the rest: one statement
/// runs the batch (`hold_batch.sql`), and each hold's per-user cap counts only what committed before it, so a second
/// hold of the same user and showtime waits for a later batch (or runs alone), where it counts the first.
fn one_per_buyer<T, K: Eq + std::hash::Hash>(holds: Vec<T>, key: impl Fn(&T) -> K) -> (Vec<T>, Vec<T>) {
    let mut seen = std::collections::HashSet::with_capacity(holds.len());
    holds.into_iter().partition(|hold| seen.insert(key(hold)))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    type Hold = (ShowtimeId, Vec<String>);

    fn hold(showtime: u128, labels: &[&str]) -> Hold {
        (ShowtimeId(Uuid::from_u128(showtime)), labels.iter().map(|l| (*l).to_owned()).collect())
    }

    fn split(holds: Vec<Hold>) -> (Vec<Hold>, Vec<Hold>) {
        in_lock_order(holds, |(s, l)| (*s, l))
    }

    #[test]
    fn a_user_has_one_hold_per_showtime_in_a_batch() {
        let holds = vec![(1, 'a', "A1"), (1, 'b', "A2"), (1, 'a', "A3"), (2, 'a', "A1"), (1, 'b', "A4")];
        let (kept, rest) = one_per_buyer(holds, |(user, showtime, _)| (*user, *showtime));
        assert_eq!(kept, vec![(1, 'a', "A1"), (1, 'b', "A2"), (2, 'a', "A1")]);
        assert_eq!(rest, vec![(1, 'a', "A3"), (1, 'b', "A4")]);
    }

    #[test]
    fn disjoint_holds_all_fit_sorted_by_showtime_then_seats() {
        let (kept, rest) =
            split(vec![hold(2, &["A1"]), hold(1, &["C1", "C2"]), hold(1, &["A5", "B1"]), hold(2, &["A2"])]);
        assert_eq!(kept, vec![hold(1, &["A5", "B1"]), hold(1, &["C1", "C2"]), hold(2, &["A1"]), hold(2, &["A2"])]);
        assert!(rest.is_empty());
    }

    #[test]
    fn interleaving_or_overlapping_seat_sets_are_left_to_run_alone() {
        // A1..C3 spans B2: locking A1, C3, then B2 would go against the global order.
        let (kept, rest) = split(vec![hold(1, &["A1", "C3"]), hold(1, &["B2"]), hold(1, &["C3"]), hold(1, &["D1"])]);
        assert_eq!(kept, vec![hold(1, &["A1", "C3"]), hold(1, &["D1"])]);
        assert_eq!(rest, vec![hold(1, &["B2"]), hold(1, &["C3"])]);
    }

    #[test]
    fn every_lock_a_batch_takes_comes_after_the_one_before() {
        let holds: Vec<_> = (0..200u32)
            .map(|i| {
                let a = format!("{}{}", char::from(b'A' + (i * 7 % 10) as u8), i * 13 % 17);
                let b = format!("{}{}", char::from(b'A' + (i * 3 % 10) as u8), i * 5 % 17);
                let mut labels = vec![a, b];
                labels.sort();
                labels.dedup();
                (ShowtimeId(Uuid::from_u128(u128::from(i % 3))), labels)
            })
            .collect();
        let (kept, rest) = split(holds);
        assert_eq!(kept.len() + rest.len(), 200);
        let locks: Vec<(ShowtimeId, &String)> =
            kept.iter().flat_map(|(s, ls)| ls.iter().map(move |l| (*s, l))).collect();
        assert!(locks.windows(2).all(|w| w[0] < w[1]), "{locks:?}");
    }
}
