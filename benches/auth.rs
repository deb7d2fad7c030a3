//! Token verification sits on every authenticated request: how much does it cost?
//! `cargo bench --bench auth`.
#![expect(missing_docs, reason = "criterion_group! generates an undocumented function")]

use std::hint::black_box;
use std::time::Duration;

use boxoffice::auth::model::{Role, UserId};
use boxoffice::auth::token::{TokenError, TokenKeys};
use boxoffice::config::{AuthConfig, Secret};
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;

fn keys() -> TokenKeys {
    TokenKeys::from_config(&AuthConfig {
        jwt_secret: Some(Secret::new("bench-secret-bench-secret-bench-secret")),
        jwt_key_id: "k1".into(),
        jwt_previous_keys: Vec::new(),
        issuer: "boxoffice".into(),
        audience: "boxoffice-api".into(),
        token_ttl: Duration::from_secs(3600),
        bootstrap_admin: None,
        ticket_keys: Vec::new(),
    })
}

fn tokens(c: &mut Criterion) {
    let keys = keys();
    let token = keys.issue(UserId(Uuid::new_v4()), Role::Customer).expect("signs").token;
    c.bench_function("token/verify", |b| b.iter(|| keys.verify(black_box(&token)).expect("valid")));
    c.bench_function("token/issue", |b| {
        b.iter(|| keys.issue(black_box(UserId(Uuid::nil())), Role::Customer).expect("signs"))
    });
    // One character flipped inside the signature: still valid base64url, so verification runs to the signature
    // check and fails there (dropping a character failed earlier, at decoding, and measured that instead).
    let at = token.len() - 10;
    let flipped = if token.as_bytes()[at] == b'A' { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
    match keys.verify(&tampered) {
        Err(TokenError::Invalid(why)) => {
            assert!(why.contains("InvalidSignature"), "refused for {why}, not the signature")
        }
        other => panic!("a forged signature must be refused as invalid, got {other:?}"),
    }
    c.bench_function("token/reject_forged_signature", |b| b.iter(|| keys.verify(black_box(&tampered)).is_err()));
}

criterion_group!(benches, tokens);
criterion_main!(benches);
