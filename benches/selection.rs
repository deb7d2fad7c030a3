//! The pure work of a hold before its transaction: the JSON body, then the seat selection (label parsing with
//! trimming and upper-casing, the limit check, sorting, duplicate detection), and the canonical form and hash an
//! Idempotency-Key is checked against. Each hold of an on-sale stampede pays it, including the ones refused.
//!
//! * `body/*`: `serde_json` into `booking::routes::HoldBody` (2 and 10 seats).
//! * `parse/*`: `SeatSelection::parse` for 2 and 10 labels, as clients send them (unsorted, some lower-case).
//! * `refuse/*`: the refusals: too many seats (answered before any parsing), a malformed label, a duplicate.
//! * `canonical_hash`: the normalised request and its SHA-256 (`booking::model::request_hash`).
//!
//! Run: `cargo bench --bench selection`.
#![expect(missing_docs, reason = "criterion_group! generates an undocumented function")]

use std::hint::black_box;

use boxoffice::auth::model::UserId;
use boxoffice::booking::model::{SeatSelection, request_hash};
use boxoffice::booking::routes::HoldBody;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::json;
use uuid::Uuid;

/// `n` seats of rows F and G in a client's order: descending, every third one lower-case.
fn labels(n: usize) -> Vec<String> {
    (0..n)
        .rev()
        .map(|i| {
            let label = format!("{}{}", if i % 2 == 0 { 'F' } else { 'G' }, 10 + i);
            if i % 3 == 0 { label.to_ascii_lowercase() } else { label }
        })
        .collect()
}

fn body(n: usize) -> Vec<u8> {
    json!({ "showtimeId": Uuid::from_u128(0x6f96_19ff_8b86_d011_b42d_00cf_4fc9_64ff), "seatIds": labels(n) })
        .to_string()
        .into_bytes()
}

fn selection(c: &mut Criterion) {
    for n in [2, 10] {
        let raw = body(n);
        c.bench_with_input(BenchmarkId::new("body", n), &raw, |b, raw| {
            b.iter(|| serde_json::from_slice::<HoldBody>(black_box(raw)).expect("a valid body"));
        });
        let seats = labels(n);
        c.bench_with_input(BenchmarkId::new("parse", n), &seats, |b, seats| {
            b.iter(|| SeatSelection::parse(black_box(seats), 10).expect("a valid selection"));
        });
    }

    let too_many = labels(11);
    c.bench_function("refuse/too_many", |b| b.iter(|| SeatSelection::parse(black_box(&too_many), 10).is_err()));
    let mut malformed = labels(4);
    malformed.push("F012".into());
    c.bench_function("refuse/malformed", |b| b.iter(|| SeatSelection::parse(black_box(&malformed), 10).is_err()));
    let mut duplicate = labels(4);
    duplicate.push(duplicate[0].to_ascii_uppercase());
    c.bench_function("refuse/duplicate", |b| b.iter(|| SeatSelection::parse(black_box(&duplicate), 10).is_err()));

    let seats = SeatSelection::parse(&labels(2), 10).expect("a valid selection");
    let showtime = Uuid::from_u128(1);
    let user = UserId(Uuid::from_u128(2));
    c.bench_function("canonical_hash", |b| {
        b.iter(|| {
            let canonical = json!({ "showtimeId": showtime, "seatIds": black_box(&seats).as_strings() }).to_string();
            request_hash("POST", "/bookings", user, &canonical)
        });
    });
}

criterion_group!(benches, selection);
criterion_main!(benches);
