//! The best-available picker (`booking::pick::pick`): 2, 4 and 8 seats in a 500-seat hall 90% full, the issue's
//! goal being <= 50 µs each. The hall: 20 rows of 25 seats with an aisle after the 5th and the 20th seat (three
//! blocks a row), premium back rows, a wheelchair row; 90% of the seats taken at random with a fixed seed, then a
//! few free runs of 10 opened so that every size has somewhere to go (a hall where nothing fits measures the
//! refusal, which is also reported: `nofit/*`).
//!
//! Run: `cargo bench --bench pick`.
#![expect(missing_docs, reason = "criterion_group! generates an undocumented function")]

use std::hint::black_box;

use boxoffice::booking::model::SeatKind;
use boxoffice::booking::pick::{BestRequest, SweetSpot, pick};
use boxoffice::catalog::model::seatmap::{LayoutSeat, SeatLayout, TakenSeats};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn hall() -> SeatLayout {
    let mut seats = Vec::with_capacity(500);
    for y in 0..20 {
        let row = char::from(b'A' + y as u8).to_string();
        for number in 1..=25 {
            // Aisles after seats 5 and 20: grid columns skip one there.
            let x = number - 1 + i32::from(number > 5) + i32::from(number > 20);
            let kind = match (y, number) {
                (2, 1 | 25) => SeatKind::Accessible,
                (2, 2 | 24) => SeatKind::Companion,
                (16.., _) => SeatKind::Premium,
                _ => SeatKind::Standard,
            };
            seats.push(LayoutSeat { label: format!("{row}{number}"), row: row.clone(), number, kind, x, y });
        }
    }
    SeatLayout::new(seats).expect("a valid layout")
}

fn ninety_percent_full(layout: &SeatLayout, room: bool) -> TakenSeats {
    let mut rng = StdRng::seed_from_u64(500);
    let mut taken = TakenSeats::none(layout.len());
    let mut open = Vec::new();
    for i in 0..layout.len() {
        if rng.random_bool(0.9) {
            taken.set(i);
        } else {
            open.push(i);
        }
    }
    if room {
        // Three runs of ten free seats (rows D, K, P, seats 8-17), taken elsewhere to stay at 90%.
        let mut freed = 0;
        let mut fresh = TakenSeats::none(layout.len());
        let runs: Vec<usize> = [3usize, 10, 15].iter().flat_map(|row| (row * 25 + 7)..(row * 25 + 17)).collect();
        for i in 0..layout.len() {
            if runs.contains(&i) {
                freed += usize::from(taken.is_taken(i));
            } else if taken.is_taken(i) || (freed > 0 && open.contains(&i)) {
                if !taken.is_taken(i) {
                    freed -= 1;
                }
                fresh.set(i);
            }
        }
        return fresh;
    }
    taken
}

fn picking(c: &mut Criterion) {
    let layout = hall();
    let spot = SweetSpot::of(&layout);
    let taken = ninety_percent_full(&layout, true);
    let full = ninety_percent_full(&layout, false);
    eprintln!("taken: {} and {} of {} seats", taken.count(), full.count(), layout.len());
    let mut group = c.benchmark_group("pick");
    for count in [2, 4, 8] {
        let request = BestRequest { count, kind: None, accessible: false, allow_split: false };
        assert!(pick(&layout, &taken, &request, spot).is_ok(), "{count} seats fit");
        group.bench_with_input(BenchmarkId::new("fits", count), &request, |b, request| {
            b.iter(|| pick(black_box(&layout), black_box(&taken), request, spot));
        });
        group.bench_with_input(BenchmarkId::new("nofit_or_random", count), &request, |b, request| {
            b.iter(|| pick(black_box(&layout), black_box(&full), request, spot));
        });
    }
    let split = BestRequest { count: 8, kind: None, accessible: false, allow_split: true };
    group.bench_function("split/8", |b| b.iter(|| pick(black_box(&layout), black_box(&full), &split, spot)));
    group.finish();
}

criterion_group!(benches, picking);
criterion_main!(benches);
