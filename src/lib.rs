//! boxoffice: a cinema ticket booking service that never sells a seat twice.
//!
//! The crate map, one line per module:

pub mod app; //       Application::build: listener + router + state, used by main and the tests
pub mod auth; //      identity: users, argon2id passwords, JWT access tokens, the AuthUser extractor
pub mod booking; //   the write side: holds, payments, cancellations, expiry, idempotency (never a double booking)
pub mod cache; //     Redis pool: seat-availability cache, distributed rate limits
pub mod catalog; //   the search side: theaters, movies, showtimes, seat maps
pub mod config; //    Config::from_env: every BOXOFFICE_* variable and its default
pub mod db; //        pools, the serializable retry helper, migrations, SQL constants, Region
pub mod error; //     ApiError -> RFC 9457 problem+json: the one place errors become HTTP
pub mod extract; //   Json/Query/Path extractors with problem+json rejections
pub mod gateway; //   rate limits, client address, security headers, CORS, server timeouts, /docs
pub mod ids; //       typed ids (ShowtimeId, BookingId, UserId, ...): UUID newtypes that bind as UUID in SQL
pub mod metrics; //   Prometheus recorder and metric descriptions
pub mod notify; //    the outbox dispatcher: booking confirmations and cancellations by mail
pub mod openapi; //   the OpenAPI 3.1 document, generated from annotations
pub mod payment; //   PaymentGateway trait, the sandbox provider, timeout + circuit breaker
pub mod seed; //      demo and load-test data
pub mod shutdown; //  SIGTERM / Ctrl-C -> cancellation token
pub mod telemetry; // logging, the request middleware (span, latency, error log, problem safety net)
pub mod worker; //    background jobs
