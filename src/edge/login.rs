//! Login throttling that an attacker cannot turn against an account's owner (issue #17, section 2).
//!
//! Locking the account after failed logins let anyone keep its owner out with one wrong password per lock period.
//! Instead, every attempt of `POST /auth/token` passes two limits shared by every pod (Redis), before the password is
//! looked at:
//! - per account (as typed) **and** client address ([`Scope::Login`], `BOXOFFICE_LOGIN_ATTEMPTS` per
//!   `BOXOFFICE_LOGIN_WINDOW_SECS`): a guesser from one address is slowed down; the owner, from theirs, is not;
//! - per account, from every address ([`Scope::LoginAccount`], `BOXOFFICE_LOGIN_ACCOUNT_FAILURES` per
//!   `BOXOFFICE_LOGIN_ACCOUNT_WINDOW_SECS`): a higher ceiling refilled more slowly, counting **failed** logins only,
//!   against guessing spread over many addresses. Addresses the account has logged in from (within
//!   [`KNOWN_ADDRESS_TTL`]) are exempt: however many addresses an attacker has, the owner at home still gets in.
//!
//! A throttled attempt is a 429 `login-throttled` with `Retry-After` and the `RateLimit` fields. Both limits are
//! keyed by the email as typed, so an address without an account is throttled exactly like one with an account: no
//! answer, and no extra work (the known-address look happens only when the ceiling is spent, for both), tells
//! whether an account exists. Redis down: the per account + address limit falls back to each pod's own limiter, and
//! the account ceiling is not looked at (it fails open; logged at debug, counted by the per-address fallback).

use std::net::IpAddr;
use std::time::Duration;

use super::model::{Decision, Scope};
use super::{Edge, RateLimitHeaders, login_subject, rejection_as};
use crate::error::{ApiError, Problem};

/// How long an address the account logged in from stays exempt from the account's ceiling.
pub const KNOWN_ADDRESS_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The account part of the limiter keys: the email as typed, trimmed, lower-cased, at most 254 characters (longer
/// is not an email anyway). Whether such an account exists plays no part.
pub fn login_account(email: &str) -> String {
    email.trim().to_lowercase().chars().take(254).collect()
}

fn known_key(subject: &str) -> String {
    format!("login-known:{subject}")
}

impl Edge {
    /// Admits a login attempt, before its password is looked at: counts it against the per account + address limit,
    /// then looks (counting nothing) whether the account's ceiling of failures is spent, and if so whether the
    /// address is one the account logged in from. Returns the `RateLimit` fields of the per-address limit.
    ///
    /// # Errors
    /// A 429 `login-throttled` problem, with `Retry-After` and the `RateLimit` fields, when either limit refuses.
    pub async fn admit_login(&self, email: &str, client: IpAddr) -> Result<RateLimitHeaders, ApiError> {
        let subject = login_subject(email, client);
        let per_address = match self.shared.check(Scope::Login, &subject).await {
            Some(decision) if !decision.allowed => return Err(throttled(&decision)),
            decision => decision,
        };
        if let Some(ceiling) = self.shared.peek(Scope::LoginAccount, &login_account(email)).await
            && !ceiling.allowed
            && !self.shared.recalls(&known_key(&subject)).await
        {
            return Err(throttled(&ceiling));
        }
        Ok(RateLimitHeaders(per_address))
    }

    /// Counts a refused login (a wrong password, or an account that does not exist) against the account's ceiling.
    pub async fn login_failed(&self, email: &str) {
        let _ = self.shared.check(Scope::LoginAccount, &login_account(email)).await;
    }

    /// Remembers the address of a successful login: exempt from the account's ceiling for [`KNOWN_ADDRESS_TTL`].
    pub async fn login_succeeded(&self, email: &str, client: IpAddr) {
        if self.config.rate_limits != super::model::RateLimitMode::Off {
            self.shared.remember(&known_key(&login_subject(email, client)), KNOWN_ADDRESS_TTL).await;
        }
    }
}

fn throttled(decision: &Decision) -> ApiError {
    let detail = match decision.scope {
        Scope::LoginAccount => "too many failed logins for this account from addresses it has not logged in from",
        _ => "too many login attempts for this account from this address",
    };
    rejection_as(decision, Problem::LoginThrottled, format!("{detail}; retry in {} s", decision.retry_after_secs()))
}
