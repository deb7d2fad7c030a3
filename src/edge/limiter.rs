//! The two kinds of limiter: [`LocalLimiter`] (governor, in this process) and [`SharedLimiter`] (GCRA in one Redis
//! Lua script, shared by every pod), which falls back to a local limiter with the same quota while Redis is down or
//! slow.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota as GovernorQuota, RateLimiter};

use super::model::{Decision, Quota, Scope};
use crate::cache::Redis;

/// The GCRA script (`gcra.lua`), sent with EVALSHA (loaded on first use, and again after a Redis restart).
static GCRA: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("gcra.lua")));

/// How long Redis is left alone after a failure: during an outage most requests go straight to the local limiter
/// instead of each waiting for the Redis timeout.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A keyed governor limiter in this process's memory: exact and fast, but per pod.
pub struct LocalLimiter<K: Hash + Eq + Clone> {
    scope: Scope,
    quota: Quota,
    inner: RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for LocalLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimiter").field("scope", &self.scope).field("quota", &self.quota).finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone> LocalLimiter<K> {
    /// A limiter of `quota` for `scope`.
    pub fn new(scope: Scope, quota: Quota) -> Self {
        let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
        // `with_period` refuses only a zero interval, which a `Quota` never holds (its constructors refuse it).
        let period = quota.interval.max(Duration::from_nanos(1));
        let governor_quota = GovernorQuota::with_period(period)
            .map_or_else(|| GovernorQuota::per_second(burst), |q| q.allow_burst(burst));
        let inner = RateLimiter::keyed(governor_quota).with_middleware::<StateInformationMiddleware>();
        Self { scope, quota, inner, clock: DefaultClock::default() }
    }

    /// Counts one request of `key`.
    pub fn check(&self, key: &K) -> Decision {
        match self.inner.check_key(key) {
            Ok(state) => Decision::allowed(self.scope, self.quota, state.remaining_burst_capacity()),
            Err(not_until) => Decision::refused(self.scope, self.quota, not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Forgets the keys whose buckets are full again (they behave exactly as absent ones), so memory follows the
    /// number of recently active clients rather than every client ever seen.
    pub fn retain_recent(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// One Redis-backed policy: its quota and the local limiter that stands in for Redis.
#[derive(Debug)]
struct SharedPolicy {
    quota: Quota,
    fallback: LocalLimiter<String>,
}

/// The limits shared by every pod, kept in Redis.
pub struct SharedLimiter {
    redis: Redis,
    user_writes: Option<SharedPolicy>,
    login: Option<SharedPolicy>,
    /// Failed logins per account, whatever the address (only failures count; every attempt looks: [`Self::peek`]).
    login_account: Option<SharedPolicy>,
    signup: Option<SharedPolicy>,
    /// Milliseconds after `epoch` before which Redis is not tried again (see [`REDIS_RETRY_AFTER`]).
    retry_redis_at_ms: AtomicU64,
    epoch: Instant,
    /// Set while falling back, so that an outage is logged once when it starts and once when it ends.
    degraded: AtomicBool,
}

impl std::fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("user_writes", &self.user_writes)
            .field("login", &self.login)
            .field("login_account", &self.login_account)
            .field("signup", &self.signup)
            .field("degraded", &self.degraded)
            .finish_non_exhaustive()
    }
}

impl SharedLimiter {
    /// Policies for the scopes that have a quota (`None`: that scope is not limited).
    pub fn new(
        redis: Redis,
        user_writes: Option<Quota>,
        login: Option<Quota>,
        login_account: Option<Quota>,
        signup: Option<Quota>,
    ) -> Self {
        let policy = |scope, quota: Option<Quota>| {
            quota.map(|quota| SharedPolicy { quota, fallback: LocalLimiter::new(scope, quota) })
        };
        Self {
            redis,
            user_writes: policy(Scope::UserWrites, user_writes),
            login: policy(Scope::Login, login),
            login_account: policy(Scope::LoginAccount, login_account),
            signup: policy(Scope::Signup, signup),
            retry_redis_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            degraded: AtomicBool::new(false),
        }
    }

    fn policy(&self, scope: Scope) -> Option<&SharedPolicy> {
        match scope {
            Scope::UserWrites => self.user_writes.as_ref(),
            Scope::Login => self.login.as_ref(),
            Scope::LoginAccount => self.login_account.as_ref(),
            Scope::Signup => self.signup.as_ref(),
            Scope::PerIp => None,
        }
    }

    /// Whether the last Redis call failed and the local limiters are standing in.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Counts one request of `subject` under `scope`; `None` when that scope is not limited. Redis decides; if it
    /// is down or slow, the local limiter with the same quota does (counted in `boxoffice_rate_limit_fallback_total`),
    /// and the service keeps serving.
    pub async fn check(&self, scope: Scope, subject: &str) -> Option<Decision> {
        let policy = self.policy(scope)?;
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms >= self.retry_redis_at_ms.load(Ordering::Relaxed) {
            match self.check_redis(scope, policy.quota, subject, false).await {
                Ok(decision) => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::info!("redis is back: rate limits are shared by every pod again");
                    }
                    return Some(decision);
                }
                Err(err) => {
                    let retry_at = now_ms.saturating_add(REDIS_RETRY_AFTER.as_millis() as u64);
                    self.retry_redis_at_ms.store(retry_at, Ordering::Relaxed);
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            error = %err,
                            "redis unavailable: rate limits fall back to per-pod limiters until it answers again"
                        );
                    }
                }
            }
        }
        metrics::counter!("boxoffice_rate_limit_fallback_total", "scope" => scope.name()).increment(1);
        Some(policy.fallback.check(&subject.to_owned()))
    }

    /// Whether one more request of `subject` would be allowed under `scope` now, counting nothing; `None` when the
    /// scope is not limited, or when Redis cannot say (down or slow: the look is skipped, the scope fails open, and
    /// the per account + address limits, which fall back to local limiters, still apply).
    pub async fn peek(&self, scope: Scope, subject: &str) -> Option<Decision> {
        let policy = self.policy(scope)?;
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms < self.retry_redis_at_ms.load(Ordering::Relaxed) {
            return None;
        }
        match self.check_redis(scope, policy.quota, subject, true).await {
            Ok(decision) => Some(decision),
            Err(err) => {
                tracing::debug!(error = %err, scope = scope.name(), "redis unavailable: limit not looked at");
                None
            }
        }
    }

    async fn check_redis(
        &self,
        scope: Scope,
        quota: Quota,
        subject: &str,
        peek: bool,
    ) -> Result<Decision, crate::cache::CacheError> {
        let key = self.redis.key(&format!("rl:{}:{subject}", scope.name()));
        let interval_us = u64::try_from(quota.interval.as_micros()).unwrap_or(u64::MAX).max(1);
        let (allowed, remaining, micros): (i64, i64, i64) = self
            .redis
            .run(async |conn| {
                GCRA.key(&key)
                    .arg(interval_us)
                    .arg(quota.burst)
                    .arg(if peek { "1" } else { "0" })
                    .invoke_async(conn)
                    .await
            })
            .await?;
        let wait = Duration::from_micros(u64::try_from(micros).unwrap_or(0));
        Ok(if allowed == 1 {
            Decision::allowed(scope, quota, u32::try_from(remaining).unwrap_or(0))
        } else {
            Decision::refused(scope, quota, wait)
        })
    }

    /// Sets the Redis key `name` (under the prefix) for `ttl`; a failure is logged and ignored (what it remembers is
    /// an exemption: forgetting it costs a throttled owner, not a guessed password).
    pub async fn remember(&self, name: &str, ttl: Duration) {
        let key = self.redis.key(name);
        let secs = ttl.as_secs().max(1);
        let set = self
            .redis
            .run(async |conn| redis::cmd("SET").arg(&key).arg(1).arg("EX").arg(secs).query_async::<()>(conn).await);
        if let Err(error) = set.await {
            tracing::debug!(%error, "redis unavailable: not remembered");
        }
    }

    /// Whether the Redis key `name` (under the prefix) exists; `false` when Redis cannot say.
    pub async fn recalls(&self, name: &str) -> bool {
        let key = self.redis.key(name);
        self.redis.run(async |conn| redis::cmd("EXISTS").arg(&key).query_async::<i64>(conn).await).await.unwrap_or(0)
            > 0
    }

    /// Forgets idle keys of the fallback limiters.
    pub fn retain_recent(&self) {
        for policy in [&self.user_writes, &self.login, &self.login_account, &self.signup].into_iter().flatten() {
            policy.fallback.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_limiter_allows_the_burst_then_refuses_with_a_wait() {
        let quota = Quota { burst: 3, interval: Duration::from_secs(60) };
        let limiter = LocalLimiter::<u8>::new(Scope::PerIp, quota);
        let remaining: Vec<_> = (0..3).map(|_| limiter.check(&1)).map(|d| (d.allowed, d.remaining)).collect();
        assert_eq!(remaining, [(true, 2), (true, 1), (true, 0)]);
        let refused = limiter.check(&1);
        assert!(!refused.allowed);
        assert!(refused.reset > Duration::from_secs(55) && refused.reset <= Duration::from_secs(60), "{refused:?}");
        assert!(limiter.check(&2).allowed, "another key has its own bucket");
        assert_eq!(limiter.len(), 2);
    }
}
