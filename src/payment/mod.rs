//! Payments: the [`PaymentGateway`] trait a provider adapter implements, the in-process [`sandbox`] provider (the
//! default, and the one fake the project allows: it stands for the third party we cannot run), and [`Payments`],
//! which calls the provider under a timeout and a [`breaker::CircuitBreaker`] and counts outcomes.
//!
//! Every charge carries a provider idempotency key, `{booking}:{attempt}` (DESIGN.md §6): a retried or duplicated
//! charge with the same key returns the first result and never charges twice (I3), and the reconciler can ask the
//! provider what became of a charge whose answer was lost ([`PaymentGateway::find_charge`]).

pub mod breaker;
pub mod routes;
pub mod sandbox;
pub mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{PaymentConfig, PaymentProvider};
use breaker::CircuitBreaker;
use sandbox::SandboxGateway;

/// A boxed provider call (the trait is used as `dyn PaymentGateway`).
pub type GatewayFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, GatewayError>> + Send + 'a>>;

/// A charge to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The provider idempotency key, `{booking}:{attempt}`.
    pub idempotency_key: String,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The client's payment token (`tok_visa`, ...): passed through, never stored.
    pub token: String,
}

/// What the provider says about a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeStatus {
    /// Money taken.
    Succeeded,
    /// Refused by the issuer (`reason` is the provider's code, e.g. `card_declined`).
    Declined {
        /// Provider's decline code.
        reason: String,
    },
    /// The provider failed while processing; nothing was taken.
    Failed,
}

/// A charge as the provider knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The provider's id (stored as `payments.provider_ref` and `bookings.payment_ref`).
    pub id: String,
    /// Outcome.
    pub status: ChargeStatus,
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The provider idempotency key (`{booking}:{attempt}:refund`): a retried refund is made once.
    pub idempotency_key: String,
    /// The charge to refund.
    pub charge_id: String,
    /// Minor units (the whole charge).
    pub amount: i64,
}

/// A refund the provider made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The provider's id.
    pub id: String,
    /// Minor units.
    pub amount: i64,
}

/// Why a provider call gave no answer about the money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No answer within the timeout: the outcome is unknown.
    #[error("the payment provider did not answer in time")]
    Timeout,
    /// Unreachable, or a server error: the outcome is unknown.
    #[error("the payment provider failed: {0}")]
    Unavailable(String),
    /// The provider refused the request itself (a 4xx: unknown charge, bad amount): a bug or bad data, not an outage.
    #[error("the payment provider refused the request: {0}")]
    Rejected(String),
    /// The circuit breaker is open: no call was made.
    #[error("payments are paused after repeated provider failures; retry in {} s", retry_after.as_secs().max(1))]
    CircuitOpen {
        /// When a call may be tried again.
        retry_after: Duration,
    },
}

impl GatewayError {
    /// Whether this counts against the provider's health (the breaker's failure).
    fn is_provider_failure(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unavailable(_))
    }
}

/// A payment provider, as a real adapter (Stripe, Adyen, ...) or the sandbox implements it.
pub trait PaymentGateway: Send + Sync {
    /// Short name, stored in `payments.provider`.
    fn name(&self) -> &'static str;

    /// Makes a charge, or returns the charge already made under the same idempotency key.
    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, Charge>;

    /// Refunds a charge, or returns the refund already made under the same idempotency key.
    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, Refund>;

    /// The charge made under an idempotency key, if the provider has one.
    fn find_charge(&self, idempotency_key: String) -> GatewayFuture<'_, Option<Charge>>;
}

/// The provider as the service uses it: every call under the timeout and the circuit breaker.
pub struct Payments {
    gateway: Arc<dyn PaymentGateway>,
    sandbox: Option<Arc<SandboxGateway>>,
    breaker: CircuitBreaker,
    timeout: Duration,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("provider", &self.gateway.name())
            .field("timeout", &self.timeout)
            .field("breaker", &self.breaker.state())
            .finish()
    }
}

impl Payments {
    /// The configured provider, wrapped.
    pub fn from_config(config: &PaymentConfig) -> Self {
        match config.provider {
            PaymentProvider::Sandbox => {
                let sandbox =
                    Arc::new(SandboxGateway::new(config.sandbox_latency).with_fail_file(config.sandbox_fail_file));
                let mut payments = Self::new(sandbox.clone(), config);
                payments.sandbox = Some(sandbox);
                payments
            }
        }
    }

    /// Any provider, wrapped with the configured timeout and breaker.
    pub fn new(gateway: Arc<dyn PaymentGateway>, config: &PaymentConfig) -> Self {
        Self {
            gateway,
            sandbox: None,
            breaker: CircuitBreaker::new(config.circuit_failures, config.circuit_cooldown),
            timeout: config.timeout,
        }
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.gateway.name()
    }

    /// The sandbox provider, when it is the one configured (tests inspect what it charged).
    pub fn sandbox(&self) -> Option<&SandboxGateway> {
        self.sandbox.as_deref()
    }

    /// The breaker (its state is also the gauge `boxoffice_payment_circuit_state`).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    async fn guarded<T>(&self, call: GatewayFuture<'_, T>) -> Result<T, GatewayError> {
        let permit = self.breaker.acquire().map_err(|retry_after| GatewayError::CircuitOpen { retry_after })?;
        let result = tokio::time::timeout(self.timeout, call).await.unwrap_or(Err(GatewayError::Timeout));
        match &result {
            Err(e) if e.is_provider_failure() => permit.failure(),
            _ => permit.success(),
        }
        result
    }

    /// Charges under the timeout and the breaker.
    ///
    /// # Errors
    /// See [`GatewayError`]; a decline is an `Ok` charge with [`ChargeStatus::Declined`].
    pub async fn charge(&self, request: ChargeRequest) -> Result<Charge, GatewayError> {
        let started = Instant::now();
        let result = self.guarded(self.gateway.charge(request)).await;
        let outcome = match &result {
            Ok(Charge { status: ChargeStatus::Succeeded, .. }) => "succeeded",
            Ok(Charge { status: ChargeStatus::Declined { .. }, .. }) => "declined",
            Ok(Charge { status: ChargeStatus::Failed, .. })
            | Err(GatewayError::Unavailable(_) | GatewayError::Rejected(_)) => "failed",
            Err(GatewayError::Timeout) => "timeout",
            // Not a provider call: the breaker's gauge tells.
            Err(GatewayError::CircuitOpen { .. }) => return result,
        };
        record(outcome, started);
        result
    }

    /// Refunds under the timeout and the breaker.
    ///
    /// # Errors
    /// See [`GatewayError`].
    pub async fn refund(&self, request: RefundRequest) -> Result<Refund, GatewayError> {
        let started = Instant::now();
        let result = self.guarded(self.gateway.refund(request)).await;
        match &result {
            Ok(_) => record("refunded", started),
            Err(GatewayError::Timeout) => record("timeout", started),
            Err(GatewayError::CircuitOpen { .. }) => {}
            Err(_) => record("failed", started),
        }
        result
    }

    /// Looks a charge up by its idempotency key, under the timeout and the breaker.
    ///
    /// # Errors
    /// See [`GatewayError`].
    pub async fn find_charge(&self, idempotency_key: String) -> Result<Option<Charge>, GatewayError> {
        self.guarded(self.gateway.find_charge(idempotency_key)).await
    }
}

/// Counts a provider call in `boxoffice_payments_total{outcome}` and its latency in
/// `boxoffice_payment_duration_seconds{outcome}`.
fn record(outcome: &'static str, started: Instant) {
    metrics::counter!("boxoffice_payments_total", "outcome" => outcome).increment(1);
    metrics::histogram!("boxoffice_payment_duration_seconds", "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

/// The provider idempotency key of a booking's charge attempt (DESIGN.md §6).
pub fn charge_key(booking: uuid::Uuid, attempt: i32) -> String {
    format!("{booking}:{attempt}")
}

/// The provider idempotency key of the refund of a booking's charge attempt.
pub fn refund_key(booking: uuid::Uuid, attempt: i32) -> String {
    format!("{booking}:{attempt}:refund")
}
