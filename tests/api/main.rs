//! The integration suite: one binary, a real PostgreSQL and a real Redis (started by `make test`), a fresh
//! database per test cloned from a migrated template, the application built exactly as production builds it.

mod architecture;
mod authz;
mod best_seats;
mod booking;
mod booking_batches;
mod booking_concurrency;
mod booking_idempotency;
mod booking_payments;
mod catalog_admin;
mod catalog_search;
mod catalog_seats;
mod catalog_support;
mod errors;
mod health;
mod helpers;
mod identity;
mod invariants;
mod journey;
mod limits;
mod login_throttle;
mod logscan;
mod mail;
mod migrations;
mod operations;
mod plans;
mod portability;
mod proxy;
mod retry;
mod security;
mod showtime_cancel;
mod tickets;
mod tls;
mod worker_pace;
