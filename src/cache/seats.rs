//! The seat-availability cache of each showtime in Redis (DESIGN.md §8), and the one call the booking side makes
//! after a commit that changed claims: [`SeatCache::invalidate`].
//!
//! The catalog owns how availability is stored and rebuilt; the contract with the booking side is only this: after
//! any commit that adds, takes over or releases a claim of a showtime, call `invalidate(showtime)` on the process's
//! one [`SeatCache`]. It is best effort: a Redis failure is logged and counted, and the entry's short TTL bounds the
//! staleness (I6: the cache may lag and cause a 409, never a double sale).
//!
//! # Invalidation does not wait for Redis
//! `invalidate` only queues the showtime: a flusher task sends every queued showtime in one pipeline, and while it
//! waits for Redis the next ones queue up. The request that committed answers without a Redis round trip of its
//! own: a round trip per hold was the largest cost of the hold path left in the service (an A/B with wrk: 12% more
//! holds per second and 17% less server CPU per hold without it). Under load one flush carries the holds of many
//! requests.
//!
//! A reader in this process still sees its own process's writes: a read of a showtime with an invalidation queued
//! or in flight first waits for that flush (one Redis round trip at most, bounded by the Redis timeout). So a client
//! that booked and then asks the same pod for the seat map sees its seats taken. Another pod may serve the old map
//! until the flush lands, a lag of about one Redis round trip, which I6 allows.
//!
//! # Layout in Redis
//! * `seats:{<showtime>}`: the availability bitmap over the screen layout's seat order
//!   ([`TakenSeats::encode`]: a format byte, the seat count, one bit per seat, set = taken), with a TTL of
//!   `BOXOFFICE_SEATMAP_TTL_MS` (default 2 s), shortened to the earliest expiry of a live hold so that a lapsing
//!   hold frees its seat on time.
//! * `seats:{<showtime>}:gen`: a generation counter, incremented by every invalidation (kept a day).
//!
//! The braces are a Redis Cluster hash tag: both keys of a showtime live in one slot, as the store script needs.
//!
//! # Rebuilds cannot resurrect stale data
//! A miss is rebuilt from the primary (never the read pool: availability is not decided from a follower read) and
//! written back only if the generation is still the one read with the miss, checked and set atomically by a script.
//! A rebuild that read the database before a booking committed cannot overwrite the invalidation that followed the
//! commit: its generation is outdated and its result is served once, to its own requests, but not cached.
//!
//! # Cost
//! A hit is one `MGET` of the two keys, on one multiplexed connection shared by the whole process, so that
//! concurrent requests are pipelined (batched writes and reads) rather than one connection each. Concurrent misses
//! of one showtime (a popular showtime right after a hold invalidated it) are coalesced within the process: one
//! rebuild per (showtime, generation), whose result every waiting request shares. Many showtimes at once
//! (`seatsAvailable` in lists) are one `MGET`, one query for the misses and one script call.
//!
//! # In memory first
//! Before Redis, [`SeatCache::taken`] asks the pod's memory ([`super::warm`]): a warm showtime's availability is
//! served from there while the pod is subscribed to its change channel ([`super::changes`], on which the flusher
//! below publishes after each flush), so a warm seat map costs neither Redis nor the database. `invalidate` drops
//! this pod's entry at once (its own holds show on its next read); other pods drop theirs one pub/sub hop after
//! the flush. Lists (`taken_many`) read Redis as before.
//!
//! # Redis down
//! Every Redis call has the client's timeout; on a failure the cache is bypassed for a second (so a hung Redis
//! costs one timeout per second, not one per request) and availability comes from the primary. Results are counted
//! in `boxoffice_cache_requests_total{cache="seats",result="hit|miss|error"}` (`error`: Redis failed or is being
//! bypassed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use redis::aio::MultiplexedConnection;
use tokio::sync::{mpsc, watch};

use super::changes::{self, SeatChange, SeatState};
use super::warm::WarmSeats;
use super::{CacheError, Redis};
use crate::catalog::model::ShowtimeId;
use crate::catalog::model::seatmap::{SeatLayout, ShowtimeKey, TakenSeats};
use crate::catalog::store;
use crate::db::Db;
use crate::error::ApiError;

/// How long the generation counter of a showtime outlives its last invalidation: far longer than any rebuild.
const GENERATION_TTL_MS: u64 = 24 * 3600 * 1000;

/// How long the cache is bypassed after a Redis failure.
const BYPASS: Duration = Duration::from_secs(1);

/// The Redis key of a showtime's availability entry.
pub fn availability_key(redis: &Redis, showtime: ShowtimeId) -> String {
    redis.key(&format!("seats:{{{showtime}}}"))
}

/// The Redis key of a showtime's generation counter.
pub fn generation_key(redis: &Redis, showtime: ShowtimeId) -> String {
    redis.key(&format!("seats:{{{showtime}}}:gen"))
}

fn count(result: &'static str, n: usize) {
    metrics::counter!("boxoffice_cache_requests_total", "cache" => "seats", "result" => result).increment(n as u64);
}

/// Most showtimes in one flush.
const FLUSH_MAX: usize = 512;

/// Forgets the cached availability of `showtimes` (see the module docs): bumps each generation, so that no rebuild
/// that started before can store its result, and deletes each entry, so that the next read rebuilds. One pipeline,
/// without MULTI: each showtime's INCR reaches Redis before its DEL on the one connection, and the store script
/// checks the generation, so no interleaving can keep a stale entry. Then each showtime's change is published on
/// its channel ([`super::changes`]) with the generation as its version: after the entry is gone, so that a pod that
/// re-reads on the message cannot read the entry the change made stale.
async fn forget(redis: &Redis, showtimes: &[(ShowtimeId, Option<Vec<SeatState>>)]) {
    let result = redis
        .run(async |conn| {
            let mut pipe = redis::pipe();
            for (showtime, _) in showtimes {
                let generation = generation_key(redis, *showtime);
                pipe.cmd("INCR").arg(&generation);
                pipe.cmd("PEXPIRE").arg(&generation).arg(GENERATION_TTL_MS).ignore();
                pipe.cmd("DEL").arg(availability_key(redis, *showtime)).ignore();
            }
            let versions = pipe.query_async::<Vec<u64>>(conn).await?;
            let mut publish = redis::pipe();
            for ((showtime, seats), version) in showtimes.iter().zip(versions) {
                let change = SeatChange { showtime: *showtime, version, seats: seats.clone() };
                publish.cmd("PUBLISH").arg(changes::channel(redis, *showtime)).arg(change.encode()).ignore();
            }
            publish.query_async::<()>(conn).await
        })
        .await;
    if let Err(err) = result {
        count("error", showtimes.len());
        tracing::warn!(showtimes = showtimes.len(), error = %err, "seat cache invalidation failed; the TTL will expire it");
    }
}

/// What the flusher has done, shared by the cache and its flusher task.
struct Progress {
    /// The sequence number of the last invalidation flushed (sequence numbers count [`SeatCache::invalidate`] calls).
    flushed: watch::Sender<u64>,
    /// The last sequence number of each showtime whose invalidation may not be flushed yet. A plain mutex: held for
    /// a map insert, lookup or sweep, never across an await.
    pending: Mutex<HashMap<ShowtimeId, u64>>,
}

impl Progress {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<ShowtimeId, u64>> {
        // Every change under the lock is one insert or one retain: a panic elsewhere cannot leave it half done.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The queue of invalidations not sent yet.
struct Queue {
    /// The last sequence number handed out.
    last: u64,
    /// To the flusher task, started by the first invalidation (it needs a runtime). It ends when the cache is dropped.
    flusher: Option<mpsc::UnboundedSender<Invalidation>>,
}

/// A queued invalidation: the showtime, its sequence number, and the seats it changed if known.
type Invalidation = (ShowtimeId, u64, Option<Vec<SeatState>>);

/// Sends what is queued, one pipeline at a time, until the cache is dropped.
async fn flush(redis: Redis, progress: Arc<Progress>, mut queue: mpsc::UnboundedReceiver<Invalidation>) {
    let mut batch = Vec::new();
    let mut showtimes: Vec<(ShowtimeId, Option<Vec<SeatState>>)> = Vec::new();
    while queue.recv_many(&mut batch, FLUSH_MAX).await > 0 {
        // The queue is in sequence order (see `invalidate`): this batch ends at its last element.
        let upto = batch.last().map_or(0, |(_, seq, _)| *seq);
        // One entry per showtime, its seats merged in sequence order (a stable sort keeps that order).
        batch.sort_by_key(|(showtime, _, _)| *showtime);
        for (showtime, _, seats) in batch.drain(..) {
            match showtimes.last_mut() {
                Some((last, merged)) if *last == showtime => *merged = changes::merge(merged.take(), seats),
                _ => showtimes.push((showtime, seats)),
            }
        }
        forget(&redis, &showtimes).await;
        showtimes.clear();
        progress.pending().retain(|_, seq| *seq > upto);
        progress.flushed.send_replace(upto);
    }
}

/// Stores entries whose generation is unchanged. KEYS: value and generation key of each showtime, in pairs. ARGV:
/// TTL in ms, the generation read with the miss (empty: none) and the encoded bitmap of each, in triples. Returns
/// the number stored.
static STORE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local stored = 0
        for i = 1, #KEYS, 2 do
            local j = (i - 1) / 2 * 3
            local generation = redis.call('GET', KEYS[i + 1]) or ''
            if generation == ARGV[j + 2] then
                redis.call('SET', KEYS[i], ARGV[j + 3], 'PX', ARGV[j + 1])
                stored = stored + 1
            end
        end
        return stored
        ",
    )
});

/// Why availability could not be rebuilt from the database.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// No connection to the primary.
    #[error("no database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The query failed.
    #[error("live claims query failed: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// The coalesced rebuild task died.
    #[error("seat cache rebuild task failed: {0}")]
    Task(String),
}

impl From<&RebuildError> for ApiError {
    fn from(err: &RebuildError) -> Self {
        match err {
            RebuildError::Pool(_) => ApiError::unavailable("the database is unavailable; retry shortly", 2),
            RebuildError::Db(_) | RebuildError::Task(_) => {
                ApiError::new(crate::error::Problem::Internal, "an internal error occurred; it has been logged")
            }
        }
        .caused_by(anyhow::anyhow!(err.to_string()))
    }
}

/// What a read found for one showtime.
struct Cached {
    /// The entry, if present.
    value: Option<Vec<u8>>,
    /// The generation counter's bytes (empty when it does not exist).
    generation: Vec<u8>,
}

type Flight = Shared<BoxFuture<'static, Result<TakenSeats, Arc<RebuildError>>>>;
type FlightKey = (ShowtimeId, Option<Vec<u8>>);

struct Inner {
    redis: Redis,
    ttl: Duration,
    /// Origin of the millisecond clock below.
    epoch: Instant,
    /// Milliseconds since `epoch` before which Redis is not tried (after a failure).
    bypass_until_ms: AtomicU64,
    /// Rebuilds in flight, by showtime and the generation they will write under (`None`: Redis unavailable, no
    /// write-back). A plain mutex: held for a map lookup or insert, never across an await.
    flights: Mutex<HashMap<FlightKey, Flight>>,
    /// Database rebuilds run (for tests and diagnostics).
    rebuilds: AtomicU64,
    /// Requests that shared a rebuild already in flight instead of starting one.
    joined: AtomicU64,
    /// One multiplexed connection shared by every request of this process: concurrent reads of seat maps are
    /// pipelined on it (see [`Redis::multiplexed`]). A plain mutex: held to clone or replace the handle.
    shared: Mutex<Option<MultiplexedConnection>>,
    /// Invalidations queued for the flusher. A plain mutex: held to number and send one, never across an await.
    queue: Mutex<Queue>,
    progress: Arc<Progress>,
    /// Warm availability in memory, kept fresh by every pod's change messages ([`super::warm`]).
    warm: WarmSeats,
}

/// The availability cache (cheap to clone).
#[derive(Clone)]
pub struct SeatCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SeatCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeatCache").field("ttl", &self.inner.ttl).finish_non_exhaustive()
    }
}

impl SeatCache {
    /// A cache over `redis` whose entries live `ttl` at most.
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                warm: WarmSeats::new(redis.clone(), ttl),
                redis,
                ttl,
                epoch: Instant::now(),
                bypass_until_ms: AtomicU64::new(0),
                flights: Mutex::new(HashMap::new()),
                rebuilds: AtomicU64::new(0),
                joined: AtomicU64::new(0),
                shared: Mutex::new(None),
                queue: Mutex::new(Queue { last: 0, flusher: None }),
                progress: Arc::new(Progress { flushed: watch::Sender::new(0), pending: Mutex::new(HashMap::new()) }),
            }),
        }
    }

    /// How many times availability was rebuilt from the database by this process.
    pub fn rebuilds(&self) -> u64 {
        self.inner.rebuilds.load(Ordering::Relaxed)
    }

    /// How many requests shared a rebuild already in flight (for tests and diagnostics).
    pub fn joined(&self) -> u64 {
        self.inner.joined.load(Ordering::Relaxed)
    }

    /// Forgets the cached availability of `showtime`: queued for the flusher, without waiting (see the module
    /// docs), and announced on the showtime's channel as a change of unknown seats ([`super::changes`]). Call it
    /// after every commit that changes the showtime's claims.
    pub fn invalidate(&self, showtime: ShowtimeId) {
        self.invalidate_seats(showtime, None);
    }

    /// [`SeatCache::invalidate`] by a commit that knows which seats it changed (a hold: its seats, now taken):
    /// they are announced with the change.
    pub fn invalidate_seats(&self, showtime: ShowtimeId, seats: Option<Vec<SeatState>>) {
        // This pod's next read must not be served the map from before its own commit.
        self.inner.warm.forget(showtime);
        let mut queue = self.inner.queue.lock().unwrap_or_else(PoisonError::into_inner);
        // Numbered and sent under one lock: the flusher receives them in sequence order.
        queue.last += 1;
        let seq = queue.last;
        self.inner.progress.pending().insert(showtime, seq);
        // Started by the first invalidation, and again should the task ever have died (its receiver is then gone).
        let flusher = match queue.flusher.take() {
            Some(flusher) if !flusher.is_closed() => flusher,
            _ => {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(flush(self.inner.redis.clone(), self.inner.progress.clone(), receiver));
                sender
            }
        };
        // Cannot fail: the receiver was open a moment ago, and the flusher gives it up only when the cache is dropped.
        let _ = flusher.send((showtime, seq, seats));
        queue.flusher = Some(flusher);
    }

    /// Waits until the invalidations of `showtimes` queued so far have been flushed to Redis (at once when there are
    /// none): what a read of this process must see. Bounded: a flush takes one Redis call, which has the client's
    /// timeout, and a read waits for two at most (the one in flight, then its own); after that it reads anyway.
    pub async fn settled(&self, showtimes: impl IntoIterator<Item = ShowtimeId>) {
        // Redis failed a moment ago: the read goes to the database, which needs no flush, rather than wait for one.
        if self.bypassed() {
            return;
        }
        let progress = &self.inner.progress;
        let needed = {
            let pending = progress.pending();
            showtimes.into_iter().filter_map(|showtime| pending.get(&showtime).copied()).max()
        };
        let Some(needed) = needed else { return };
        let mut flushed = progress.flushed.subscribe();
        let bound = self.inner.redis.timeout() * 2 + Duration::from_millis(100);
        let _ = tokio::time::timeout(bound, flushed.wait_for(|&done| done >= needed)).await;
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn bypassed(&self) -> bool {
        self.now_ms() < self.inner.bypass_until_ms.load(Ordering::Relaxed)
    }

    fn trip(&self, err: &CacheError) {
        let until = self.now_ms() + BYPASS.as_millis() as u64;
        let previous = self.inner.bypass_until_ms.swap(until, Ordering::Relaxed);
        // One line per outage second, not one per request.
        if previous <= self.now_ms() {
            tracing::warn!(error = %err, "seat cache: Redis failed; serving availability from the database");
        }
    }

    /// The shared connection, connected on first use and after a failure.
    async fn connection(&self) -> Result<MultiplexedConnection, CacheError> {
        if let Some(conn) = self.inner.shared.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return Ok(conn);
        }
        let conn = self.inner.redis.multiplexed().await?;
        *self.inner.shared.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `f` on the shared connection under the Redis timeout; a failure drops the connection, so the next
    /// command starts on a fresh one.
    async fn command<T, F>(&self, f: F) -> Result<T, CacheError>
    where
        F: AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>,
    {
        let mut conn = self.connection().await?;
        let failure = match tokio::time::timeout(self.inner.redis.timeout(), f(&mut conn)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => CacheError::Command(err),
            Err(_) => CacheError::Timeout,
        };
        self.inner.shared.lock().unwrap_or_else(PoisonError::into_inner).take();
        Err(failure)
    }

    /// Reads the entries and generations of `keys`; `None` when Redis is unavailable.
    async fn read(&self, keys: &[&ShowtimeKey]) -> Option<Vec<Cached>> {
        if self.bypassed() {
            return None;
        }
        let redis = &self.inner.redis;
        let names: Vec<String> =
            keys.iter().flat_map(|k| [availability_key(redis, k.id), generation_key(redis, k.id)]).collect();
        let result = self
            .command(async |conn| redis::cmd("MGET").arg(&names).query_async::<Vec<Option<Vec<u8>>>>(conn).await)
            .await;
        match result {
            Ok(values) if values.len() == names.len() => {
                let mut values = values.into_iter();
                let mut out = Vec::with_capacity(keys.len());
                while let (Some(value), Some(generation)) = (values.next(), values.next()) {
                    out.push(Cached { value, generation: generation.unwrap_or_default() });
                }
                Some(out)
            }
            Ok(_) => None,
            Err(err) => {
                self.trip(&err);
                None
            }
        }
    }

    /// The taken seats of a showtime as Redis has them now, or `None` (a miss, another layout size, Redis away):
    /// never a rebuild. For answers that can do without, such as a hold's orphan-seat warning, which must not add a
    /// database query to every hold.
    pub async fn peek(&self, key: &ShowtimeKey, len: usize) -> Option<TakenSeats> {
        let found = self.read(&[key]).await?;
        found.into_iter().next()?.value.and_then(|v| TakenSeats::decode(&v, len))
    }

    /// The taken seats of a showtime (see the module docs for the layers).
    ///
    /// # Errors
    /// The database is needed and fails (503 when no connection is to be had).
    pub async fn taken(&self, db: &Db, key: &ShowtimeKey, layout: &Arc<SeatLayout>) -> Result<TakenSeats, ApiError> {
        self.settled([key.id]).await;
        // From memory while this pod is subscribed to the showtime's changes and Redis works (another pod's change
        // is announced only once its flush to Redis succeeded).
        let ticket = if self.bypassed() {
            None
        } else {
            match self.inner.warm.get(key.id, layout.len()) {
                Ok(taken) => {
                    count("memory", 1);
                    return Ok(taken);
                }
                Err(ticket) => ticket,
            }
        };
        let generation = match self.read(&[key]).await {
            Some(mut found) => {
                let cached = found.pop();
                let Some(Cached { value, generation }) = cached else {
                    return Err(ApiError::internal(anyhow::anyhow!("empty MGET")));
                };
                if let Some(taken) = value.and_then(|v| TakenSeats::decode(&v, layout.len())) {
                    count("hit", 1);
                    if let Some(ticket) = ticket {
                        self.inner.warm.store(key.id, ticket, &taken);
                    }
                    return Ok(taken);
                }
                count("miss", 1);
                Some(generation)
            }
            None => {
                count("error", 1);
                None
            }
        };
        let taken = self.coalesced(db, key, layout, generation.clone()).await.map_err(|e| ApiError::from(&*e))?;
        // Only what Redis will hold too (a rebuild with a generation): a rebuild from a follower, or with Redis
        // down, is served once and not kept.
        if let (Some(ticket), Some(_)) = (ticket, generation) {
            self.inner.warm.store(key.id, ticket, &taken);
        }
        Ok(taken)
    }

    /// The in-memory availability (for tests and diagnostics).
    pub fn warm(&self) -> &WarmSeats {
        &self.inner.warm
    }

    /// Rebuilds one showtime, sharing the work with concurrent requests for the same (showtime, generation). The
    /// rebuild runs as its own task, so a client that goes away does not cancel it for the others.
    async fn coalesced(
        &self,
        db: &Db,
        key: &ShowtimeKey,
        layout: &Arc<SeatLayout>,
        generation: Option<Vec<u8>>,
    ) -> Result<TakenSeats, Arc<RebuildError>> {
        let flight_key: FlightKey = (key.id, generation.clone());
        let flight = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(PoisonError::into_inner);
            match flights.get(&flight_key) {
                Some(flight) => {
                    self.inner.joined.fetch_add(1, Ordering::Relaxed);
                    flight.clone()
                }
                None => {
                    let (this, db, key, layout) = (self.clone(), db.clone(), key.clone(), layout.clone());
                    let done_key = flight_key.clone();
                    let task = tokio::spawn(async move {
                        let items = [(key, layout)];
                        let result = this.rebuild(&db, &items, generation.map(|g| vec![g])).await;
                        // The entry is removed after the work and before the waiters resume: a request arriving now
                        // starts a fresh rebuild rather than sharing a finished one.
                        this.inner.flights.lock().unwrap_or_else(PoisonError::into_inner).remove(&done_key);
                        result.map(|mut all| all.swap_remove(0)).map_err(Arc::new)
                    });
                    let flight: Flight =
                        async move { task.await.unwrap_or_else(|e| Err(Arc::new(RebuildError::Task(e.to_string())))) }
                            .boxed()
                            .shared();
                    flights.insert(flight_key, flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    /// The taken seats of several showtimes at once (`seatsAvailable` of lists), in the order of `items`.
    ///
    /// # Errors
    /// The database is needed and fails.
    pub async fn taken_many(
        &self,
        db: &Db,
        items: &[(ShowtimeKey, Arc<SeatLayout>)],
    ) -> Result<Vec<TakenSeats>, ApiError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.settled(items.iter().map(|(k, _)| k.id)).await;
        let keys: Vec<&ShowtimeKey> = items.iter().map(|(k, _)| k).collect();
        let Some(found) = self.read(&keys).await else {
            count("error", items.len());
            return self.rebuild(db, items, None).await.map_err(|e| ApiError::from(&e));
        };
        let mut out: Vec<Option<TakenSeats>> = Vec::with_capacity(items.len());
        let mut missing = Vec::new();
        let mut generations = Vec::new();
        for (i, (cached, (_, layout))) in found.into_iter().zip(items).enumerate() {
            let hit = cached.value.and_then(|v| TakenSeats::decode(&v, layout.len()));
            if hit.is_none() {
                missing.push(items[i].clone());
                generations.push(cached.generation);
            }
            out.push(hit);
        }
        count("hit", items.len() - missing.len());
        if !missing.is_empty() {
            count("miss", missing.len());
            let mut rebuilt =
                self.rebuild(db, &missing, Some(generations)).await.map_err(|e| ApiError::from(&e))?.into_iter();
            for slot in out.iter_mut().filter(|s| s.is_none()) {
                *slot = rebuilt.next();
            }
        }
        Ok(out.into_iter().zip(items).map(|(t, (_, l))| t.unwrap_or_else(|| TakenSeats::none(l.len()))).collect())
    }

    /// Reads the live claims of `items` from the primary and, with `generations`, writes the bitmaps back under
    /// them (best effort).
    async fn rebuild(
        &self,
        db: &Db,
        items: &[(ShowtimeKey, Arc<SeatLayout>)],
        generations: Option<Vec<Vec<u8>>>,
    ) -> Result<Vec<TakenSeats>, RebuildError> {
        self.inner.rebuilds.fetch_add(1, Ordering::Relaxed);
        let keys: Vec<ShowtimeKey> = items.iter().map(|(k, _)| k.clone()).collect();
        let mut generations = generations;
        let client = match db.write.get().await {
            Ok(client) => client,
            // The primary is away (a failover): the replica's claims, a replication lag behind (I6: a stale map
            // can cause a 409, never a double sale), served but not cached, so the map is fresh again as soon as
            // the primary is back.
            Err(err) => {
                generations = None;
                metrics::counter!("boxoffice_db_pool_fallbacks_total", "from" => "write").increment(1);
                db.read.get().await.map_err(|_| err)?
            }
        };
        let claims = crate::metrics::timed("catalog.live_claims", store::live_claims(&client, &keys)).await?;
        let position: HashMap<ShowtimeId, usize> = keys.iter().enumerate().map(|(i, k)| (k.id, i)).collect();
        let mut taken: Vec<TakenSeats> = items.iter().map(|(_, l)| TakenSeats::none(l.len())).collect();
        let ttl_ms = u64::try_from(self.inner.ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut ttls = vec![ttl_ms; items.len()];
        for (showtime, label, expires_in_ms) in claims {
            let Some(&i) = position.get(&showtime) else { continue };
            // A claim on a label the layout lacks cannot be made by the booking side (it validates labels).
            if let Some(seat) = items[i].1.position(&label) {
                taken[i].set(seat);
            }
            if let Some(ms) = expires_in_ms {
                ttls[i] = ttls[i].min(u64::try_from(ms).unwrap_or(0).max(1));
            }
        }
        if let Some(generations) = generations {
            self.store(&keys, &taken, &ttls, &generations).await;
        }
        Ok(taken)
    }

    async fn store(&self, keys: &[ShowtimeKey], taken: &[TakenSeats], ttls: &[u64], generations: &[Vec<u8>]) {
        let redis = &self.inner.redis;
        let mut invocation = STORE.prepare_invoke();
        for (((key, taken), ttl), generation) in keys.iter().zip(taken).zip(ttls).zip(generations) {
            invocation.key(availability_key(redis, key.id)).key(generation_key(redis, key.id));
            invocation.arg(*ttl).arg(generation.as_slice()).arg(taken.encode());
        }
        let result = self.command(async |conn| invocation.invoke_async::<i64>(conn).await).await;
        if let Err(err) = result {
            self.trip(&err);
        }
    }
}
