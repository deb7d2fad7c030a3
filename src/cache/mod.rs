//! Redis: the connection pool every Redis user shares ([`Redis`]), the seat-availability cache ([`seats`]), the
//! seat-change channel every pod publishes on and subscribes to ([`changes`]), and the warm availability each pod
//! keeps in memory from it ([`warm`]). The rate limits shared across pods also run on Redis, but they live with the
//! other limits in [`crate::edge`]. Redis is an accelerator, never the source of truth: every caller has a fallback
//! (the database; the local limiter), and every Redis call is bounded by a short timeout.

pub mod changes;
pub mod seats;
pub mod warm;

use std::time::Duration;

use bb8_redis::RedisConnectionManager;
use redis::aio::MultiplexedConnection;

use crate::config::RedisConfig;

/// A pooled connection and whether it is to be discarded instead of reused.
struct Pooled {
    conn: MultiplexedConnection,
    /// Set while a command is in flight and left set if it failed: a connection whose command failed or was
    /// abandoned at the timeout (a hung server) is closed on return rather than handed out again.
    broken: bool,
}

/// bb8-redis's manager checks every checkout with a `PING`, a second round trip for every command (half of the
/// Redis traffic of a warm seat map). This one checks nothing on checkout and instead discards connections whose
/// last command did not succeed, so a Redis restart costs one failed command per pooled connection.
struct Manager(RedisConnectionManager);

impl bb8::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = redis::RedisError;

    async fn connect(&self) -> Result<Pooled, redis::RedisError> {
        Ok(Pooled { conn: self.0.connect().await?, broken: false })
    }

    async fn is_valid(&self, _: &mut Pooled) -> Result<(), redis::RedisError> {
        Ok(())
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.broken
    }
}

/// A pooled Redis connection handle with this deployment's key prefix.
#[derive(Clone)]
pub struct Redis {
    pool: bb8::Pool<Manager>,
    /// For connections outside the pool (subscriptions, [`changes`]).
    client: redis::Client,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// A Redis failure: down, slow, or an error reply. Callers fall back to the database.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// No connection within the timeout.
    #[error("redis unavailable: {0}")]
    Unavailable(String),
    /// A command failed.
    #[error("redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    /// A command took longer than the timeout.
    #[error("redis command timed out")]
    Timeout,
}

impl Redis {
    /// Builds the pool without connecting: the service starts, and serves from the database, while Redis is down.
    ///
    /// # Errors
    /// The URL is invalid (already checked by configuration).
    pub fn new(config: &RedisConfig) -> Result<Self, CacheError> {
        let manager = Manager(RedisConnectionManager::new(config.url.expose())?);
        let client = redis::Client::open(config.url.expose())?;
        let pool = bb8::Pool::builder()
            .max_size(32)
            .connection_timeout(config.timeout)
            .test_on_check_out(false)
            .build_unchecked(manager);
        Ok(Self { pool, client, prefix: config.key_prefix.clone(), timeout: config.timeout })
    }

    /// `prefix + name`: every key goes through here.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs `f` on a pooled connection under the timeout. A connection on which `f` fails or times out is not
    /// reused.
    ///
    /// # Errors
    /// See [`CacheError`].
    pub async fn run<T, F>(&self, f: F) -> Result<T, CacheError>
    where
        F: AsyncFnOnce(&mut MultiplexedConnection) -> redis::RedisResult<T>,
    {
        let work = async {
            let mut pooled = self.pool.get().await.map_err(|e| CacheError::Unavailable(e.to_string()))?;
            pooled.broken = true;
            let result = f(&mut pooled.conn).await;
            pooled.broken = result.is_err();
            Ok(result?)
        };
        tokio::time::timeout(self.timeout, work).await.unwrap_or(Err(CacheError::Timeout))
    }

    /// A clone of a pooled multiplexed connection, for a caller that keeps it and sends concurrent commands on it
    /// (the seat cache: many requests in flight on one connection are written and read in batches, far fewer
    /// system calls and Redis wake-ups than one pooled connection per request). Such a caller bounds each command
    /// with [`Redis::timeout`] and drops the clone when a command fails. The connection is checked with a `PING`
    /// first: cloning cannot fail, so without it a dead pooled connection would be handed out again and again.
    ///
    /// # Errors
    /// See [`CacheError`].
    pub async fn multiplexed(&self) -> Result<MultiplexedConnection, CacheError> {
        self.run(async |conn| {
            redis::cmd("PING").query_async::<String>(conn).await?;
            Ok(conn.clone())
        })
        .await
    }

    /// The client, for connections outside the pool.
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The bound of every Redis call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Open and idle connections of the pool (for the `boxoffice_redis_pool_connections` gauges).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// `PING`.
    ///
    /// # Errors
    /// See [`CacheError`].
    pub async fn ping(&self) -> Result<(), CacheError> {
        self.run(async |conn| redis::cmd("PING").query_async::<String>(conn).await).await.map(drop)
    }
}
