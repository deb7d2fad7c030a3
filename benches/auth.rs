//! Token verification sits on every authenticated request: how much does it cost?
//! `cargo bench --bench auth`.
#![expect(missing_docs, reason = "criterion_group! generates an undocumented function")]

use std::hint::black_box;
use std::time::Duration;

use boxoffice::auth::model::{Role, UserId};
use boxoffice::auth::token::TokenKeys;
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
    })
}

fn tokens(c: &mut Criterion) {
    let keys = keys();
    let token = keys.issue(UserId(Uuid::new_v4()), Role::Customer).expect("signs").token;
    c.bench_function("token/verify", |b| b.iter(|| keys.verify(black_box(&token)).expect("valid")));
    c.bench_function("token/issue", |b| {
        b.iter(|| keys.issue(black_box(UserId(Uuid::nil())), Role::Customer).expect("signs"))
    });
    let mut tampered = token.clone();
    tampered.pop();
    c.bench_function("token/reject_tampered", |b| b.iter(|| keys.verify(black_box(&tampered)).is_err()));
}

criterion_group!(benches, tokens);
criterion_main!(benches);
