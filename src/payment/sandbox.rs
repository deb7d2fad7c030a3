//! The sandbox provider: an in-process stand-in for a card processor, behind the same [`PaymentGateway`] trait a real
//! adapter implements. It is the default provider (development, demos, tests).
//!
//! Test tokens, as real providers document theirs:
//!
//! | token | behaviour |
//! |---|---|
//! | `tok_visa` | succeeds |
//! | `tok_chargeDeclined` | declined (`card_declined`) |
//! | `tok_timeout` | the charge is made but the answer never comes (the caller's timeout fires; a lookup finds it) |
//! | `tok_error` | the provider fails with a server error; nothing is charged (a lookup finds it failed) |
//! | anything else | declined (`invalid_token`) |
//!
//! Every call waits the configured latency first. A test that must act while a charge is in flight holds the
//! provider's door ([`SandboxGateway::hold_charges`]): charges then wait, counted, until it is released, so the test
//! orders its requests by an event instead of by a sleep. Charges and refunds are remembered by idempotency key, so a
//! duplicate returns the first result and never charges twice, and [`PaymentGateway::find_charge`] works. The memory
//! is per process: with the sandbox, run the worker inside the serving process (`serve --with-worker`) so that the
//! reconciler asks the same provider that charged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{Charge, ChargeRequest, ChargeStatus, GatewayError, GatewayFuture, PaymentGateway, Refund, RefundRequest};

/// The sandbox provider.
#[derive(Debug, Default)]
pub struct SandboxGateway {
    latency: Duration,
    // While this file exists the provider is down (`BOXOFFICE_PAYMENT_SANDBOX_FAIL_FILE`).
    fail_file: Option<&'static std::path::Path>,
    // The provider's books. Plain mutexes: held for a map operation, never across an await.
    charges: Mutex<HashMap<String, Charge>>,
    refunds: Mutex<HashMap<String, Refund>>,
    /// The door charges wait at while a test holds it (`None`: they pass).
    door: Mutex<Option<Arc<Door>>>,
}

/// Where held charges wait: how many arrived, and whether the door is open.
#[derive(Debug)]
struct Door {
    arrived: watch::Sender<usize>,
    open: watch::Sender<bool>,
}

/// A hold on the sandbox's charges, from [`SandboxGateway::hold_charges`]: every charge that arrives waits, before the
/// provider decides anything, until [`ChargeHold::release`] (or until the hold is dropped, so that a failing test
/// does not leave requests hanging).
#[derive(Debug)]
pub struct ChargeHold {
    door: Arc<Door>,
}

impl ChargeHold {
    /// Waits until `n` charges in all have arrived at the door since it was held.
    pub async fn arrived(&self, n: usize) {
        let mut arrived = self.door.arrived.subscribe();
        // The sender lives as long as `self`, so the wait ends only when the count is reached.
        let _ = arrived.wait_for(|count| *count >= n).await;
    }

    /// Lets the waiting charges, and every later one, through.
    pub fn release(&self) {
        self.door.open.send_replace(true);
    }
}

impl Drop for ChargeHold {
    fn drop(&mut self) {
        self.release();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SandboxGateway {
    /// A sandbox answering after `latency`.
    pub fn new(latency: Duration) -> Self {
        Self { latency, ..Self::default() }
    }

    /// Holds every charge that arrives from now on until the returned hold is released (for tests that must do
    /// something while a charge is in flight).
    pub fn hold_charges(&self) -> ChargeHold {
        let door = Arc::new(Door { arrived: watch::channel(0).0, open: watch::channel(false).0 });
        *lock(&self.door) = Some(door.clone());
        ChargeHold { door }
    }

    /// Waits at the door if a test holds it.
    async fn door(&self) {
        let door = lock(&self.door).clone();
        if let Some(door) = door {
            let mut open = door.open.subscribe();
            door.arrived.send_modify(|count| *count += 1);
            let _ = open.wait_for(|open| *open).await;
        }
    }

    /// Charges that took money (succeeded), whatever later happened to them: what a duplicate must never increase.
    pub fn succeeded_charges(&self) -> usize {
        lock(&self.charges).values().filter(|c| c.status == ChargeStatus::Succeeded).count()
    }

    /// Refunds made.
    pub fn refunds(&self) -> usize {
        lock(&self.refunds).len()
    }

    /// Charges that took money and were not refunded: what a sale kept (for tests: a canceled showtime keeps none).
    pub fn kept_charges(&self) -> usize {
        let refunds = lock(&self.refunds);
        lock(&self.charges)
            .values()
            .filter(|c| c.status == ChargeStatus::Succeeded)
            .filter(|c| !refunds.values().any(|r| r.id == format!("re_sandbox_{}", c.id)))
            .count()
    }

    /// The charge recorded under `key`, if any (for tests; the trait's lookup waits the latency).
    pub fn charge_by_key(&self, key: &str) -> Option<Charge> {
        lock(&self.charges).get(key).cloned()
    }

    /// A sandbox that is down while `fail_file` exists (the chaos drills' switch).
    pub fn with_fail_file(mut self, fail_file: Option<&'static std::path::Path>) -> Self {
        self.fail_file = fail_file;
        self
    }

    /// Waits the latency; then fails as an outage, recording nothing, while the provider is switched off.
    async fn pause(&self) -> Result<(), GatewayError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        match self.fail_file {
            Some(path) if path.exists() => {
                Err(GatewayError::Unavailable("sandbox: provider down (switched off)".into()))
            }
            _ => Ok(()),
        }
    }

    async fn do_charge(&self, request: ChargeRequest) -> Result<Charge, GatewayError> {
        self.door().await;
        self.pause().await?;
        let (charge, hang) = {
            let mut charges = lock(&self.charges);
            if let Some(existing) = charges.get(&request.idempotency_key) {
                // A duplicate: the first result, nothing charged again.
                return match existing.status {
                    ChargeStatus::Failed => Err(GatewayError::Unavailable("sandbox: provider error 500".into())),
                    _ => Ok(existing.clone()),
                };
            }
            let (status, hang) = match request.token.as_str() {
                "tok_visa" => (ChargeStatus::Succeeded, false),
                "tok_chargeDeclined" => (ChargeStatus::Declined { reason: "card_declined".into() }, false),
                "tok_timeout" => (ChargeStatus::Succeeded, true),
                "tok_error" => (ChargeStatus::Failed, false),
                _ => (ChargeStatus::Declined { reason: "invalid_token".into() }, false),
            };
            let charge = Charge {
                id: format!("ch_sandbox_{}", uuid::Uuid::new_v4().simple()),
                status,
                amount: request.amount,
                currency: request.currency,
            };
            charges.insert(request.idempotency_key, charge.clone());
            (charge, hang)
        };
        if hang {
            std::future::pending::<()>().await;
        }
        match charge.status {
            ChargeStatus::Failed => Err(GatewayError::Unavailable("sandbox: provider error 500".into())),
            _ => Ok(charge),
        }
    }

    async fn do_refund(&self, request: RefundRequest) -> Result<Refund, GatewayError> {
        self.pause().await?;
        let mut refunds = lock(&self.refunds);
        if let Some(existing) = refunds.get(&request.idempotency_key) {
            return Ok(existing.clone());
        }
        let charged =
            lock(&self.charges).values().find(|c| c.id == request.charge_id).map(|c| (c.status.clone(), c.amount));
        match charged {
            Some((ChargeStatus::Succeeded, amount)) if request.amount <= amount => {}
            Some((ChargeStatus::Succeeded, _)) => {
                return Err(GatewayError::Rejected("refund exceeds the charge".into()));
            }
            Some(_) => return Err(GatewayError::Rejected("the charge did not succeed".into())),
            None => return Err(GatewayError::Rejected(format!("no such charge: {}", request.charge_id))),
        }
        // One refund per charge: its id derives from the charge's.
        let refund = Refund { id: format!("re_sandbox_{}", request.charge_id), amount: request.amount };
        if refunds.values().any(|r| r.id == refund.id) {
            return Err(GatewayError::Rejected("the charge is already refunded".into()));
        }
        refunds.insert(request.idempotency_key, refund.clone());
        Ok(refund)
    }
}

impl PaymentGateway for SandboxGateway {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn charge(&self, request: ChargeRequest) -> GatewayFuture<'_, Charge> {
        Box::pin(self.do_charge(request))
    }

    fn refund(&self, request: RefundRequest) -> GatewayFuture<'_, Refund> {
        Box::pin(self.do_refund(request))
    }

    fn find_charge(&self, idempotency_key: String) -> GatewayFuture<'_, Option<Charge>> {
        Box::pin(async move {
            self.pause().await?;
            Ok(self.charge_by_key(&idempotency_key))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str, token: &str) -> ChargeRequest {
        ChargeRequest { idempotency_key: key.into(), amount: 2500, currency: "USD".into(), token: token.into() }
    }

    #[tokio::test]
    async fn test_tokens_succeed_decline_and_fail() {
        let sandbox = SandboxGateway::new(Duration::ZERO);
        let ok = sandbox.charge(request("b:1", "tok_visa")).await.expect("answered");
        assert_eq!(ok.status, ChargeStatus::Succeeded);
        assert_eq!(ok.amount, 2500);
        let declined = sandbox.charge(request("b:2", "tok_chargeDeclined")).await.expect("answered");
        assert_eq!(declined.status, ChargeStatus::Declined { reason: "card_declined".into() });
        let unknown = sandbox.charge(request("b:3", "tok_bogus")).await.expect("answered");
        assert_eq!(unknown.status, ChargeStatus::Declined { reason: "invalid_token".into() });
        let error = sandbox.charge(request("b:4", "tok_error")).await;
        assert!(matches!(error, Err(GatewayError::Unavailable(_))));
        assert_eq!(sandbox.find_charge("b:4".into()).await, Ok(Some(sandbox.charge_by_key("b:4").expect("recorded"))));
        assert_eq!(sandbox.succeeded_charges(), 1);
    }

    #[tokio::test]
    async fn a_duplicate_charge_returns_the_first_result_and_charges_once() {
        let sandbox = SandboxGateway::new(Duration::ZERO);
        let first = sandbox.charge(request("b:1", "tok_visa")).await.expect("charged");
        // Same key, even with another token: the first result.
        let again = sandbox.charge(request("b:1", "tok_chargeDeclined")).await.expect("answered");
        assert_eq!(first, again);
        assert_eq!(sandbox.succeeded_charges(), 1);
    }

    #[tokio::test]
    async fn a_timeout_token_never_answers_but_the_charge_can_be_found() {
        let sandbox = SandboxGateway::new(Duration::ZERO);
        let hung = tokio::time::timeout(Duration::from_millis(50), sandbox.charge(request("b:9", "tok_timeout"))).await;
        assert!(hung.is_err(), "the charge must not answer");
        let found = sandbox.find_charge("b:9".into()).await.expect("lookup").expect("charge made");
        assert_eq!(found.status, ChargeStatus::Succeeded);
        assert_eq!(sandbox.find_charge("b:10".into()).await, Ok(None));
    }

    #[tokio::test]
    async fn refunds_are_made_once_per_key_and_only_for_successful_charges() {
        let sandbox = SandboxGateway::new(Duration::ZERO);
        let charge = sandbox.charge(request("b:1", "tok_visa")).await.expect("charged");
        let refund = RefundRequest { idempotency_key: "b:1:refund".into(), charge_id: charge.id.clone(), amount: 2500 };
        let first = sandbox.refund(refund.clone()).await.expect("refunded");
        assert_eq!(sandbox.refund(refund).await, Ok(first));
        assert_eq!(sandbox.refunds(), 1);
        let other_key = RefundRequest { idempotency_key: "other".into(), charge_id: charge.id, amount: 2500 };
        assert!(matches!(sandbox.refund(other_key).await, Err(GatewayError::Rejected(_))), "no double refund");
        let unknown = RefundRequest { idempotency_key: "x".into(), charge_id: "ch_nope".into(), amount: 1 };
        assert!(matches!(sandbox.refund(unknown).await, Err(GatewayError::Rejected(_))));
    }
}
