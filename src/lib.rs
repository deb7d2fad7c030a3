//! boxoffice: a cinema ticket booking service that never sells a seat twice.
//!
//! The crate map, one line per module:

pub mod app; //       Application::build: listener + router + state, used by main and the tests
pub mod auth; //      identity: users, argon2id passwords, JWT access tokens, the AuthUser extractor
pub mod booking; //   the write side: holds, payments, cancellations, expiry, idempotency (never a double booking)
pub mod cache; //     Redis pool and the seat-availability cache (the limits that use Redis live in edge)
pub mod catalog; //   the search side: theaters, movies, showtimes, seat maps
pub mod config; //    Config::from_env: every BOXOFFICE_* variable and its default
pub mod db; //        pools, the serializable retry helper, migrations, SQL constants, Region
pub mod edge; //      the HTTP edge: rate limits, client address, security headers, CORS, server timeouts, /docs
pub mod embedded; //  files embedded in the binary (web client, /docs) with ETags and gzip
pub mod error; //     ApiError -> RFC 9457 problem+json: the one place errors become HTTP; their OpenAPI schema
pub mod extract; //   Json/Query/Path extractors with problem+json rejections
pub mod health; //    /healthz (alive) and /readyz (database reachable)
pub mod ids; //       typed ids (ShowtimeId, BookingId, UserId, ...): UUID newtypes that bind as UUID in SQL
pub mod metrics; //   Prometheus recorder and metric descriptions
pub mod notify; //    the outbox dispatcher: booking confirmations and cancellations by mail
pub mod openapi; //   the OpenAPI 3.1 document, generated from annotations
pub mod payment; //   PaymentGateway trait, the sandbox provider, timeout + circuit breaker
pub mod seed; //      demo and load-test data
pub mod shutdown; //  SIGTERM / Ctrl-C -> cancellation token
pub mod telemetry; // logging, the request middleware (span, latency, error log, problem safety net)
pub mod tickets; //   signed QR tickets per seat, their calendar entry, and the door's exactly-once check-in
pub mod web; //       the web client at / (plain ES modules from web/app/, embedded in the binary)
pub mod worker; //    background jobs
