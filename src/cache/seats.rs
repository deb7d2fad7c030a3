//! The seat-availability cache of each showtime in Redis (DESIGN.md §8), and the one call the booking side makes
//! after a commit that changed claims: [`invalidate`].
//!
//! The catalog owns how availability is stored and rebuilt; the contract with the booking side is only this: after
//! any commit that adds, takes over or releases a claim of a showtime, call `invalidate(redis, showtime)`. It is
//! best effort: a Redis failure is logged and counted, and the entry's short TTL bounds the staleness (I6: the cache
//! may lag and cause a 409, never a double sale).

use uuid::Uuid;

use super::Redis;

/// The Redis key of a showtime's availability entry.
pub fn availability_key(redis: &Redis, showtime: Uuid) -> String {
    redis.key(&format!("seats:{showtime}"))
}

/// Forgets a showtime's cached availability (see the module docs).
pub async fn invalidate(redis: &Redis, showtime: Uuid) {
    let key = availability_key(redis, showtime);
    let result = redis.run(async |conn| redis::cmd("DEL").arg(&key).query_async::<i64>(conn).await).await;
    if let Err(err) = result {
        metrics::counter!("boxoffice_cache_requests_total", "cache" => "seats", "result" => "error").increment(1);
        tracing::warn!(%showtime, error = %err, "seat cache invalidation failed; the TTL will expire it");
    }
}
