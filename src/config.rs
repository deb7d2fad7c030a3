//! Configuration, read once from `BOXOFFICE_*` environment variables.
//!
//! Every variable, its meaning and its default:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `BOXOFFICE_LISTEN_ADDR` | `127.0.0.1:8080` | address the HTTP API binds |
//! | `BOXOFFICE_METRICS_ADDR` | unset | when set, `/metrics` (and `/healthz`) are served on this address and no longer on the public one; the worker serves them there too |
//! | `BOXOFFICE_DATABASE_URL` | `postgres://postgres@127.0.0.1:15432/boxoffice` | primary (write) database |
//! | `BOXOFFICE_READ_DATABASE_URL` | the primary | catalog reads; follower reads on CockroachDB |
//! | `BOXOFFICE_DB_DIALECT` | `auto` | `postgres`, `cockroach`, or `auto` (detected from `SELECT version()`) |
//! | `BOXOFFICE_DB_POOL_SIZE` | `16` | connections in the write pool, per process |
//! | `BOXOFFICE_READ_POOL_SIZE` | `16` | connections in the read pool, per process |
//! | `BOXOFFICE_DB_TIMEOUT_MS` | `2000` | connect, pool-wait and health-check timeout |
//! | `BOXOFFICE_DB_CA_CERT` | unset | PEM file of the CA that signed the database's certificate: connections use TLS (verified: chain and host name) as the URL's `sslmode` says (`require` for CockroachDB in secure mode) |
//! | `BOXOFFICE_DB_CLIENT_CERT` / `BOXOFFICE_DB_CLIENT_KEY` | unset | PEM client certificate and key (CockroachDB `cockroach cert create-client`), both or neither; need `BOXOFFICE_DB_CA_CERT` |
//! | `BOXOFFICE_TX_MAX_ATTEMPTS` | `8` | attempts of a serializable transaction before a 503 |
//! | `BOXOFFICE_TX_BACKOFF_BASE_MS` | `4` | first retry back-off ceiling (doubles per attempt, full jitter) |
//! | `BOXOFFICE_TX_BACKOFF_MAX_MS` | `250` | back-off ceiling |
//! | `BOXOFFICE_REDIS_URL` | `redis://127.0.0.1:16379` | seat-availability cache and global rate limits |
//! | `BOXOFFICE_REDIS_KEY_PREFIX` | `boxoffice:` | prefix of every Redis key (several deployments can share a Redis) |
//! | `BOXOFFICE_REDIS_TIMEOUT_MS` | `250` | Redis connect/command timeout: past it, the database answers instead |
//! | `BOXOFFICE_SEATMAP_TTL_MS` | `2000` | lifetime of a showtime's seat-availability entry in Redis (shortened to the earliest hold expiry); bounds how stale a seat map can be |
//! | `BOXOFFICE_CATALOG_TTL_MS` | `5000` | lifetime of in-process showtime summaries and search results: how long another pod may show a showtime an admin changed or canceled |
//! | `BOXOFFICE_LOADTEST_ROUTES` | `false` | `true` serves `GET /loadtest/static?bytes=N` (a JSON body of N bytes from memory), the HTTP baseline of `loadtest/run.sh`; keep it off in production |
//! | `BOXOFFICE_JWT_SECRET` | none: `serve` refuses to start without it | HMAC key for access tokens, 32 bytes or more, the same in every pod (`make run` sets a development key) |
//! | `BOXOFFICE_JWT_KEY_ID` | `k1` | `kid` of tokens signed with the secret |
//! | `BOXOFFICE_JWT_ISSUER` | `boxoffice` | `iss` of issued tokens, checked on every request |
//! | `BOXOFFICE_JWT_AUDIENCE` | `boxoffice-api` | `aud` of issued tokens, checked on every request |
//! | `BOXOFFICE_TOKEN_TTL_SECS` | `3600` | lifetime of an access token |
//! | `BOXOFFICE_HOLD_TTL_SECS` | `600` | how long a hold keeps its seats |
//! | `BOXOFFICE_MAX_SEATS_PER_BOOKING` | `10` | seats one hold may ask for |
//! | `BOXOFFICE_MAX_SEATS_PER_USER_SHOWTIME` | `10` | live seats (held, being paid, paid) one user may have on one showtime |
//! | `BOXOFFICE_SEAT_GATE` | `true` | refuse at once (409) a hold of a seat another hold of this process is claiming (`booking::gate`) |
//! | `BOXOFFICE_SEAT_GATE_MEMORY_MS` | `2000` | how long the seat gate also refuses the seats a hold of this process committed (never past the hold's expiry; what this process releases is forgotten at once); bounds how long a seat another pod released can be refused here; `0` turns it off |
//! | `BOXOFFICE_HOLD_BATCH_MAX` | `32` | most holds of one region committed in one transaction when every write connection is busy (`booking::combine`); `1` turns group commit off |
//! | `BOXOFFICE_HOLD_EXTENSIONS_MAX` | `1` | how many times one hold may be extended (`POST /bookings/{id}/extend`; at most 100, `0` refuses every extension) |
//! | `BOXOFFICE_HOLD_EXTENSION_SECS` | `300` | what one extension adds to a hold (at most 3600; never past the showtime's start) |
//! | `BOXOFFICE_PAYMENT_PROVIDER` | `sandbox` | payment provider; `sandbox` is the in-process test provider (`tok_visa`, ...) |
//! | `BOXOFFICE_PAYMENT_TIMEOUT_MS` | `5000` | a provider call unanswered after this is an unknown outcome (504, reconciled later) |
//! | `BOXOFFICE_PAYMENT_WINDOW_SECS` | `120` | a hold being paid is extended to at least this far ahead |
//! | `BOXOFFICE_PAYMENT_SANDBOX_LATENCY_MS` | `0` | the sandbox provider's answer delay |
//! | `BOXOFFICE_PAYMENT_SANDBOX_FAIL_FILE` | unset | while this file exists the sandbox provider is down (every call fails as an outage): the chaos drills' provider switch |
//! | `BOXOFFICE_PAYMENT_CIRCUIT_FAILURES` | `5` | consecutive provider failures (timeouts, 5xx) that open the circuit |
//! | `BOXOFFICE_PAYMENT_CIRCUIT_COOLDOWN_MS` | `30000` | how long an open circuit refuses calls before one trial |
//! | `BOXOFFICE_SWEEP_INTERVAL_SECS` | `5` | worker: how often lapsed holds are expired |
//! | `BOXOFFICE_SWEEP_BATCH` | `2000` | worker: lapsed holds read per sweep batch, then expired by key in SERIALIZABLE transactions of at most 100 (halved on contention) |
//! | `BOXOFFICE_SWEEP_MAX_BATCHES` | `10` | worker: sweep batches per run; a run that stops there with lapsed holds left is followed at once by the next |
//! | `BOXOFFICE_JOB_TIMEOUT_SECS` | `60` | worker: a sweep, reconciler, purge or audit run still going after this is abandoned (and counted `timeout`); the next tick runs it again |
//! | `BOXOFFICE_RECONCILE_INTERVAL_SECS` | `10` | worker: how often unresolved payments are looked up |
//! | `BOXOFFICE_RECONCILE_AFTER_SECS` | `30` | worker: a payment unresolved for this long is reconciled; must exceed the payment timeout |
//! | `BOXOFFICE_SMTP_URL` | unset (mails are logged) | worker: the mail server for booking confirmations, e.g. `smtp://127.0.0.1:2525` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS); a secret |
//! | `BOXOFFICE_MAIL_FROM` | `boxoffice <tickets@boxoffice.localhost>` | worker: the sender of booking mails |
//! | `BOXOFFICE_SMTP_TIMEOUT_MS` | `5000` | worker: a mail server that does not answer within this fails the attempt (retried later) |
//! | `BOXOFFICE_OUTBOX_INTERVAL_MS` | `1000` | worker: how often the outbox is polled for mails to send |
//! | `BOXOFFICE_OUTBOX_BATCH` | `200` | worker: events claimed per dispatcher run; a full batch is followed at once by the next |
//! | `BOXOFFICE_OUTBOX_CONCURRENCY` | `16` | worker: mails of a batch delivered at once, over as many reused SMTP connections |
//! | `BOXOFFICE_REQUEST_TIMEOUT_MS` | `10000` | a request still running after this gets a 503 |
//! | `BOXOFFICE_BODY_LIMIT_BYTES` | `65536` | larger request bodies get a 413 (the theater writes have their own limit, `THEATER_BODY_LIMIT`, the largest body their schema allows) |
//! | `BOXOFFICE_SHUTDOWN_TIMEOUT_SECS` | `20` | how long SIGTERM waits for in-flight requests |
//! | `BOXOFFICE_LOG` | `info` | `tracing` filter, e.g. `info,boxoffice=debug` |
//! | `BOXOFFICE_LOG_FORMAT` | `json` | `json` or `pretty` |
//! | `BOXOFFICE_ADMIN_EMAIL` | unset | with `BOXOFFICE_ADMIN_PASSWORD`: an admin account ensured at start-up |
//! | `BOXOFFICE_ADMIN_PASSWORD` | unset | its password (8–128 characters) |
//! | `BOXOFFICE_TICKET_KEYS` | unset: no tickets are shown, check-in answers 503 | Ed25519 keys of ticket tokens: `kid:seed,kid2:seed2`, each seed 32 bytes as 64 hex digits (`openssl rand -hex 32`), kid 1–16 ASCII letters, digits, `-` or `_`; the first signs, every one verifies and is published at `GET /tickets/keys` (keep a retired key listed until its tickets' showtimes are over); the same in every pod and the worker; `make run` sets a development key |
//! | `BOXOFFICE_JWT_PREVIOUS_KEYS` | unset | verify-only keys while rotating: `kid:secret,kid2:secret2` (each secret 32 bytes or more, no commas) |
//! | `BOXOFFICE_HEADER_READ_TIMEOUT_MS` | `5000` | a connection that has not sent a complete request head within this is closed (also the keep-alive idle limit) |
//! | `BOXOFFICE_RATE_LIMITS` | `on` | `on`, `relaxed` (every quota × 100, for load tests) or `off` |
//! | `BOXOFFICE_RATE_LIMIT_PER_IP` | `50` | per pod: requests per second per client address (every route but `/healthz`, `/readyz`, `/metrics`) |
//! | `BOXOFFICE_RATE_LIMIT_PER_IP_BURST` | `100` | per pod: requests per client address allowed back to back |
//! | `BOXOFFICE_RATE_LIMIT_USER_WRITES` | `30` | all pods (Redis): holds, finalizations and cancellations per user per minute |
//! | `BOXOFFICE_RATE_LIMIT_USER_WRITES_BURST` | `10` | all pods: holds, finalizations and cancellations per user back to back |
//! | `BOXOFFICE_LOGIN_ATTEMPTS` | `10` | all pods: `POST /auth/token` per account and client address per window |
//! | `BOXOFFICE_LOGIN_WINDOW_SECS` | `300` | that window |
//! | `BOXOFFICE_SIGNUPS_PER_HOUR` | `20` | all pods: `POST /users` per client address per hour |
//! | `BOXOFFICE_LOGIN_ACCOUNT_FAILURES` | `50` | all pods: failed `POST /auth/token` per account from every address per window, beyond which addresses the account never logged in from are throttled (`edge::login`) |
//! | `BOXOFFICE_LOGIN_ACCOUNT_WINDOW_SECS` | `3000` | that window (one failure earned back a minute) |
//! | `BOXOFFICE_TRUSTED_PROXIES` | unset | CIDR list of proxies whose `X-Forwarded-For` is believed, e.g. `10.0.0.0/8,fd00::/8` |
//! | `BOXOFFICE_CORS_ORIGINS` | unset | comma list of origins allowed to call the API from a browser; unset: no CORS headers |
//! | `BOXOFFICE_HSTS` | `false` | send `Strict-Transport-Security` (set it when clients reach the API over HTTPS) |
//!
//! A value that does not parse stops the process at start-up with the variable's name in the message.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::edge::model::{Quota, RateLimitMode, TrustedProxies};

/// A value that must never be printed: `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Which SQL dialect the database speaks (DESIGN.md §3: DML is shared, DDL and a few session settings differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialectSetting {
    /// Ask the server (`SELECT version()`) at start-up.
    Auto,
    /// PostgreSQL 15 or later.
    Postgres,
    /// CockroachDB.
    Cockroach,
}

impl FromStr for DialectSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "cockroach" | "cockroachdb" => Ok(Self::Cockroach),
            other => Err(format!("expected auto, postgres or cockroach, got {other:?}")),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable, coloured.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => Err(format!("expected json or pretty, got {other:?}")),
        }
    }
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The primary. `tokio_postgres::Config`'s `Debug` redacts the password.
    pub write: tokio_postgres::Config,
    /// The read pool's target (the primary unless configured).
    pub read: tokio_postgres::Config,
    /// Dialect, or `Auto` to detect it.
    pub dialect: DialectSetting,
    /// Write pool size.
    pub pool_size: usize,
    /// Read pool size.
    pub read_pool_size: usize,
    /// Connect, pool-wait and health-check timeout.
    pub timeout: Duration,
    /// Serializable transaction retry policy.
    pub retry: RetryPolicy,
    /// TLS to the database; `None`: plain connections.
    pub tls: Option<DbTls>,
}

/// Certificates for TLS connections to the database (CockroachDB in secure mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTls {
    /// PEM file of the CA the server's certificate must chain to.
    pub ca_cert: PathBuf,
    /// PEM client certificate and private key, for certificate authentication.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Bounds of the serializable-transaction retry loop (DESIGN.md §6, "Retries").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; then the request gets a 503.
    pub max_attempts: u32,
    /// Back-off ceiling after the first failure; it doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    /// Largest back-off ceiling. The actual sleep is uniform in `[0, ceiling]` (full jitter).
    pub max_backoff: Duration,
}

/// Redis settings.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://` URL; may hold a password, hence secret.
    pub url: Secret,
    /// Prefix of every key this deployment writes.
    pub key_prefix: String,
    /// Connect and command timeout: Redis is an accelerator, never worth waiting for.
    pub timeout: Duration,
}

/// Access-token settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HMAC-SHA256 signing key. `None`: a random key is made at start-up (development only).
    pub jwt_secret: Option<Secret>,
    /// Key id put in the token header, so keys can rotate.
    pub jwt_key_id: String,
    /// Verify-only keys (kid, secret) of earlier secrets, kept while their tokens may still be alive.
    pub jwt_previous_keys: Vec<(String, Secret)>,
    /// Issuer claim.
    pub issuer: String,
    /// Audience claim.
    pub audience: String,
    /// Token lifetime.
    pub token_ttl: Duration,
    /// An admin account ensured at start-up: (email, password).
    pub bootstrap_admin: Option<(String, Secret)>,
    /// Ticket signing keys (kid, Ed25519 seed), the first one signing (`BOXOFFICE_TICKET_KEYS`).
    pub ticket_keys: Vec<(String, TicketSeed)>,
}

/// An Ed25519 private key's 32-byte seed; redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TicketSeed(pub [u8; 32]);

impl fmt::Debug for TicketSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TicketSeed(\"[redacted]\")")
    }
}

/// Which payment provider the service charges through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentProvider {
    /// The in-process sandbox (test tokens; see `payment::sandbox`).
    Sandbox,
}

impl FromStr for PaymentProvider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sandbox" => Ok(Self::Sandbox),
            other => Err(format!("expected sandbox (the only provider built in), got {other:?}")),
        }
    }
}

/// Limits of the booking protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingConfig {
    /// Seats one hold may ask for.
    pub max_seats_per_booking: usize,
    /// Live seats one user may have on one showtime (checked inside the hold transaction).
    pub max_seats_per_user_showtime: usize,
    /// Whether holds go through the in-process seat gate first.
    pub seat_gate: bool,
    /// How long the seat gate refuses the seats a hold of this process committed (zero: not at all).
    pub seat_gate_memory: Duration,
    /// Most holds committed together when every write connection is busy (`booking::combine`); 1 turns it off.
    pub hold_batch_max: usize,
    /// How many times one hold may be extended (`POST /bookings/{id}/extend`); 0 refuses every extension.
    pub hold_extensions_max: u32,
    /// How much one extension adds to a hold (never past the showtime's start).
    pub hold_extension: Duration,
}

/// Payment provider settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentConfig {
    /// The provider.
    pub provider: PaymentProvider,
    /// Timeout of each provider call.
    pub timeout: Duration,
    /// How far ahead a hold being paid is extended.
    pub window: Duration,
    /// The sandbox provider's answer delay.
    pub sandbox_latency: Duration,
    /// While this file exists, the sandbox provider is down: every call fails as a provider outage (the chaos
    /// drills switch the provider off and on at run time). Leaked once at start-up so that the settings stay `Copy`.
    pub sandbox_fail_file: Option<&'static std::path::Path>,
    /// Consecutive failures that open the circuit.
    pub circuit_failures: u32,
    /// How long an open circuit refuses calls.
    pub circuit_cooldown: Duration,
}

/// Background job settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Period of the hold-expiry sweeper.
    pub sweep_interval: Duration,
    /// Bookings expired per sweep statement.
    pub sweep_batch: i64,
    /// Sweep statements per run (the run's bound: it then reports the backlog and yields).
    pub sweep_max_batches: u32,
    /// The longest a sweep, reconciler, purge or audit run may take (each job has its own timer).
    pub job_timeout: Duration,
    /// Period of the payment reconciler.
    pub reconcile_interval: Duration,
    /// Age of an unresolved payment before the reconciler looks it up (longer than the payment timeout, so that a
    /// finalize request still waiting for its answer is not raced).
    pub reconcile_after: Duration,
}

/// The outbox dispatcher's mail settings (`crate::notify`).
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The SMTP server's URL (it may hold credentials); `None`: mails are logged, not sent.
    pub smtp_url: Option<Secret>,
    /// The sender, e.g. `boxoffice <tickets@example.com>`.
    pub from: String,
    /// SMTP command timeout.
    pub timeout: Duration,
    /// How often the outbox is polled.
    pub interval: Duration,
    /// Events claimed per run.
    pub batch: i64,
    /// Deliveries of a batch in flight at once (and the size of the SMTP connection pool).
    pub concurrency: usize,
    /// The ticket keys (`BOXOFFICE_TICKET_KEYS`, as in [`AuthConfig::ticket_keys`]): a confirmation carries each
    /// ticket's QR code, signed by the first.
    pub ticket_keys: Vec<(String, TicketSeed)>,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen address.
    pub listen_addr: SocketAddr,
    /// Separate listener for `/metrics`; `None`: `/metrics` is on the public listener.
    pub metrics_addr: Option<SocketAddr>,
    /// Database settings.
    pub database: DatabaseConfig,
    /// Redis settings.
    pub redis: RedisConfig,
    /// Token settings.
    pub auth: AuthConfig,
    /// How long a hold keeps its seats.
    pub hold_ttl: Duration,
    /// Booking limits.
    pub booking: BookingConfig,
    /// Payment provider.
    pub payment: PaymentConfig,
    /// Booking mails (worker).
    pub mail: MailConfig,
    /// Background jobs.
    pub worker: WorkerConfig,
    /// Server-side request timeout.
    pub request_timeout: Duration,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Drain time on SIGTERM.
    pub shutdown_timeout: Duration,
    /// Log filter directive.
    pub log_filter: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Rate limits, client addresses, browser and transport security.
    pub edge: EdgeConfig,
    /// Lifetime of a seat-availability entry in Redis.
    pub seatmap_ttl: Duration,
    /// Lifetime of in-process showtime summaries and search results.
    pub catalog_ttl: Duration,
    /// Whether the load-test baseline route is served.
    pub loadtest_routes: bool,
}

/// The HTTP edge's duties (rate limits, client addresses, security headers, CORS, connection timeouts).
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// `on`, `relaxed` or `off`.
    pub rate_limits: RateLimitMode,
    /// Per pod, per client address.
    pub per_ip: Quota,
    /// All pods, per user: holds, finalizations and cancellations.
    pub user_writes: Quota,
    /// All pods, per account and client address: logins.
    pub login: Quota,
    /// All pods, per client address: registrations.
    pub signup: Quota,
    /// All pods, per account: failed logins, from addresses the account has not logged in from.
    pub login_account: Quota,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Origins allowed by CORS (exact `scheme://host[:port]`); empty: no CORS.
    pub cors_origins: Vec<String>,
    /// Whether to send `Strict-Transport-Security`.
    pub hsts: bool,
    /// Time a connection has to send a complete request head.
    pub header_read_timeout: Duration,
}

/// A variable that is set but does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads variables; a trait object so tests can use a map instead of the process environment.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

struct Vars<'a>(Lookup<'a>);

impl Vars<'_> {
    fn raw(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|e: T::Err| ConfigError { name, reason: e.to_string() }),
        }
    }

    fn millis(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.positive(name, default).map(Duration::from_millis)
    }

    fn secs(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.positive(name, default).map(Duration::from_secs)
    }

    fn positive(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        let value = self.parse(name, default)?;
        if value == 0 {
            return Err(ConfigError { name, reason: "must be greater than zero".into() });
        }
        Ok(value)
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "on" | "yes") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "off" | "no") => Ok(false),
            Some(v) => Err(ConfigError { name, reason: format!("expected true or false, got {v:?}") }),
        }
    }

    fn u32(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        let value = self.positive(name, u64::from(default))?;
        u32::try_from(value).map_err(|_| ConfigError { name, reason: "is too large".into() })
    }

    fn previous_keys(&self, name: &'static str) -> Result<Vec<(String, Secret)>, ConfigError> {
        let Some(raw) = self.raw(name) else { return Ok(Vec::new()) };
        let mut keys = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            // The reason never quotes the entry: it holds a secret.
            let Some((kid, secret)) = entry.split_once(':') else {
                return Err(ConfigError { name, reason: "each entry must be kid:secret".into() });
            };
            let kid = kid.trim();
            if kid.is_empty() || secret.len() < 32 {
                return Err(ConfigError {
                    name,
                    reason: "each entry must be kid:secret with a non-empty kid and a secret of 32 bytes or more"
                        .into(),
                });
            }
            if keys.iter().any(|(k, _): &(String, Secret)| k == kid) {
                return Err(ConfigError { name, reason: format!("key id {kid:?} appears twice") });
            }
            keys.push((kid.to_owned(), Secret::new(secret)));
        }
        Ok(keys)
    }

    fn ticket_keys(&self, name: &'static str) -> Result<Vec<(String, TicketSeed)>, ConfigError> {
        let Some(raw) = self.raw(name) else { return Ok(Vec::new()) };
        let mut keys: Vec<(String, TicketSeed)> = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            // The reason never quotes the entry: it holds a private key.
            let bad = || ConfigError {
                name,
                reason: "each entry must be kid:seed, a kid of 1 to 16 ASCII letters, digits, - or _ and a seed of 64 \
                         hex digits"
                    .into(),
            };
            let (kid, seed) = entry.split_once(':').ok_or_else(bad)?;
            let kid_ok = (1..=16).contains(&kid.len())
                && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let mut bytes = [0u8; 32];
            let seed = seed.trim().as_bytes();
            if !kid_ok || seed.len() != 64 {
                return Err(bad());
            }
            for (byte, pair) in bytes.iter_mut().zip(seed.chunks(2)) {
                let hex = std::str::from_utf8(pair).map_err(|_| bad())?;
                *byte = u8::from_str_radix(hex, 16).map_err(|_| bad())?;
            }
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(ConfigError { name, reason: format!("key id {kid:?} appears twice") });
            }
            keys.push((kid.to_owned(), TicketSeed(bytes)));
        }
        Ok(keys)
    }

    fn cors_origins(&self, name: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(raw) = self.raw(name) else { return Ok(Vec::new()) };
        raw.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|origin| {
                let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.ends_with('/')
                    && origin.split_once("://").is_some_and(|(_, host)| !host.is_empty() && !host.contains('/'))
                    && axum::http::HeaderValue::from_str(origin).is_ok();
                if valid {
                    Ok(origin.to_owned())
                } else {
                    Err(ConfigError {
                        name,
                        reason: format!("{origin:?} is not an origin like https://tickets.example.com"),
                    })
                }
            })
            .collect()
    }

    fn edge(&self) -> Result<EdgeConfig, ConfigError> {
        let quota = |name: &'static str, q: Result<Quota, String>| q.map_err(|reason| ConfigError { name, reason });
        let per_ip = quota(
            "BOXOFFICE_RATE_LIMIT_PER_IP",
            Quota::per_second(
                self.u32("BOXOFFICE_RATE_LIMIT_PER_IP", 50)?,
                self.u32("BOXOFFICE_RATE_LIMIT_PER_IP_BURST", 100)?,
            ),
        )?;
        let writes_per_min = self.u32("BOXOFFICE_RATE_LIMIT_USER_WRITES", 30)?;
        let user_writes = Quota {
            burst: self.u32("BOXOFFICE_RATE_LIMIT_USER_WRITES_BURST", 10)?,
            interval: Duration::from_secs(60) / writes_per_min,
        };
        let login = quota(
            "BOXOFFICE_LOGIN_ATTEMPTS",
            Quota::per_window(
                self.u32("BOXOFFICE_LOGIN_ATTEMPTS", 10)?,
                self.secs("BOXOFFICE_LOGIN_WINDOW_SECS", 300)?,
            ),
        )?;
        let login_account = quota(
            "BOXOFFICE_LOGIN_ACCOUNT_FAILURES",
            Quota::per_window(
                self.u32("BOXOFFICE_LOGIN_ACCOUNT_FAILURES", 50)?,
                self.secs("BOXOFFICE_LOGIN_ACCOUNT_WINDOW_SECS", 3000)?,
            ),
        )?;
        let signup = quota(
            "BOXOFFICE_SIGNUPS_PER_HOUR",
            Quota::per_window(self.u32("BOXOFFICE_SIGNUPS_PER_HOUR", 20)?, Duration::from_secs(3600)),
        )?;
        Ok(EdgeConfig {
            rate_limits: self.parse("BOXOFFICE_RATE_LIMITS", RateLimitMode::On)?,
            per_ip,
            user_writes,
            login,
            signup,
            login_account,
            trusted_proxies: self.parse("BOXOFFICE_TRUSTED_PROXIES", TrustedProxies::default())?,
            cors_origins: self.cors_origins("BOXOFFICE_CORS_ORIGINS")?,
            hsts: self.flag("BOXOFFICE_HSTS", false)?,
            header_read_timeout: self.millis("BOXOFFICE_HEADER_READ_TIMEOUT_MS", 5000)?,
        })
    }

    fn database_url(&self, name: &'static str, default: &str) -> Result<tokio_postgres::Config, ConfigError> {
        let url = self.raw(name).unwrap_or_else(|| default.to_owned());
        url.parse().map_err(|e: tokio_postgres::Error| ConfigError { name, reason: e.to_string() })
    }
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// The first variable that is set but invalid.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads variables from a map: tests build configurations this way.
    ///
    /// # Errors
    /// The first variable that is set but invalid.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| vars.get(name).cloned())
    }

    fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let v = Vars(lookup);
        let write = v.database_url("BOXOFFICE_DATABASE_URL", "postgres://postgres@127.0.0.1:15432/boxoffice")?;
        let read = match v.raw("BOXOFFICE_READ_DATABASE_URL") {
            Some(_) => v.database_url("BOXOFFICE_READ_DATABASE_URL", "")?,
            None => write.clone(),
        };
        let pool_size = v.positive("BOXOFFICE_DB_POOL_SIZE", 16)? as usize;
        let read_pool_size = v.positive("BOXOFFICE_READ_POOL_SIZE", 16)? as usize;
        let retry = RetryPolicy {
            max_attempts: v.positive("BOXOFFICE_TX_MAX_ATTEMPTS", 8)? as u32,
            base_backoff: v.millis("BOXOFFICE_TX_BACKOFF_BASE_MS", 4)?,
            max_backoff: v.millis("BOXOFFICE_TX_BACKOFF_MAX_MS", 250)?,
        };
        let tls = db_tls(&v)?;
        let redis_url = v.raw("BOXOFFICE_REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:16379".to_owned());
        redis::Client::open(redis_url.as_str())
            .map_err(|e| ConfigError { name: "BOXOFFICE_REDIS_URL", reason: e.to_string() })?;
        let jwt_secret = v.raw("BOXOFFICE_JWT_SECRET").map(Secret::new);
        if let Some(secret) = &jwt_secret
            && secret.expose().len() < 32
        {
            return Err(ConfigError { name: "BOXOFFICE_JWT_SECRET", reason: "must be at least 32 bytes".into() });
        }
        let jwt_previous_keys = v.previous_keys("BOXOFFICE_JWT_PREVIOUS_KEYS")?;
        let current_kid = v.raw("BOXOFFICE_JWT_KEY_ID").unwrap_or_else(|| "k1".to_owned());
        if jwt_previous_keys.iter().any(|(kid, _)| *kid == current_kid) {
            return Err(ConfigError {
                name: "BOXOFFICE_JWT_PREVIOUS_KEYS",
                reason: format!("key id {current_kid:?} is the current BOXOFFICE_JWT_KEY_ID"),
            });
        }
        let bootstrap_admin = match (v.raw("BOXOFFICE_ADMIN_EMAIL"), v.raw("BOXOFFICE_ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email, Secret::new(password))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError {
                    name: "BOXOFFICE_ADMIN_PASSWORD",
                    reason: "required when BOXOFFICE_ADMIN_EMAIL is set".into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    name: "BOXOFFICE_ADMIN_EMAIL",
                    reason: "required when BOXOFFICE_ADMIN_PASSWORD is set".into(),
                });
            }
        };
        let payment = PaymentConfig {
            provider: v.parse("BOXOFFICE_PAYMENT_PROVIDER", PaymentProvider::Sandbox)?,
            timeout: v.millis("BOXOFFICE_PAYMENT_TIMEOUT_MS", 5000)?,
            window: v.secs("BOXOFFICE_PAYMENT_WINDOW_SECS", 120)?,
            sandbox_latency: Duration::from_millis(v.parse("BOXOFFICE_PAYMENT_SANDBOX_LATENCY_MS", 0u64)?),
            sandbox_fail_file: v
                .raw("BOXOFFICE_PAYMENT_SANDBOX_FAIL_FILE")
                .map(|path| &*Box::leak(PathBuf::from(path).into_boxed_path())),
            circuit_failures: u32::try_from(v.positive("BOXOFFICE_PAYMENT_CIRCUIT_FAILURES", 5)?)
                .map_err(|_| ConfigError { name: "BOXOFFICE_PAYMENT_CIRCUIT_FAILURES", reason: "too large".into() })?,
            circuit_cooldown: v.millis("BOXOFFICE_PAYMENT_CIRCUIT_COOLDOWN_MS", 30_000)?,
        };
        let worker = WorkerConfig {
            sweep_interval: v.secs("BOXOFFICE_SWEEP_INTERVAL_SECS", 5)?,
            sweep_batch: i64::try_from(v.positive("BOXOFFICE_SWEEP_BATCH", 2000)?)
                .map_err(|_| ConfigError { name: "BOXOFFICE_SWEEP_BATCH", reason: "too large".into() })?,
            sweep_max_batches: u32::try_from(v.positive("BOXOFFICE_SWEEP_MAX_BATCHES", 10)?)
                .map_err(|_| ConfigError { name: "BOXOFFICE_SWEEP_MAX_BATCHES", reason: "too large".into() })?,
            job_timeout: Duration::from_secs(v.positive("BOXOFFICE_JOB_TIMEOUT_SECS", 60)?),
            reconcile_interval: v.secs("BOXOFFICE_RECONCILE_INTERVAL_SECS", 10)?,
            reconcile_after: v.secs("BOXOFFICE_RECONCILE_AFTER_SECS", 30)?,
        };
        if worker.reconcile_after <= payment.timeout {
            return Err(ConfigError {
                name: "BOXOFFICE_RECONCILE_AFTER_SECS",
                reason: "must be longer than BOXOFFICE_PAYMENT_TIMEOUT_MS, or the reconciler races live payments"
                    .into(),
            });
        }
        let ticket_keys = v.ticket_keys("BOXOFFICE_TICKET_KEYS")?;
        let mail = MailConfig {
            ticket_keys: ticket_keys.clone(),
            smtp_url: v.raw("BOXOFFICE_SMTP_URL").map(|url| Secret::new(url.trim())),
            from: v
                .raw("BOXOFFICE_MAIL_FROM")
                .map_or_else(|| "boxoffice <tickets@boxoffice.localhost>".into(), |f| f.trim().to_owned()),
            timeout: v.millis("BOXOFFICE_SMTP_TIMEOUT_MS", 5000)?,
            interval: v.millis("BOXOFFICE_OUTBOX_INTERVAL_MS", 1000)?,
            batch: i64::try_from(v.positive("BOXOFFICE_OUTBOX_BATCH", 200)?)
                .map_err(|_| ConfigError { name: "BOXOFFICE_OUTBOX_BATCH", reason: "too large".into() })?,
            concurrency: usize::try_from(v.positive("BOXOFFICE_OUTBOX_CONCURRENCY", 16)?.min(1024))
                .map_err(|_| ConfigError { name: "BOXOFFICE_OUTBOX_CONCURRENCY", reason: "too large".into() })?,
        };
        let booking = BookingConfig {
            max_seats_per_booking: v.positive("BOXOFFICE_MAX_SEATS_PER_BOOKING", 10)? as usize,
            max_seats_per_user_showtime: v.positive("BOXOFFICE_MAX_SEATS_PER_USER_SHOWTIME", 10)? as usize,
            seat_gate: v.parse("BOXOFFICE_SEAT_GATE", true)?,
            seat_gate_memory: Duration::from_millis(v.parse("BOXOFFICE_SEAT_GATE_MEMORY_MS", 2000)?),
            hold_batch_max: v.positive("BOXOFFICE_HOLD_BATCH_MAX", 32)? as usize,
            hold_extensions_max: u32::try_from(v.parse::<u64>("BOXOFFICE_HOLD_EXTENSIONS_MAX", 1)?.min(100))
                .unwrap_or(100),
            hold_extension: Duration::from_secs(v.positive("BOXOFFICE_HOLD_EXTENSION_SECS", 300)?.min(3600)),
        };
        Ok(Self {
            listen_addr: v.parse("BOXOFFICE_LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            metrics_addr: match v.raw("BOXOFFICE_METRICS_ADDR") {
                Some(_) => Some(v.parse("BOXOFFICE_METRICS_ADDR", SocketAddr::from(([127, 0, 0, 1], 0)))?),
                None => None,
            },
            database: DatabaseConfig {
                write,
                read,
                dialect: v.parse("BOXOFFICE_DB_DIALECT", DialectSetting::Auto)?,
                pool_size,
                read_pool_size,
                timeout: v.millis("BOXOFFICE_DB_TIMEOUT_MS", 2000)?,
                retry,
                tls,
            },
            redis: RedisConfig {
                url: Secret::new(redis_url),
                key_prefix: v.raw("BOXOFFICE_REDIS_KEY_PREFIX").unwrap_or_else(|| "boxoffice:".to_owned()),
                timeout: v.millis("BOXOFFICE_REDIS_TIMEOUT_MS", 250)?,
            },
            auth: AuthConfig {
                jwt_secret,
                jwt_key_id: v.raw("BOXOFFICE_JWT_KEY_ID").unwrap_or_else(|| "k1".to_owned()),
                jwt_previous_keys,
                issuer: v.raw("BOXOFFICE_JWT_ISSUER").unwrap_or_else(|| "boxoffice".to_owned()),
                audience: v.raw("BOXOFFICE_JWT_AUDIENCE").unwrap_or_else(|| "boxoffice-api".to_owned()),
                token_ttl: v.secs("BOXOFFICE_TOKEN_TTL_SECS", 3600)?,
                bootstrap_admin,
                ticket_keys,
            },
            hold_ttl: v.secs("BOXOFFICE_HOLD_TTL_SECS", 600)?,
            booking,
            payment,
            mail,
            worker,
            request_timeout: v.millis("BOXOFFICE_REQUEST_TIMEOUT_MS", 10_000)?,
            body_limit_bytes: v.positive("BOXOFFICE_BODY_LIMIT_BYTES", 65_536)? as usize,
            shutdown_timeout: v.secs("BOXOFFICE_SHUTDOWN_TIMEOUT_SECS", 20)?,
            log_filter: v.raw("BOXOFFICE_LOG").unwrap_or_else(|| "info".to_owned()),
            log_format: v.parse("BOXOFFICE_LOG_FORMAT", LogFormat::Json)?,
            edge: v.edge()?,
            seatmap_ttl: v.millis("BOXOFFICE_SEATMAP_TTL_MS", 2000)?,
            catalog_ttl: v.millis("BOXOFFICE_CATALOG_TTL_MS", 5000)?,
            loadtest_routes: v.parse("BOXOFFICE_LOADTEST_ROUTES", false)?,
        })
    }
}

/// The database TLS settings: all three variables, or the CA alone, or nothing.
fn db_tls(v: &Vars<'_>) -> Result<Option<DbTls>, ConfigError> {
    let ca = v.raw("BOXOFFICE_DB_CA_CERT").map(PathBuf::from);
    let cert = v.raw("BOXOFFICE_DB_CLIENT_CERT").map(PathBuf::from);
    let key = v.raw("BOXOFFICE_DB_CLIENT_KEY").map(PathBuf::from);
    let client = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError {
                name: "BOXOFFICE_DB_CLIENT_KEY",
                reason: "required when BOXOFFICE_DB_CLIENT_CERT is set".into(),
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError {
                name: "BOXOFFICE_DB_CLIENT_CERT",
                reason: "required when BOXOFFICE_DB_CLIENT_KEY is set".into(),
            });
        }
    };
    match (ca, client) {
        (Some(ca_cert), client) => Ok(Some(DbTls { ca_cert, client })),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ConfigError {
            name: "BOXOFFICE_DB_CA_CERT",
            reason: "required with a client certificate (the server's certificate must be verified)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_map(&map)
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.listen_addr.port(), 8080);
        assert_eq!(c.hold_ttl, Duration::from_secs(600));
        assert_eq!(c.database.dialect, DialectSetting::Auto);
        assert_eq!(c.database.read.get_dbname(), Some("boxoffice"));
        assert_eq!(
            c.booking,
            BookingConfig {
                max_seats_per_booking: 10,
                max_seats_per_user_showtime: 10,
                seat_gate: true,
                seat_gate_memory: Duration::from_secs(2),
                hold_batch_max: 32,
                hold_extensions_max: 1,
                hold_extension: Duration::from_secs(300),
            }
        );
        assert_eq!(c.payment.provider, PaymentProvider::Sandbox);
        assert_eq!(c.payment.timeout, Duration::from_secs(5));
        assert_eq!(c.payment.window, Duration::from_secs(120));
        assert_eq!(c.payment.sandbox_latency, Duration::ZERO);
        assert_eq!(c.worker.reconcile_after, Duration::from_secs(30));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("BOXOFFICE_LISTEN_ADDR", "not an address"),
            ("BOXOFFICE_DB_POOL_SIZE", "-3"),
            ("BOXOFFICE_DB_POOL_SIZE", "0"),
            ("BOXOFFICE_HOLD_TTL_SECS", "ten"),
            ("BOXOFFICE_DB_DIALECT", "mysql"),
            ("BOXOFFICE_LOG_FORMAT", "xml"),
            ("BOXOFFICE_SEATMAP_TTL_MS", "0"),
            ("BOXOFFICE_LOADTEST_ROUTES", "yes"),
            ("BOXOFFICE_DATABASE_URL", "postgres://host:notaport/db"),
            ("BOXOFFICE_REDIS_URL", "http://wrong-scheme"),
            ("BOXOFFICE_JWT_SECRET", "short"),
            ("BOXOFFICE_TICKET_KEYS", "t1"),
            ("BOXOFFICE_TICKET_KEYS", "t1:abcd"),
            ("BOXOFFICE_TICKET_KEYS", "t 1:0000000000000000000000000000000000000000000000000000000000000000"),
            ("BOXOFFICE_TICKET_KEYS", "t1:zz00000000000000000000000000000000000000000000000000000000000000"),
            ("BOXOFFICE_TICKET_KEYS", "t1:é000000000000000000000000000000000000000000000000000000000000000"),
            ("BOXOFFICE_ADMIN_EMAIL", "admin@example.com"),
            ("BOXOFFICE_MAX_SEATS_PER_BOOKING", "0"),
            ("BOXOFFICE_MAX_SEATS_PER_USER_SHOWTIME", "many"),
            ("BOXOFFICE_PAYMENT_PROVIDER", "stripe"),
            ("BOXOFFICE_PAYMENT_TIMEOUT_MS", "0"),
            ("BOXOFFICE_PAYMENT_SANDBOX_LATENCY_MS", "-1"),
            ("BOXOFFICE_PAYMENT_CIRCUIT_FAILURES", "0"),
            ("BOXOFFICE_PAYMENT_CIRCUIT_COOLDOWN_MS", "soon"),
            ("BOXOFFICE_SWEEP_BATCH", "0"),
            ("BOXOFFICE_SEAT_GATE", "maybe"),
            ("BOXOFFICE_SEAT_GATE_MEMORY_MS", "-1"),
            ("BOXOFFICE_RECONCILE_AFTER_SECS", "5"),
            ("BOXOFFICE_RATE_LIMITS", "sometimes"),
            ("BOXOFFICE_RATE_LIMIT_PER_IP", "0"),
            ("BOXOFFICE_RATE_LIMIT_PER_IP_BURST", "many"),
            ("BOXOFFICE_RATE_LIMIT_USER_WRITES", "0"),
            ("BOXOFFICE_RATE_LIMIT_USER_WRITES_BURST", "-1"),
            ("BOXOFFICE_LOGIN_ATTEMPTS", "99999999999"),
            ("BOXOFFICE_LOGIN_WINDOW_SECS", "0"),
            ("BOXOFFICE_SIGNUPS_PER_HOUR", "x"),
            ("BOXOFFICE_LOGIN_ACCOUNT_FAILURES", "0"),
            ("BOXOFFICE_LOGIN_ACCOUNT_WINDOW_SECS", "soon"),
            ("BOXOFFICE_TRUSTED_PROXIES", "10.0.0.0/8,not-a-cidr"),
            ("BOXOFFICE_TRUSTED_PROXIES", "10.0.0.0/40"),
            ("BOXOFFICE_CORS_ORIGINS", "https://ok.example.com,tickets.example.com"),
            ("BOXOFFICE_CORS_ORIGINS", "https://example.com/"),
            ("BOXOFFICE_CORS_ORIGINS", "*"),
            ("BOXOFFICE_HSTS", "maybe"),
            ("BOXOFFICE_HEADER_READ_TIMEOUT_MS", "0"),
            ("BOXOFFICE_JWT_PREVIOUS_KEYS", "old:short"),
            ("BOXOFFICE_JWT_PREVIOUS_KEYS", "no-colon-0123456789abcdef0123456789abcdef"),
            ("BOXOFFICE_JWT_PREVIOUS_KEYS", "k1:0123456789abcdef0123456789abcdef"),
            ("BOXOFFICE_JWT_PREVIOUS_KEYS", "a:0123456789abcdef0123456789abcdef,a:0123456789abcdef0123456789abcdeX"),
            ("BOXOFFICE_METRICS_ADDR", "9090"),
            ("BOXOFFICE_DB_CLIENT_CERT", "/certs/client.crt"),
        ] {
            let err = config(&[(name, value)]).expect_err(name);
            let expected = match name {
                "BOXOFFICE_ADMIN_EMAIL" => "BOXOFFICE_ADMIN_PASSWORD",
                "BOXOFFICE_DB_CLIENT_CERT" => "BOXOFFICE_DB_CLIENT_KEY",
                other => other,
            };
            assert_eq!(err.name, expected, "{name}={value}");
            assert!(err.to_string().contains(expected));
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = config(&[
            ("BOXOFFICE_JWT_SECRET", "0123456789abcdef0123456789abcdef-topsecret"),
            ("BOXOFFICE_DATABASE_URL", "postgres://app:hunter2@db:5432/boxoffice"),
            ("BOXOFFICE_REDIS_URL", "redis://:redispass@cache:6379"),
            ("BOXOFFICE_TICKET_KEYS", "t2:ab00000000000000000000000000000000000000000000000000000000000000,t1:cd00000000000000000000000000000000000000000000000000000000000000"),
        ])
        .expect("valid");
        assert_eq!(c.auth.ticket_keys.len(), 2);
        assert_eq!((c.auth.ticket_keys[0].0.as_str(), c.auth.ticket_keys[0].1.0[0]), ("t2", 0xab));
        let shown = format!("{c:?}");
        for secret in ["topsecret", "hunter2", "redispass", "171", "ab00", "cd00"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
    }

    #[test]
    fn edge_defaults_are_production_values() {
        let g = config(&[]).expect("defaults are valid").edge;
        assert_eq!(g.rate_limits, RateLimitMode::On);
        assert_eq!((g.per_ip.burst, g.per_ip.interval), (100, Duration::from_millis(20)));
        assert_eq!((g.user_writes.burst, g.user_writes.interval), (10, Duration::from_secs(2)));
        assert_eq!((g.login.burst, g.login.window_secs()), (10, 300));
        assert_eq!((g.signup.burst, g.signup.window_secs()), (20, 3600));
        assert_eq!((g.login_account.burst, g.login_account.interval), (50, Duration::from_secs(60)));
        assert!(g.trusted_proxies.0.is_empty() && g.cors_origins.is_empty() && !g.hsts);
        assert_eq!(g.header_read_timeout, Duration::from_secs(5));
        let g = config(&[
            ("BOXOFFICE_RATE_LIMITS", "relaxed"),
            ("BOXOFFICE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
            ("BOXOFFICE_CORS_ORIGINS", "https://tickets.example.com, http://localhost:5173"),
            ("BOXOFFICE_HSTS", "true"),
        ])
        .expect("valid")
        .edge;
        assert_eq!(g.rate_limits, RateLimitMode::Relaxed);
        assert_eq!(g.trusted_proxies.0.len(), 2);
        assert_eq!(g.cors_origins, ["https://tickets.example.com", "http://localhost:5173"]);
        assert!(g.hsts);
    }

    #[test]
    fn previous_jwt_keys_parse_and_stay_secret() {
        let c = config(&[(
            "BOXOFFICE_JWT_PREVIOUS_KEYS",
            "old:0123456789abcdef0123456789abcdef-old-secret, older:0123456789abcdef0123456789abcdef:with-colon",
        )])
        .expect("valid");
        let kids: Vec<_> = c.auth.jwt_previous_keys.iter().map(|(kid, _)| kid.as_str()).collect();
        assert_eq!(kids, ["old", "older"]);
        assert_eq!(c.auth.jwt_previous_keys[1].1.expose(), "0123456789abcdef0123456789abcdef:with-colon");
        let shown = format!("{c:?}");
        assert!(!shown.contains("old-secret") && !shown.contains("with-colon"), "{shown}");
        let err = config(&[("BOXOFFICE_JWT_PREVIOUS_KEYS", "old:tooshort-secret-value")]).expect_err("short");
        assert!(!err.to_string().contains("tooshort"), "the error quotes the secret: {err}");
    }

    #[test]
    fn the_read_pool_defaults_to_the_primary() {
        let c = config(&[("BOXOFFICE_DATABASE_URL", "postgres://u@primary:5432/a")]).expect("valid");
        assert_eq!(c.database.read.get_hosts(), c.database.write.get_hosts());
        let c = config(&[
            ("BOXOFFICE_DATABASE_URL", "postgres://u@primary:5432/a"),
            ("BOXOFFICE_READ_DATABASE_URL", "postgres://u@replica:5432/a"),
        ])
        .expect("valid");
        assert_ne!(c.database.read.get_hosts(), c.database.write.get_hosts());
    }

    #[test]
    fn metrics_move_to_their_own_address_only_when_asked() {
        assert_eq!(config(&[]).expect("defaults").metrics_addr, None);
        let c = config(&[("BOXOFFICE_METRICS_ADDR", "0.0.0.0:9090")]).expect("valid");
        assert_eq!(c.metrics_addr, Some(SocketAddr::from(([0, 0, 0, 0], 9090))));
    }

    #[test]
    fn database_tls_needs_a_ca_and_pairs_certificate_with_key() {
        assert_eq!(config(&[]).expect("defaults").database.tls, None);
        let ca_only = config(&[("BOXOFFICE_DB_CA_CERT", "/certs/ca.crt")]).expect("valid");
        assert_eq!(ca_only.database.tls, Some(DbTls { ca_cert: "/certs/ca.crt".into(), client: None }));
        let full = config(&[
            ("BOXOFFICE_DB_CA_CERT", "/certs/ca.crt"),
            ("BOXOFFICE_DB_CLIENT_CERT", "/certs/client.app.crt"),
            ("BOXOFFICE_DB_CLIENT_KEY", "/certs/client.app.key"),
        ])
        .expect("valid");
        assert_eq!(
            full.database.tls.and_then(|t| t.client),
            Some(("/certs/client.app.crt".into(), "/certs/client.app.key".into()))
        );
        for (pairs, variable) in [
            (&[("BOXOFFICE_DB_CLIENT_KEY", "/k")][..], "BOXOFFICE_DB_CLIENT_CERT"),
            (&[("BOXOFFICE_DB_CLIENT_CERT", "/c"), ("BOXOFFICE_DB_CLIENT_KEY", "/k")][..], "BOXOFFICE_DB_CA_CERT"),
        ] {
            assert_eq!(config(pairs).expect_err(variable).name, variable);
        }
    }
}
