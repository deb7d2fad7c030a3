//! `GET /payments/options`: what a client needs to draw its payment form. Today that is the provider's name and,
//! for the sandbox only, its test tokens (a client shows them so that a person can try a payment; a real provider
//! has none, and then none are listed). The answer depends on configuration only, so the router takes it at build
//! time and needs no application state.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::config::PaymentProvider;

/// A test token of the sandbox provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestToken {
    /// What to send as `payment.token`.
    pub token: &'static str,
    /// What the sandbox does with it.
    pub outcome: &'static str,
}

/// `GET /payments/options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentOptions {
    /// The configured provider (`sandbox`).
    pub provider: &'static str,
    /// The provider's test tokens: listed for the sandbox only, empty otherwise.
    pub test_tokens: Vec<TestToken>,
}

impl PaymentOptions {
    /// The options of `provider`.
    pub fn of(provider: PaymentProvider) -> Self {
        match provider {
            PaymentProvider::Sandbox => Self {
                provider: "sandbox",
                // The table of `payment::sandbox`, in the order a person tries them.
                test_tokens: vec![
                    TestToken { token: "tok_visa", outcome: "paid" },
                    TestToken { token: "tok_chargeDeclined", outcome: "declined (the hold continues)" },
                    TestToken { token: "tok_timeout", outcome: "no answer: pending, settled later and mailed" },
                    TestToken { token: "tok_error", outcome: "provider error: pending, released later" },
                ],
            },
        }
    }
}

/// The payment-options route, answering for `provider` (its own state: it fits in any router).
pub fn router<S: Clone + Send + Sync + 'static>(provider: PaymentProvider) -> Router<S> {
    Router::new().route("/payments/options", get(options)).with_state(provider)
}

/// `GET /payments/options`: the configured provider and, for the sandbox, its test tokens.
#[utoipa::path(get, path = "/payments/options", tag = "bookings", responses(
    (status = 200, description = "The provider and its test tokens (sandbox only)", body = PaymentOptions),
))]
pub async fn options(State(provider): State<PaymentProvider>) -> Json<PaymentOptions> {
    Json(PaymentOptions::of(provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_lists_the_tokens_it_understands() {
        let options = PaymentOptions::of(PaymentProvider::Sandbox);
        assert_eq!(options.provider, "sandbox");
        let tokens: Vec<_> = options.test_tokens.iter().map(|t| t.token).collect();
        assert_eq!(tokens, ["tok_visa", "tok_chargeDeclined", "tok_timeout", "tok_error"]);
    }
}
