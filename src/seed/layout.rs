//! Seat layouts of screens: a pure generator shared by the demo and the scale seed.
//!
//! A layout is a rectangle of rows (`A` nearest the screen) cut by one or two aisles. Seats are numbered from 1 at
//! the left of each row, across aisles, so labels read like a ticket (`F12`). `grid_y` is the row index from the
//! screen and `grid_x` the column on the drawn map, aisles included, so the client can draw the map without knowing
//! where the aisles are. The back rows are `premium`; one front row has a wheelchair space at each end with a
//! `companion` seat beside it.

/// What a seat is sold as (`seats.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SeatKind {
    /// An ordinary seat.
    Standard,
    /// A seat in the back rows, sold at the premium price.
    Premium,
    /// A wheelchair space.
    Accessible,
    /// The seat beside a wheelchair space, for the person accompanying its user.
    Companion,
}

impl SeatKind {
    /// The value stored in `seats.kind`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Premium => "premium",
            Self::Accessible => "accessible",
            Self::Companion => "companion",
        }
    }
}

/// The fewest and most rows of a layout.
pub(crate) const ROWS: std::ops::RangeInclusive<u8> = 8..=16;
/// The fewest and most seats in a row.
pub(crate) const SEATS_PER_ROW: std::ops::RangeInclusive<u8> = 10..=24;
/// Two aisles need side blocks of at least three seats, hence a minimum row width.
const MIN_SEATS_FOR_TWO_AISLES: u8 = 14;

/// The shape of a screen's seating. Out-of-range values are clamped by [`generate`], so any spec gives a valid
/// layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LayoutSpec {
    /// Number of rows, within [`ROWS`].
    pub rows: u8,
    /// Seats in every row, within [`SEATS_PER_ROW`].
    pub seats_per_row: u8,
    /// 1 (a centre aisle) or 2 (side aisles, three blocks; only with 14 seats a row or more).
    pub aisles: u8,
    /// Number of premium rows at the back: 2 or 3.
    pub premium_rows: u8,
    /// Index (0 = row A) of the front row holding the wheelchair spaces: 0, 1 or 2.
    pub accessible_row: u8,
}

/// Size classes of screens, from which [`LayoutSpec::for_size`] picks a varied but deterministic shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScreenSize {
    /// A flagship screen: 14–16 rows of 20–22 seats, about 300 seats.
    Large,
    /// 10–12 rows of 14–18 seats, about 170 seats.
    Medium,
    /// 8–9 rows of 10–12 seats, about 90 seats.
    Small,
}

impl LayoutSpec {
    /// A layout of the given size class, its details (row count, width, aisles..) chosen by `variant`: the same
    /// variant always gives the same layout.
    pub(crate) fn for_size(size: ScreenSize, variant: u64) -> Self {
        // Each choice takes its own bits of the variant so that the dimensions vary independently.
        let pick = |shift: u32, n: u64| u8::try_from((variant >> shift) % n).unwrap_or(0);
        match size {
            ScreenSize::Large => Self {
                rows: 14 + pick(0, 3),
                seats_per_row: 20 + pick(8, 3),
                aisles: 2,
                premium_rows: 3,
                accessible_row: 1 + pick(16, 2),
            },
            ScreenSize::Medium => Self {
                rows: 10 + pick(0, 3),
                seats_per_row: 14 + pick(8, 5),
                aisles: 1 + pick(24, 2),
                premium_rows: 2 + pick(32, 2),
                accessible_row: 1 + pick(16, 2),
            },
            ScreenSize::Small => Self {
                rows: 8 + pick(0, 2),
                seats_per_row: 10 + pick(8, 3),
                aisles: 1,
                premium_rows: 2,
                accessible_row: pick(16, 2),
            },
        }
    }

    /// The number of seats this spec gives (after clamping).
    pub(crate) fn seat_count(self) -> usize {
        let s = self.clamped();
        usize::from(s.rows) * usize::from(s.seats_per_row)
    }

    fn clamped(self) -> Self {
        let seats_per_row = self.seats_per_row.clamp(*SEATS_PER_ROW.start(), *SEATS_PER_ROW.end());
        let aisles = if seats_per_row >= MIN_SEATS_FOR_TWO_AISLES { self.aisles.clamp(1, 2) } else { 1 };
        Self {
            rows: self.rows.clamp(*ROWS.start(), *ROWS.end()),
            seats_per_row,
            aisles,
            premium_rows: self.premium_rows.clamp(2, 3),
            accessible_row: self.accessible_row.min(2),
        }
    }

    /// Seats per block, left to right: the aisles sit between blocks.
    fn blocks(self) -> Vec<u8> {
        let n = self.seats_per_row;
        if self.aisles == 2 {
            let side = n / 4;
            vec![side, n - 2 * side, side]
        } else {
            vec![n / 2, n - n / 2]
        }
    }
}

/// One seat of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seat {
    /// Row letter + number, e.g. `F12`.
    pub label: String,
    /// Row letter, e.g. `F`.
    pub row_label: String,
    /// Number within the row, from 1 at the left.
    pub number: i32,
    /// What it is sold as.
    pub kind: SeatKind,
    /// Column on the drawn map, aisles leaving empty columns.
    pub grid_x: i32,
    /// Row on the drawn map, 0 nearest the screen.
    pub grid_y: i32,
}

/// The letter of the row at `index` from the screen (0 = `A`). Rows never exceed 16, so one letter suffices.
fn row_letter(index: u8) -> char {
    char::from(b'A' + index)
}

/// All seats of a layout, row by row from the screen, left to right.
pub(crate) fn generate(spec: LayoutSpec) -> Vec<Seat> {
    let spec = spec.clamped();
    let blocks = spec.blocks();
    let n = i32::from(spec.seats_per_row);
    let mut seats = Vec::with_capacity(spec.seat_count());
    for row in 0..spec.rows {
        let row_label = row_letter(row).to_string();
        let premium = row >= spec.rows - spec.premium_rows;
        let accessible_row = row == spec.accessible_row;
        let mut number = 0;
        for (gap, &block) in (0..).zip(&blocks) {
            for _ in 0..block {
                number += 1;
                let kind = if accessible_row && (number == 1 || number == n) {
                    SeatKind::Accessible
                } else if accessible_row && (number == 2 || number == n - 1) {
                    SeatKind::Companion
                } else if premium {
                    SeatKind::Premium
                } else {
                    SeatKind::Standard
                };
                seats.push(Seat {
                    label: format!("{row_label}{number}"),
                    row_label: row_label.clone(),
                    number,
                    kind,
                    // Seat `number` sits `gap` aisle columns further right than its index.
                    grid_x: number - 1 + gap,
                    grid_y: i32::from(row),
                });
            }
        }
    }
    seats
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    /// Every spec the generators can produce, plus clamped extremes.
    fn all_specs() -> Vec<LayoutSpec> {
        let mut specs = Vec::new();
        for rows in 6..=18 {
            for seats_per_row in 8..=26 {
                for aisles in 0..=3 {
                    for premium_rows in 1..=4 {
                        for accessible_row in 0..=3 {
                            specs.push(LayoutSpec { rows, seats_per_row, aisles, premium_rows, accessible_row });
                        }
                    }
                }
            }
        }
        specs
    }

    #[test]
    fn labels_and_grid_cells_are_unique() {
        for spec in all_specs() {
            let seats = generate(spec);
            let labels: HashSet<&str> = seats.iter().map(|s| s.label.as_str()).collect();
            let cells: HashSet<(i32, i32)> = seats.iter().map(|s| (s.grid_x, s.grid_y)).collect();
            assert_eq!(labels.len(), seats.len(), "{spec:?}");
            assert_eq!(cells.len(), seats.len(), "{spec:?}");
            assert_eq!(seats.len(), spec.seat_count(), "{spec:?}");
        }
    }

    #[test]
    fn seat_counts_stay_in_range() {
        for spec in all_specs() {
            let n = generate(spec).len();
            assert!((80..=384).contains(&n), "{spec:?} gives {n} seats");
        }
        let avg =
            |size| (0..512).map(|v| LayoutSpec::for_size(size, v * 0x9E37_79B9).seat_count()).sum::<usize>() / 512;
        assert!((270..=340).contains(&avg(ScreenSize::Large)), "large {}", avg(ScreenSize::Large));
        assert!((140..=210).contains(&avg(ScreenSize::Medium)), "medium {}", avg(ScreenSize::Medium));
        assert!((80..=110).contains(&avg(ScreenSize::Small)), "small {}", avg(ScreenSize::Small));
    }

    #[test]
    fn labels_are_row_letter_then_number_from_one_at_the_left() {
        let seats = generate(LayoutSpec { rows: 8, seats_per_row: 10, aisles: 1, premium_rows: 2, accessible_row: 0 });
        assert_eq!(seats[0].label, "A1");
        assert_eq!(seats[0].grid_x, 0);
        assert_eq!(seats[9].label, "A10");
        assert_eq!(seats.last().map(|s| s.label.as_str()), Some("H10"));
        for s in &seats {
            assert_eq!(s.label, format!("{}{}", s.row_label, s.number));
            assert_eq!(s.row_label, row_letter(u8::try_from(s.grid_y).expect("small")).to_string());
        }
        // Within a row, numbers and columns both grow left to right.
        for pair in seats.windows(2).filter(|w| w[0].grid_y == w[1].grid_y) {
            assert_eq!(pair[1].number, pair[0].number + 1);
            assert!(pair[1].grid_x > pair[0].grid_x);
        }
    }

    #[test]
    fn aisles_leave_empty_columns() {
        for (aisles, seats_per_row) in [(1, 10), (1, 15), (2, 14), (2, 24)] {
            let spec = LayoutSpec { rows: 8, seats_per_row, aisles, premium_rows: 2, accessible_row: 1 };
            let seats = generate(spec);
            let row_a: Vec<i32> = seats.iter().filter(|s| s.grid_y == 0).map(|s| s.grid_x).collect();
            let gaps = row_a.windows(2).filter(|w| w[1] - w[0] == 2).count();
            assert_eq!(gaps, usize::from(aisles), "{spec:?}");
            assert!(row_a.windows(2).all(|w| w[1] - w[0] <= 2));
            let width = i32::from(seats_per_row) + i32::from(aisles);
            assert_eq!(row_a.last().copied(), Some(width - 1));
        }
    }

    #[test]
    fn premium_rows_are_at_the_back() {
        for spec in all_specs() {
            let seats = generate(spec);
            let last_row = seats.iter().map(|s| s.grid_y).max().unwrap_or(0);
            let premium_rows: HashSet<i32> =
                seats.iter().filter(|s| s.kind == SeatKind::Premium).map(|s| s.grid_y).collect();
            assert!((2..=3).contains(&premium_rows.len()), "{spec:?}");
            for y in &premium_rows {
                assert!(last_row - y < 3, "{spec:?}: premium row {y} is not at the back");
                // A premium row is premium from end to end.
                assert!(seats.iter().filter(|s| s.grid_y == *y).all(|s| s.kind == SeatKind::Premium));
            }
        }
    }

    #[test]
    fn every_accessible_seat_has_an_adjacent_companion_in_a_front_row() {
        for spec in all_specs() {
            let seats = generate(spec);
            let by_cell: HashMap<(i32, i32), &Seat> = seats.iter().map(|s| ((s.grid_x, s.grid_y), s)).collect();
            let accessible: Vec<&Seat> = seats.iter().filter(|s| s.kind == SeatKind::Accessible).collect();
            assert_eq!(accessible.len(), 2, "{spec:?}");
            for a in accessible {
                assert!(a.grid_y <= 2, "{spec:?}: {} is not in a front row", a.label);
                let companion = [-1, 1]
                    .iter()
                    .any(|dx| by_cell.get(&(a.grid_x + dx, a.grid_y)).is_some_and(|s| s.kind == SeatKind::Companion));
                assert!(companion, "{spec:?}: {} has no companion beside it", a.label);
            }
            // At the two ends of the row.
            let numbers: HashSet<i32> =
                seats.iter().filter(|s| s.kind == SeatKind::Accessible).map(|s| s.number).collect();
            assert_eq!(numbers, HashSet::from([1, i32::from(spec.clamped().seats_per_row)]));
            assert_eq!(seats.iter().filter(|s| s.kind == SeatKind::Companion).count(), 2);
        }
    }

    #[test]
    fn for_size_is_deterministic_and_varied() {
        for size in [ScreenSize::Large, ScreenSize::Medium, ScreenSize::Small] {
            let specs: HashSet<_> = (0..64u64)
                .map(|v| format!("{:?}", LayoutSpec::for_size(size, v.wrapping_mul(0x9E37_79B9_7F4A_7C15))))
                .collect();
            assert!(specs.len() > 3, "{size:?} has too little variety");
            assert_eq!(LayoutSpec::for_size(size, 42), LayoutSpec::for_size(size, 42));
        }
    }

    #[test]
    fn kinds_have_their_stored_names() {
        let names: Vec<&str> = [SeatKind::Standard, SeatKind::Premium, SeatKind::Accessible, SeatKind::Companion]
            .map(SeatKind::as_str)
            .into();
        assert_eq!(names, ["standard", "premium", "accessible", "companion"]);
    }
}
