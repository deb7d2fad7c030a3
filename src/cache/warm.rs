//! Warm seat availability in this process's memory, kept fresh by the seat-change channel of every pod
//! ([`super::changes`]): a warm read touches neither Redis nor the database (issue #18).
//!
//! # Rules
//! * An entry is served only while this pod's subscriber is connected and subscribed to the showtime's channel
//!   since before the entry was read from Redis: then any change flushed after that read reaches this pod as a
//!   message, one pub/sub hop later (DESIGN.md I6), and drops the entry.
//! * Each entry counts the changes it has seen (messages and this pod's own); a read is stored only if none came
//!   between its start and its end, so a read that raced with a change cannot store what the change made stale.
//! * This pod's own changes drop the entry at once ([`WarmSeats::forget`], called by `SeatCache::invalidate`),
//!   before the commit's answer is sent: a client sees its own hold on the next read, as before.
//! * When the subscription is lost (Redis restarted, the connection killed), every entry is dropped and nothing
//!   is served from memory until the subscriber has reconnected; meanwhile reads take the Redis/database path. A
//!   message missed while disconnected cannot leave a stale entry behind: there is none.
//! * An entry lives a quarter of the seat cache's TTL (`BOXOFFICE_SEATMAP_TTL_MS`), at most [`MAX_AGE`]: what no
//!   message announces (a pod whose flush failed publishes nothing; a hold that lapses frees its seat by time
//!   alone, which the Redis entry's TTL follows) shows at most that much later than through Redis. The Redis read
//!   it costs is a few per second per warm showtime per pod.
//! * At most [`CAPACITY`] showtimes; beyond it the oldest half is dropped and unsubscribed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::ids::ShowtimeId;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::Redis;
use super::changes::{self, SeatChange};
use crate::catalog::model::seatmap::TakenSeats;

/// Most showtimes kept in memory (a 200-seat bitmap is 25 bytes; the map's bookkeeping is most of an entry).
pub const CAPACITY: usize = 20_000;

/// The longest an entry is served (see the module docs).
pub const MAX_AGE: Duration = Duration::from_millis(250);

/// The longest wait between two reconnection attempts of the subscriber.
const RECONNECT_MAX: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Entry {
    /// Subscribed (confirmed by Redis) in the current connection.
    subscribed: bool,
    /// Changes seen (messages and this pod's own), so that a read that overlapped one is not stored.
    changes: u64,
    /// The availability, if known and current, and since when.
    taken: Option<(TakenSeats, Instant)>,
    /// Insertion order, for eviction.
    order: u64,
}

enum Command {
    Subscribe(ShowtimeId),
    Unsubscribe(Vec<ShowtimeId>),
}

struct Inner {
    redis: Redis,
    /// The longest an entry is served.
    ttl: Duration,
    entries: Mutex<HashMap<ShowtimeId, Entry>>,
    /// Whether the subscriber's connection is up (entries are served only then).
    connected: AtomicBool,
    /// Counts connections: an entry subscribed in an earlier one is not trusted.
    connection: AtomicU64,
    next_order: AtomicU64,
    /// Reads answered from memory.
    served: AtomicU64,
    commands: Mutex<Option<mpsc::UnboundedSender<Command>>>,
}

/// What a read must bring back to [`WarmSeats::store`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    connection: u64,
    changes: u64,
}

/// The in-memory availability of warm showtimes (cheap to clone).
#[derive(Clone)]
pub struct WarmSeats {
    inner: Arc<Inner>,
}

impl WarmSeats {
    /// Empty, for a seat cache of `ttl`; the subscriber starts with the first read.
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                ttl: (ttl / 4).min(MAX_AGE),
                entries: Mutex::new(HashMap::new()),
                connected: AtomicBool::new(false),
                connection: AtomicU64::new(0),
                next_order: AtomicU64::new(0),
                served: AtomicU64::new(0),
                commands: Mutex::new(None),
            }),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<ShowtimeId, Entry>> {
        self.inner.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the subscriber is connected now (for tests and diagnostics).
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Reads answered from memory so far (for tests and diagnostics).
    pub fn served(&self) -> u64 {
        self.inner.served.load(Ordering::Relaxed)
    }

    /// Whether availability of `showtime` is in memory, however old (for tests: a change message drops it).
    pub fn holds(&self, showtime: ShowtimeId) -> bool {
        self.entries().get(&showtime).is_some_and(|e| e.taken.is_some())
    }

    /// The availability of `showtime` from memory, if it may be served; otherwise a ticket for
    /// [`WarmSeats::store`] once the caller has read it the usual way (`None`: not to be stored).
    pub fn get(&self, showtime: ShowtimeId, len: usize) -> Result<TakenSeats, Option<Ticket>> {
        let connection = self.inner.connection.load(Ordering::Acquire);
        if !self.connected() {
            self.ensure_subscriber();
            return Err(None);
        }
        let mut entries = self.entries();
        if let Some(entry) = entries.get(&showtime) {
            return match &entry.taken {
                Some((taken, at)) if entry.subscribed && taken.len() == len && at.elapsed() < self.inner.ttl => {
                    self.inner.served.fetch_add(1, Ordering::Relaxed);
                    Ok(taken.clone())
                }
                _ if entry.subscribed => Err(Some(Ticket { connection, changes: entry.changes })),
                _ => Err(None),
            };
        }
        if entries.len() >= CAPACITY {
            self.evict(&mut entries);
        }
        let order = self.inner.next_order.fetch_add(1, Ordering::Relaxed);
        entries.insert(showtime, Entry { order, ..Entry::default() });
        drop(entries);
        self.send(Command::Subscribe(showtime));
        Err(None)
    }

    /// Keeps `taken`, read after [`WarmSeats::get`] gave `ticket`, unless a change arrived meanwhile or the
    /// subscription was lost.
    pub fn store(&self, showtime: ShowtimeId, ticket: Ticket, taken: &TakenSeats) {
        let mut entries = self.entries();
        if !self.connected() || self.inner.connection.load(Ordering::Acquire) != ticket.connection {
            return;
        }
        if let Some(entry) = entries.get_mut(&showtime)
            && entry.subscribed
            && entry.changes == ticket.changes
        {
            entry.taken = Some((taken.clone(), Instant::now()));
        }
    }

    /// Drops what is known of `showtime`: this pod changed it (the message follows), or a message says so.
    pub fn forget(&self, showtime: ShowtimeId) {
        if let Some(entry) = self.entries().get_mut(&showtime) {
            entry.changes += 1;
            entry.taken = None;
        }
    }

    fn evict(&self, entries: &mut HashMap<ShowtimeId, Entry>) {
        let mut orders: Vec<u64> = entries.values().map(|e| e.order).collect();
        orders.sort_unstable();
        let cut = orders[orders.len() / 2];
        let mut gone = Vec::new();
        entries.retain(|id, e| {
            let keep = e.order >= cut;
            if !keep {
                gone.push(*id);
            }
            keep
        });
        self.send(Command::Unsubscribe(gone));
    }

    fn send(&self, command: Command) {
        if let Some(sender) = self.inner.commands.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = sender.send(command);
        }
    }

    /// Starts the subscriber task on first use (it needs a runtime), and again should it have died.
    fn ensure_subscriber(&self) {
        let mut commands = self.inner.commands.lock().unwrap_or_else(PoisonError::into_inner);
        if commands.as_ref().is_some_and(|s| !s.is_closed()) {
            return;
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        *commands = Some(sender);
        tokio::spawn(subscriber(Arc::downgrade(&self.inner), receiver));
    }

    /// A new connection: entries of the last one were dropped when it was lost, any left from before this task
    /// are too, and the subscriptions asked for before it are void.
    fn connected_anew(&self, commands: &mut mpsc::UnboundedReceiver<Command>) {
        let mut entries = self.entries();
        entries.clear();
        while commands.try_recv().is_ok() {}
        self.inner.connection.fetch_add(1, Ordering::AcqRel);
        self.inner.connected.store(true, Ordering::Release);
    }

    /// Redis confirmed the subscription to `showtime`'s channel: reads from now on may be kept.
    fn subscribed(&self, showtime: ShowtimeId) {
        if let Some(entry) = self.entries().get_mut(&showtime) {
            entry.subscribed = true;
        }
    }

    /// The connection is lost: nothing is served until the next one, and every subscription is to be made again.
    fn disconnected(&self) {
        let mut entries = self.entries();
        self.inner.connected.store(false, Ordering::Release);
        entries.clear();
    }
}

/// The subscriber: one connection, one subscription per showtime in memory; reconnects until the cache is dropped.
async fn subscriber(inner: std::sync::Weak<Inner>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(warm) = inner.upgrade().map(|inner| WarmSeats { inner }) else { return };
        let pubsub = match warm.inner.redis.pubsub().await {
            Ok(pubsub) => pubsub,
            Err(err) => {
                tracing::debug!(error = %err, "seat changes: subscriber cannot connect; retrying");
                drop(warm);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RECONNECT_MAX);
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let (mut sink, mut stream) = pubsub.split();
        warm.connected_anew(&mut commands);
        let weak = Arc::downgrade(&warm.inner);
        drop(warm);
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(warm) = weak.upgrade().map(|inner| WarmSeats { inner }) else { return };
                    let Some(command) = command else { return };
                    let redis = warm.inner.redis.clone();
                    let ok = match command {
                        Command::Subscribe(showtime) => {
                            let subscribed = sink.subscribe(changes::channel(&redis, showtime)).await.is_ok();
                            if subscribed {
                                warm.subscribed(showtime);
                            }
                            subscribed
                        }
                        Command::Unsubscribe(showtimes) => {
                            let channels: Vec<String> =
                                showtimes.iter().map(|s| changes::channel(&redis, *s)).collect();
                            channels.is_empty() || sink.unsubscribe(channels).await.is_ok()
                        }
                    };
                    if !ok {
                        warm.disconnected();
                        break;
                    }
                }
                message = stream.next() => {
                    let Some(warm) = weak.upgrade().map(|inner| WarmSeats { inner }) else { return };
                    let Some(message) = message else {
                        tracing::warn!("seat changes: subscription lost; reading through Redis until resubscribed");
                        warm.disconnected();
                        break;
                    };
                    if let Some(change) = SeatChange::decode(message.get_payload_bytes()) {
                        warm.forget(change.showtime);
                    }
                }
            }
        }
    }
}
