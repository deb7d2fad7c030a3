//! Seat changes: the Redis pub/sub channel on which every pod announces that a showtime's availability changed, and
//! the message it carries. Shared by whoever needs to learn of another pod's changes: the in-memory seat maps of the
//! read path (issue #18) and a pushed seat-map stream (Server-Sent Events, issue #20).
//!
//! # The channel
//! **One channel per showtime**, [`channel`]: `<prefix>seats:{<showtime>}:changes` (the key prefix of the
//! deployment, and the showtime's hash tag, as its cache keys have). A pod subscribes **once per showtime** it
//! cares about, whatever the number of its readers or streams of that showtime, and fans the messages out in
//! process; it unsubscribes when it no longer cares. A dedicated connection ([`Redis::pubsub`]) carries a pod's
//! subscriptions: a connection in subscribe mode can send nothing else.
//!
//! # Who publishes, and when
//! Only [`super::seats::SeatCache`]'s flusher: the booking side calls `SeatCache::invalidate` (or
//! [`super::seats::SeatCache::invalidate_seats`] when it knows the seats) after every commit that changed the claims
//! of a showtime (holds, payments, cancellations, expiries by the sweeper, takeovers, a canceled showtime), and the
//! flusher publishes a [`SeatChange`] per showtime **after** Redis has forgotten the showtime's cached availability.
//! So a subscriber that re-reads availability on a message reads it as of that commit or later, never before.
//! Several commits of one showtime flushed together make one message (their seats merged, in commit order).
//!
//! # What a message guarantees
//! * At most once, no replay: Redis pub/sub drops messages while a subscriber is disconnected. A subscriber that
//!   loses its connection must treat everything it derived from messages as stale until it has resubscribed, and
//!   re-read availability then (the read path falls back to the Redis cache and the database meanwhile).
//! * [`SeatChange::version`] is the showtime's cache generation after the change: it increases with every flushed
//!   change of the showtime, so a subscriber can drop a message older than what it has already seen (a version
//!   that jumps by more than one means flushes merged several commits, not a loss). It is **not** the seat map's
//!   ETag: the ETag hashes the rendered map (prices, layout and status too), which the publisher does not render.
//! * [`SeatChange::seats`] lists the seats whose availability changed, with the new availability, when the
//!   publisher knows them (a hold knows its seats); `None` means "something changed, re-read the map" (a sweep or a
//!   cancellation released claims it did not list). A stream may forward `seats` as a delta, or re-read on `None`.
//! * Staleness (DESIGN.md I6): a change is visible to other pods one pub/sub hop after the flush; a stale map can
//!   cause a 409 at hold time, never a double sale.
//!
//! The payload is JSON (`{"showtime":"…","version":7,"seats":[{"label":"A1","available":false}]}`), small and
//! readable with `redis-cli SUBSCRIBE`.

use crate::ids::ShowtimeId;
use serde::{Deserialize, Serialize};

use super::{CacheError, Redis};

/// The channel of `showtime`'s changes (see the module docs).
pub fn channel(redis: &Redis, showtime: ShowtimeId) -> String {
    redis.key(&format!("seats:{{{showtime}}}:changes"))
}

/// One seat whose availability changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatState {
    /// The seat's label, as in the seat map (`"A1"`).
    pub label: String,
    /// Whether it can be held now.
    pub available: bool,
}

/// A change of a showtime's availability, as published on its [`channel`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatChange {
    /// The showtime.
    pub showtime: ShowtimeId,
    /// The showtime's cache generation after the change: increases with every flushed change.
    pub version: u64,
    /// The seats that changed, in commit order (a later entry of a label wins), when the publisher knows them;
    /// `None`: re-read the map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<SeatState>>,
}

impl SeatChange {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing a struct of a UUID, an integer and strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A message read from the channel; `None` if it is not one (a subscriber ignores it).
    pub fn decode(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }
}

/// What is known of the seats changed by the commits of one showtime, merged in commit order: all of them, or not.
pub fn merge(earlier: Option<Vec<SeatState>>, later: Option<Vec<SeatState>>) -> Option<Vec<SeatState>> {
    let mut earlier = earlier?;
    earlier.extend(later?);
    Some(earlier)
}

impl Redis {
    /// A new connection for subscriptions (a connection in subscribe mode can send nothing else), under the Redis
    /// timeout. Split it (`into_split` / `split`) to subscribe while reading the messages; the message stream ends
    /// when the connection is lost.
    ///
    /// # Errors
    /// Redis is unreachable or slow.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, CacheError> {
        tokio::time::timeout(self.timeout(), self.client().get_async_pubsub())
            .await
            .map_err(|_| CacheError::Timeout)?
            .map_err(CacheError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_merge_in_order() {
        let showtime = ShowtimeId(uuid::Uuid::from_u128(7));
        let seat = |label: &str, available| SeatState { label: label.to_owned(), available };
        let change = SeatChange { showtime, version: 3, seats: Some(vec![seat("A1", false)]) };
        assert_eq!(SeatChange::decode(&change.encode()), Some(change.clone()));
        let unknown = SeatChange { seats: None, ..change };
        assert!(!String::from_utf8_lossy(&unknown.encode()).contains("seats"));
        assert_eq!(SeatChange::decode(&unknown.encode()), Some(unknown));
        assert_eq!(SeatChange::decode(b"not json"), None);
        assert_eq!(
            merge(Some(vec![seat("A1", false)]), Some(vec![seat("A1", true)])),
            Some(vec![seat("A1", false), seat("A1", true)])
        );
        assert_eq!(merge(Some(vec![seat("A1", false)]), None), None);
        assert_eq!(merge(None, Some(vec![])), None);
    }
}
