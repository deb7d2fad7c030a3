//! Seat-map assembly and serialization, for screens of 200 and 600 seats.
//!
//! * `hot_path`: what a warm `GET /showtimes/{id}/seats` does after its Redis GET when the availability changed
//!   since the last request: decode the cached bitmap, compute the ETag, render the body from the showtime's
//!   pre-rendered template.
//! * `warm_hit`: the same request when the availability has not changed since the last one (the common case for
//!   a popular map): decode the bitmap, compare it with the last render's, and clone its cached ETag and body.
//! * `template_render` / `serde_build_and_serialize`: the body alone, from the template versus building a
//!   `SeatMap` value and serializing it with serde_json (the straightforward way; the template renders the same
//!   bytes).
//! * `template_build`: the once-per-showtime cost of the template (paid on a showtime-cache miss).
//!
//! Run: `cargo bench --bench seatmap`.

use std::hint::black_box;

use boxoffice::catalog::cache::LastRender;
use boxoffice::catalog::model::seatmap::{LayoutSeat, SeatLayout, SeatMap, SeatMapHead, SeatMapTemplate, TakenSeats};
use boxoffice::catalog::model::{Prices, SeatKind, ShowtimeId, ShowtimeStatus, TheaterId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use uuid::Uuid;

/// A layout like the seed's: `rows` rows of `per_row` seats with a centre aisle, back rows premium, wheelchair
/// spaces and companion seats at the ends of row B.
fn layout(rows: u8, per_row: i32) -> SeatLayout {
    let mut seats = Vec::new();
    for r in 0..rows {
        let row = ((b'A' + r) as char).to_string();
        for n in 1..=per_row {
            let x = if n > per_row / 2 { n } else { n - 1 };
            let kind = match (r, n) {
                (1, 1) => SeatKind::Accessible,
                (1, n) if n == per_row => SeatKind::Accessible,
                (1, 2) => SeatKind::Companion,
                (1, n) if n == per_row - 1 => SeatKind::Companion,
                (r, _) if r + 3 > rows => SeatKind::Premium,
                _ => SeatKind::Standard,
            };
            seats.push(LayoutSeat {
                label: format!("{row}{n}"),
                row: row.clone(),
                number: n,
                kind,
                x,
                y: i32::from(r),
            });
        }
    }
    SeatLayout::new(seats).expect("a valid layout")
}

fn head() -> SeatMapHead {
    SeatMapHead {
        showtime_id: ShowtimeId(Uuid::from_u128(0x6f96_19ff_8b86_d011_b42d_00cf_4fc9_64ff)),
        theater_id: TheaterId(Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0)),
        screen_number: 3,
        status: ShowtimeStatus::Scheduled,
        currency: "USD".into(),
        prices: Prices { standard: 1400, premium: 1900, accessible: 1400, companion: 1400 },
    }
}

/// One seat in five taken, spread like a real sale (deterministic).
fn taken(len: usize) -> TakenSeats {
    let mut t = TakenSeats::none(len);
    for i in (0..len).filter(|i| (i * 7919) % 5 == 0) {
        t.set(i);
    }
    t
}

fn seat_maps(c: &mut Criterion) {
    for (rows, per_row) in [(10u8, 20), (24, 25)] {
        let layout = layout(rows, per_row);
        let n = layout.len();
        let head = head();
        let template = SeatMapTemplate::build(&head, &layout);
        let taken = taken(n);
        let cached = taken.encode();
        let body_len = template.render(&taken).len() as u64;

        let mut group = c.benchmark_group(format!("seatmap_{n}"));
        group.throughput(Throughput::Bytes(body_len));
        group.bench_function(BenchmarkId::new("hot_path", n), |b| {
            b.iter(|| {
                let taken = TakenSeats::decode(black_box(&cached), n).expect("decodes");
                let etag = template.etag(&taken);
                (etag, template.render(&taken))
            })
        });
        let last = LastRender::default();
        let first = last.render(&template, &taken);
        assert_eq!(first.1, template.render(&taken), "the cached body is the rendered one");
        let again = last.render(&template, &TakenSeats::decode(&cached, n).expect("decodes"));
        assert_eq!(again.1.as_ptr(), first.1.as_ptr(), "a hit returns the cached body, not a new render");
        group.bench_function(BenchmarkId::new("warm_hit", n), |b| {
            b.iter(|| {
                let taken = TakenSeats::decode(black_box(&cached), n).expect("decodes");
                last.render(&template, &taken)
            })
        });
        group.bench_function(BenchmarkId::new("template_render", n), |b| b.iter(|| template.render(black_box(&taken))));
        group.bench_function(BenchmarkId::new("serde_build_and_serialize", n), |b| {
            b.iter(|| serde_json::to_vec(&SeatMap::build(&head, &layout, black_box(&taken))).expect("serializes"))
        });
        group.bench_function(BenchmarkId::new("template_build", n), |b| {
            b.iter(|| SeatMapTemplate::build(black_box(&head), &layout))
        });
        group.finish();
    }
}

// criterion_group! generates an undocumented public function: kept in a private module, it is not public API.
mod group {
    use super::*;
    criterion_group!(benches, seat_maps);
}
use group::benches;
criterion_main!(benches);
