//! The HTTP edge: what an API gateway would do, done inside every stateless pod (the ingress only routes): rate
//! limits, the client's address behind trusted proxies, security headers, CORS, the connection-level timeouts of
//! the HTTP server, and the API documentation page. (Not called "gateway": in this code base that word is the
//! payment provider's, [`crate::payment::PaymentGateway`].)
//!
//! Rate limits (DESIGN.md §8):
//! - per pod, per client address, on every public route except `/healthz`, `/readyz` and `/metrics`: a governor
//!   limiter ([`middleware::per_ip`]);
//! - across pods, in Redis (GCRA in one Lua script): per user on writes ([`middleware::user_writes`], for holds,
//!   finalizations and cancellations), per account + address and per account (failures only) on `POST /auth/token`
//!   ([`login`]), and per address on `POST /users` ([`Edge::enforce`]). Redis down or slow: a local limiter with the
//!   same quota decides, the
//!   outage is logged once, each fallback decision is counted, and the service keeps serving.
//!
//! Every refusal is a 429 `rate-limited` problem with `Retry-After`, and every limited response carries the
//! `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-11 (see [`model::Decision`]).

pub mod apidoc;
pub mod docs;
pub mod limiter;
pub mod login;
pub mod middleware;
pub mod model;
pub mod server;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};
use tokio_util::sync::CancellationToken;

use crate::cache::Redis;
use crate::config::EdgeConfig;
use crate::error::{ApiError, Problem};
use limiter::{LocalLimiter, SharedLimiter};
use model::{Decision, Scope};

pub use middleware::ClientIp;

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-11, §3).
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11, §4).
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// How often idle limiter keys are forgotten.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(60);

/// The edge's state, shared by every request: the middleware and the rate-limited handlers take it as
/// `State<Arc<Edge>>`.
#[derive(Debug)]
pub struct Edge {
    /// Its configuration.
    pub config: EdgeConfig,
    /// Per pod, per client address (`None`: rate limits are off).
    per_ip: Option<LocalLimiter<IpAddr>>,
    /// Per user, per account, per address, across pods.
    shared: SharedLimiter,
}

impl Edge {
    /// The limiters of `config`, sharing `redis`.
    pub fn new(config: &EdgeConfig, redis: Redis) -> Self {
        let mode = config.rate_limits;
        Self {
            per_ip: config.per_ip.under(mode).map(|quota| LocalLimiter::new(Scope::PerIp, quota)),
            shared: SharedLimiter::new(
                redis,
                config.user_writes.under(mode),
                config.login.under(mode),
                config.login_account.under(mode),
                config.signup.under(mode),
            ),
            config: config.clone(),
        }
    }

    /// The per-pod limiter (`None` when rate limits are off).
    pub fn per_ip(&self) -> Option<&LocalLimiter<IpAddr>> {
        self.per_ip.as_ref()
    }

    /// Whether the shared limits currently run on the local fallback (Redis down).
    pub fn is_degraded(&self) -> bool {
        self.shared.is_degraded()
    }

    /// Counts one request of `subject` under a shared `scope`: its `RateLimit` headers when allowed (empty when the
    /// scope is not limited).
    ///
    /// # Errors
    /// A 429 `rate-limited` problem, with its headers, when the quota is spent.
    pub async fn enforce(&self, scope: Scope, subject: &str) -> Result<RateLimitHeaders, ApiError> {
        match self.shared.check(scope, subject).await {
            Some(decision) if !decision.allowed => Err(rejection(&decision)),
            decision => Ok(RateLimitHeaders(decision)),
        }
    }

    /// Forgets idle limiter keys every minute until `shutdown`.
    pub async fn upkeep(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if let Some(limiter) = &self.per_ip {
                        limiter.retain_recent();
                    }
                    self.shared.retain_recent();
                }
            }
        }
    }
}

/// The login limiter's subject: the account as typed ([`login::login_account`]) and the client's address, so that
/// one address cannot guess at many accounts' expense and many addresses cannot lock one account out through this
/// limiter (guessing spread over many addresses meets the account's ceiling instead: [`login`]).
pub fn login_subject(email: &str, client: IpAddr) -> String {
    format!("{}|{}", login::login_account(email), model::address_key(client))
}

/// The 429 problem for a refusal: `Retry-After`, both `RateLimit` fields, and `violatedPolicies` (the draft's
/// `violated-policies` member, camel-cased like every extension member of this API).
pub fn rejection(decision: &Decision) -> ApiError {
    let detail = format!(
        "too many requests under the {:?} policy; retry in {} s",
        decision.scope.name(),
        decision.retry_after_secs()
    );
    rejection_as(decision, Problem::RateLimited, detail)
}

/// [`rejection`] as another 429 problem type (`login-throttled`) with its own `detail`.
pub fn rejection_as(decision: &Decision, problem: Problem, detail: String) -> ApiError {
    metrics::counter!("boxoffice_rate_limited_total", "scope" => decision.scope.name()).increment(1);
    let secs = decision.retry_after_secs();
    let mut error = ApiError::new(problem, detail).retry_after(secs).with("violatedPolicies", [decision.scope.name()]);
    for (name, value) in header_values(decision) {
        error = error.with_header(name, value);
    }
    error
}

fn header_values(decision: &Decision) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
    [(RATELIMIT_POLICY.clone(), decision.policy_header()), (RATELIMIT.clone(), decision.limit_header())]
        .into_iter()
        .filter_map(|(name, value)| HeaderValue::try_from(value).ok().map(|v| (name, v)))
}

/// The `RateLimit-Policy` and `RateLimit` fields of an allowed request, as a response part (appended, so that
/// several policies add up to one list).
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimitHeaders(pub Option<Decision>);

impl IntoResponseParts for RateLimitHeaders {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(decision) = &self.0 {
            for (name, value) in header_values(decision) {
                res.headers_mut().append(name, value);
            }
        }
        Ok(res)
    }
}

impl RateLimitHeaders {
    /// Adds the fields to an error answered after the limiter let the request through (a refused login still tells
    /// the client how many attempts it has left).
    pub fn attach(&self, mut error: ApiError) -> ApiError {
        if let Some(decision) = &self.0 {
            for (name, value) in header_values(decision) {
                error = error.with_header(name, value);
            }
        }
        error
    }

    /// Appends the fields to `headers`.
    pub fn apply(&self, headers: &mut axum::http::HeaderMap) {
        if let Some(decision) = &self.0 {
            for (name, value) in header_values(decision) {
                headers.append(name, value);
            }
        }
    }
}
