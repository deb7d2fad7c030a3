//! Best available: which free seats to propose for "the best `count` seats" of a showtime. Pure (no I/O): the
//! service holds the proposal through the normal hold transaction, which is the truth (see
//! `BookingService::hold_best`).
//!
//! The rules, in the order they filter:
//! * **Contiguous in one row**: the seats are side by side in one *block*: seats of one row on one grid row whose
//!   columns follow each other (`x`, `x + 1`, ...). A gap in the columns is an aisle (or a gap in the hall), so a
//!   row crossed by an aisle is two blocks; the ends of a row are walls.
//! * **Kinds**: without `accessible`, standard and premium seats only (or only `kind`, when given); wheelchair
//!   spaces and their companion seats are never proposed to someone who did not ask for them. With `accessible`,
//!   wheelchair spaces and companion seats only: at least one space and, for two or more people, at least one
//!   companion seat.
//! * **No orphan seat**: the selection never leaves exactly one free seat between itself and a taken seat, an aisle
//!   or a wall (such a seat is hard to sell: nobody comes alone to sit between strangers). Free seats of any kind
//!   count: a companion seat left single next to a standard selection is just as stranded.
//! * **Score**: the distance of the selection's centre from the hall's sweet spot ([`SweetSpot::of`]: centred,
//!   about two thirds of the way back from the screen), in grid units; the smallest wins, ties go to the seat
//!   earlier in map order (so a pick is deterministic).
//! * **Split** (only when the request allows it): when no block fits everyone, the largest group that fits is
//!   placed first, then the rest the same way on the map with those seats taken; each group obeys the rules above.
//!
//! Cost: one pass over the layout per group placed, no allocation per candidate (`benches/pick.rs`: 2, 4 and 8 seats
//! in a 500-seat hall 90% full).
//!
//! The proposal carries its [`Guard`]s: the free seats next to it and the seats beyond them. Between the pick and
//! the commit another hold may take a seat beyond, which would strand the one next to the selection; the hold
//! transaction reads the guards' claims and refuses (see [`orphans`]), so that under SERIALIZABLE two concurrent
//! best-available holds cannot strand a seat between them. The same functions give manual selections their warning
//! ([`orphans_left`]).

use super::model::SeatKind;
use crate::catalog::model::seatmap::{LayoutSeat, SeatLayout, TakenSeats};

/// What "best available" is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BestRequest {
    /// How many seats (at least 1).
    pub count: usize,
    /// Only seats of this kind (standard or premium); `None`: either.
    pub kind: Option<SeatKind>,
    /// Wheelchair spaces with companion seats.
    pub accessible: bool,
    /// Whether the seats may be split over several rows or blocks when no block fits everyone.
    pub allow_split: bool,
}

/// The point of the hall the best seats are nearest to, in grid units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweetSpot {
    /// Column (fractional: between two seats when the hall has an even width).
    pub x: f32,
    /// Grid row, 0 nearest the screen.
    pub y: f32,
}

impl SweetSpot {
    /// The default for a layout: centred between the outermost seats, two thirds of the way from the first row to
    /// the last. A layout that knows better passes its own spot to [`pick`].
    pub fn of(layout: &SeatLayout) -> Self {
        let seats = layout.seats();
        let (mut min_x, mut max_x) = (i32::MAX, i32::MIN);
        for seat in seats {
            min_x = min_x.min(seat.x);
            max_x = max_x.max(seat.x);
        }
        // Seats are in map order: the first has the smallest y, the last the largest.
        let (first, last) = (seats.first().map_or(0, |s| s.y), seats.last().map_or(0, |s| s.y));
        Self { x: (min_x + max_x) as f32 / 2.0, y: first as f32 + (last - first) as f32 * 2.0 / 3.0 }
    }
}

/// Why nothing was proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoFit {
    /// Fewer eligible free seats than asked for, in the whole hall.
    NotEnoughSeats,
    /// Enough seats, but no block has that many side by side without stranding a seat (and splitting was not
    /// allowed, or did not help).
    NoBlockFits,
    /// `accessible` was asked for and no wheelchair space with companion seats fits.
    NoAccessibleFit,
}

impl NoFit {
    /// The stable `reason` of the 409.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotEnoughSeats => "not-enough-seats",
            Self::NoBlockFits => "no-block-fits",
            Self::NoAccessibleFit => "no-accessible-fit",
        }
    }
}

/// A free seat next to a selection and the seat beyond it (`None`: an aisle or a wall). If the seat beyond is taken
/// when the selection is claimed, the seat next to it is stranded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// Position of the free seat next to the selection.
    pub next: usize,
    /// Position of the seat beyond it in the same block, if any.
    pub beyond: Option<usize>,
}

/// A proposal: seat positions (in map order) and its guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// The seats, ascending positions in the layout.
    pub seats: Vec<usize>,
    /// The free seats next to them, to check at claim time.
    pub guards: Vec<Guard>,
}

/// Whether seats `a` and `b` (positions, `b = a + 1`) are side by side in one block.
fn adjacent(seats: &[LayoutSeat], a: usize, b: usize) -> bool {
    let (l, r) = (&seats[a], &seats[b]);
    l.y == r.y && l.x + 1 == r.x && l.row == r.row
}

/// Whether a seat may be part of the selection.
fn eligible(seat: &LayoutSeat, request: &BestRequest) -> bool {
    if request.accessible {
        matches!(seat.kind, SeatKind::Accessible | SeatKind::Companion)
    } else {
        match request.kind {
            Some(kind) => seat.kind == kind,
            None => matches!(seat.kind, SeatKind::Standard | SeatKind::Premium),
        }
    }
}

/// The best placement of `count` seats: (score, first position).
fn best_window(
    layout: &SeatLayout,
    taken: &impl Fn(usize) -> bool,
    request: &BestRequest,
    count: usize,
    spot: SweetSpot,
) -> Option<usize> {
    let seats = layout.seats();
    let n = seats.len();
    let mut best: Option<(f32, usize)> = None;
    let mut start = 0;
    // One block at a time: [start, end).
    while start < n {
        let mut end = start + 1;
        while end < n && adjacent(seats, end - 1, end) {
            end += 1;
        }
        // Runs of free seats in the block: [run, run_end).
        let mut i = start;
        while i < end {
            if taken(i) {
                i += 1;
                continue;
            }
            let run = i;
            while i < end && !taken(i) {
                i += 1;
            }
            let run_end = i;
            if run_end - run < count {
                continue;
            }
            // Windows [a, a + count) inside the run leaving 0 or >= 2 free seats on each side.
            for a in run..=run_end - count {
                let (left, right) = (a - run, run_end - a - count);
                if left == 1 || right == 1 {
                    continue;
                }
                let window = &seats[a..a + count];
                if !window.iter().all(|s| eligible(s, request)) {
                    continue;
                }
                if request.accessible
                    && (!window.iter().any(|s| s.kind == SeatKind::Accessible)
                        || (count >= 2 && !window.iter().any(|s| s.kind == SeatKind::Companion)))
                {
                    continue;
                }
                let cx = (window[0].x + window[count - 1].x) as f32 / 2.0;
                let (dx, dy) = (cx - spot.x, window[0].y as f32 - spot.y);
                let score = dx * dx + dy * dy;
                if best.is_none_or(|(s, _)| score < s) {
                    best = Some((score, a));
                }
            }
        }
        start = end;
    }
    best.map(|(_, a)| a)
}

/// The best `request.count` seats of `layout` given `taken` (see the module docs).
///
/// # Errors
/// Why nothing fits.
pub fn pick(layout: &SeatLayout, taken: &TakenSeats, request: &BestRequest, spot: SweetSpot) -> Result<Pick, NoFit> {
    let count = request.count;
    let no_fit = if request.accessible { NoFit::NoAccessibleFit } else { NoFit::NoBlockFits };
    if count == 0 || count > layout.len() {
        return Err(NoFit::NotEnoughSeats);
    }
    let free_eligible =
        layout.seats().iter().enumerate().filter(|(i, s)| !taken.is_taken(*i) && eligible(s, request)).count();
    if free_eligible < count {
        return Err(if request.accessible { NoFit::NoAccessibleFit } else { NoFit::NotEnoughSeats });
    }
    let is_taken = |i: usize| taken.is_taken(i);
    if let Some(a) = best_window(layout, &is_taken, request, count, spot) {
        let selected: Vec<usize> = (a..a + count).collect();
        let guards = guards_of(layout, &selected);
        return Ok(Pick { seats: selected, guards });
    }
    if !request.allow_split || count == 1 {
        return Err(no_fit);
    }
    // Split: the largest group that fits first, then the rest on the map with it taken.
    let mut selected: Vec<usize> = Vec::with_capacity(count);
    let mut left = count;
    while left > 0 {
        let mut placed = false;
        for size in (1..=left.min(count - 1)).rev() {
            let mine = |i: usize| taken.is_taken(i) || selected.contains(&i);
            let group = BestRequest { count: size, ..*request };
            if let Some(a) = best_window(layout, &mine, &group, size, spot) {
                selected.extend(a..a + size);
                left -= size;
                placed = true;
                break;
            }
        }
        if !placed {
            return Err(no_fit);
        }
    }
    selected.sort_unstable();
    let guards = guards_of(layout, &selected);
    Ok(Pick { seats: selected, guards })
}

/// The seats next to a selection (positions ascending, distinct) in its blocks, with the seat beyond each: the
/// seats the selection could strand.
pub fn guards_of(layout: &SeatLayout, selected: &[usize]) -> Vec<Guard> {
    let seats = layout.seats();
    let is_selected = |i: usize| selected.binary_search(&i).is_ok();
    let mut guards = Vec::new();
    for &p in selected {
        // Left neighbour.
        if p > 0 && adjacent(seats, p - 1, p) && !is_selected(p - 1) {
            let next = p - 1;
            let beyond = (next > 0 && adjacent(seats, next - 1, next)).then(|| next - 1);
            guards.push(Guard { next, beyond });
        }
        // Right neighbour.
        if p + 1 < seats.len() && adjacent(seats, p, p + 1) && !is_selected(p + 1) {
            let next = p + 1;
            let beyond = (next + 1 < seats.len() && adjacent(seats, next, next + 1)).then_some(next + 1);
            guards.push(Guard { next, beyond });
        }
    }
    guards
}

/// The guarded seats that are stranded, given what is `taken` (the selection itself counts as taken): free, with
/// the seat beyond taken or missing (an aisle, a wall). Ascending, distinct.
pub fn orphans(guards: &[Guard], taken: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut out: Vec<usize> =
        guards.iter().filter(|g| !taken(g.next) && g.beyond.is_none_or(&taken)).map(|g| g.next).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The seats a (manual) selection leaves stranded on the map `taken` (before the selection): the labels of free
/// seats whose neighbours would both be taken, an aisle or a wall. For the hold answer's warning.
pub fn orphans_left(layout: &SeatLayout, taken: &TakenSeats, selected: &[usize]) -> Vec<String> {
    let mut selected = selected.to_vec();
    selected.sort_unstable();
    selected.dedup();
    let guards = guards_of(layout, &selected);
    orphans(&guards, |i| taken.is_taken(i) || selected.binary_search(&i).is_ok())
        .into_iter()
        .map(|i| layout.seats()[i].label.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// A layout from text rows, the first nearest the screen: `s` standard, `p` premium, `w` wheelchair space, `c`
    /// companion, `.` a gap (aisle). Rows are lettered A, B, ...; seats numbered from 1 left to right.
    fn hall(rows: &[&str]) -> SeatLayout {
        let mut seats = Vec::new();
        for (y, text) in rows.iter().enumerate() {
            let row = char::from(b'A' + y as u8).to_string();
            let mut number = 0;
            for (x, c) in text.chars().enumerate() {
                let kind = match c {
                    's' => SeatKind::Standard,
                    'p' => SeatKind::Premium,
                    'w' => SeatKind::Accessible,
                    'c' => SeatKind::Companion,
                    _ => continue,
                };
                number += 1;
                seats.push(LayoutSeat {
                    label: format!("{row}{number}"),
                    row: row.clone(),
                    number,
                    kind,
                    x: x as i32,
                    y: y as i32,
                });
            }
        }
        SeatLayout::new(seats).expect("valid layout")
    }

    fn taken_of(layout: &SeatLayout, labels: &[&str]) -> TakenSeats {
        let mut taken = TakenSeats::none(layout.len());
        for label in labels {
            taken.set(layout.position(label).expect("known label"));
        }
        taken
    }

    fn labels(layout: &SeatLayout, pick: &Pick) -> Vec<String> {
        pick.seats.iter().map(|i| layout.seats()[*i].label.clone()).collect()
    }

    fn best(count: usize) -> BestRequest {
        BestRequest { count, kind: None, accessible: false, allow_split: false }
    }

    #[test]
    fn the_sweet_spot_is_centred_two_thirds_back() {
        let layout = hall(&["sssss", "sssss", "sssss", "sssss"]);
        assert_eq!(SweetSpot::of(&layout), SweetSpot { x: 2.0, y: 2.0 });
        let layout = hall(&["ssssss"]);
        assert_eq!(SweetSpot::of(&layout), SweetSpot { x: 2.5, y: 0.0 });
    }

    #[test]
    fn an_empty_hall_gives_the_centre_of_the_row_two_thirds_back() {
        let layout = hall(&["sssssss", "sssssss", "sssssss", "sssssss"]);
        let got = pick(&layout, &TakenSeats::none(layout.len()), &best(3), SweetSpot::of(&layout)).expect("fits");
        assert_eq!(labels(&layout, &got), ["C3", "C4", "C5"]);
    }

    #[test]
    fn a_spot_passed_in_overrides_the_default() {
        let layout = hall(&["sssssss", "sssssss", "sssssss", "sssssss"]);
        let got = pick(&layout, &TakenSeats::none(layout.len()), &best(2), SweetSpot { x: 0.5, y: 0.0 }).expect("fits");
        assert_eq!(labels(&layout, &got), ["A1", "A2"]);
    }

    #[test]
    fn no_single_seat_is_left_next_to_a_taken_seat_an_aisle_or_a_wall() {
        // Row A: A1..A6 at x 0-5, an aisle at x 6, A7..A10 at x 7-10. A2 taken.
        let layout = hall(&["ssssss.ssss"]);
        let taken = taken_of(&layout, &["A2"]);
        // Nearest the spot is A4-A5, which would strand A3 next to the taken A2: skipped. A3-A4 and A5-A6 tie;
        // the earlier wins.
        let got = pick(&layout, &taken, &best(2), SweetSpot { x: 3.5, y: 0.0 }).expect("fits");
        assert_eq!(labels(&layout, &got), ["A3", "A4"]);
        // Nearest is A9-A10 (at the wall), fine while A7-A8 stay two.
        let got = pick(&layout, &taken, &best(2), SweetSpot { x: 9.5, y: 0.0 }).expect("fits");
        assert_eq!(labels(&layout, &got), ["A9", "A10"]);
        // A7 taken: A9-A10 would strand A8, A8-A9 would strand A10 at the wall: the other block.
        let taken = taken_of(&layout, &["A2", "A7"]);
        let got = pick(&layout, &taken, &best(2), SweetSpot { x: 9.5, y: 0.0 }).expect("fits");
        assert_eq!(labels(&layout, &got), ["A5", "A6"]);
        // Beside the aisle: A6 next to it with A5 taken: a single A6 is never left there.
        let taken = taken_of(&layout, &["A5"]);
        let got = pick(&layout, &taken, &best(2), SweetSpot { x: 5.0, y: 0.0 }).expect("fits");
        assert!(orphans_left(&layout, &taken, &got.seats).is_empty(), "{:?}", labels(&layout, &got));
    }

    #[test]
    fn a_run_one_seat_longer_than_the_group_cannot_take_it() {
        let layout = hall(&["sss"]);
        assert_eq!(pick(&layout, &TakenSeats::none(3), &best(2), SweetSpot::of(&layout)), Err(NoFit::NoBlockFits));
        // Even split, one seat then one seat strands the third: still no.
        let split = BestRequest { allow_split: true, ..best(2) };
        assert_eq!(pick(&layout, &TakenSeats::none(3), &split, SweetSpot::of(&layout)), Err(NoFit::NoBlockFits));
    }

    #[test]
    fn a_split_is_made_only_when_allowed() {
        let layout = hall(&["ss", "ss"]);
        let none = TakenSeats::none(4);
        assert_eq!(pick(&layout, &none, &best(4), SweetSpot::of(&layout)), Err(NoFit::NoBlockFits));
        let split = BestRequest { allow_split: true, ..best(4) };
        let got = pick(&layout, &none, &split, SweetSpot::of(&layout)).expect("fits when split");
        assert_eq!(labels(&layout, &got), ["A1", "A2", "B1", "B2"]);
    }

    #[test]
    fn wheelchair_spaces_only_when_asked_and_then_with_a_companion() {
        let layout = hall(&["cwwcsss", "sssssss"]);
        let spot = SweetSpot { x: 1.5, y: 0.0 };
        let got = pick(&layout, &TakenSeats::none(layout.len()), &best(2), spot).expect("fits");
        assert!(got.seats.iter().all(|i| layout.seats()[*i].kind == SeatKind::Standard));
        let accessible = BestRequest { accessible: true, ..best(2) };
        let got = pick(&layout, &TakenSeats::none(layout.len()), &accessible, spot).expect("fits");
        let kinds: Vec<SeatKind> = got.seats.iter().map(|i| layout.seats()[*i].kind).collect();
        assert!(kinds.contains(&SeatKind::Accessible) && kinds.contains(&SeatKind::Companion), "{kinds:?}");
        // Two wheelchair spaces without a companion are no answer for two people.
        let taken = taken_of(&layout, &["A1", "A4"]);
        assert_eq!(pick(&layout, &taken, &accessible, spot), Err(NoFit::NoAccessibleFit));
    }

    #[test]
    fn a_kind_restricts_the_seats() {
        let layout = hall(&["sssss", "sssss", "ppppp"]);
        let premium = BestRequest { kind: Some(SeatKind::Premium), ..best(2) };
        let got = pick(&layout, &TakenSeats::none(layout.len()), &premium, SweetSpot::of(&layout)).expect("fits");
        assert!(got.seats.iter().all(|i| layout.seats()[*i].kind == SeatKind::Premium));
    }

    #[test]
    fn not_enough_seats_is_said_so() {
        let layout = hall(&["ssss"]);
        let taken = taken_of(&layout, &["A1", "A2", "A3"]);
        assert_eq!(pick(&layout, &taken, &best(2), SweetSpot::of(&layout)), Err(NoFit::NotEnoughSeats));
        assert_eq!(pick(&layout, &taken, &best(0), SweetSpot::of(&layout)), Err(NoFit::NotEnoughSeats));
    }

    #[test]
    fn guards_name_the_free_neighbours_and_the_seats_beyond() {
        let layout = hall(&["ssssss.ss"]);
        let selected = [2, 3]; // A3, A4
        let guards = guards_of(&layout, &selected);
        assert_eq!(guards, [Guard { next: 1, beyond: Some(0) }, Guard { next: 4, beyond: Some(5) }]);
        // A6 at the aisle: its right neighbour is no neighbour.
        assert_eq!(guards_of(&layout, &[5]), [Guard { next: 4, beyond: Some(3) }]);
        // Taken beyond strands the seat next to the selection.
        assert_eq!(orphans(&guards, |i| i == 0 || selected.contains(&i)), [1]);
        assert!(orphans(&guards, |i| selected.contains(&i)).is_empty());
    }

    #[test]
    fn manual_selections_are_told_which_seats_they_strand() {
        let layout = hall(&["ssssss"]);
        let taken = taken_of(&layout, &["A1"]);
        // A3-A4 strands A2 (between A1 taken and A3) but not A5-A6.
        let stranded = orphans_left(&layout, &taken, &[2, 3]);
        assert_eq!(stranded, ["A2"]);
        // A1 A3 (A2 between two of the selection's own seats).
        assert_eq!(orphans_left(&layout, &TakenSeats::none(6), &[0, 2]), ["A2"]);
        assert!(orphans_left(&layout, &taken, &[1, 2]).is_empty());
    }

    /// A random hall: rows of 10 to 30 seats with aisles and some wheelchair places, `fill` of them taken.
    fn random_hall(rng: &mut StdRng, fill: f64) -> (SeatLayout, TakenSeats) {
        let rows: Vec<String> = (0..rng.random_range(1..12))
            .map(|_| {
                (0..rng.random_range(3..30))
                    .map(|_| match rng.random_range(0..40) {
                        0..=2 => '.',
                        3 => 'w',
                        4 => 'c',
                        5..=8 => 'p',
                        _ => 's',
                    })
                    .collect()
            })
            .collect();
        // A final row of one seat: the hall has at least one.
        let mut rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        rows.push("s");
        let layout = hall(&rows);
        let mut taken = TakenSeats::none(layout.len());
        for i in 0..layout.len() {
            if rng.random_bool(fill) {
                taken.set(i);
            }
        }
        (layout, taken)
    }

    #[test]
    fn every_pick_is_free_contiguous_eligible_within_the_hall_and_strands_nothing() {
        let mut rng = StdRng::seed_from_u64(20);
        let mut picked = 0;
        for round in 0..3000 {
            let fill = rng.random_range(0.0..0.95);
            let (layout, taken) = random_hall(&mut rng, fill);
            let request = BestRequest {
                count: rng.random_range(1..9),
                kind: [None, Some(SeatKind::Premium)][rng.random_range(0..2)],
                accessible: rng.random_bool(0.1),
                allow_split: rng.random_bool(0.3),
            };
            let Ok(got) = pick(&layout, &taken, &request, SweetSpot::of(&layout)) else { continue };
            picked += 1;
            let seats = layout.seats();
            assert_eq!(got.seats.len(), request.count, "round {round}");
            assert!(got.seats.windows(2).all(|w| w[0] < w[1]), "round {round}: distinct, sorted");
            for &i in &got.seats {
                assert!(i < layout.len(), "round {round}: within the hall");
                assert!(!taken.is_taken(i), "round {round}: free");
                assert!(eligible(&seats[i], &request), "round {round}: eligible");
            }
            if !request.allow_split {
                assert!(
                    got.seats.windows(2).all(|w| adjacent(seats, w[0], w[1])),
                    "round {round}: one block, side by side"
                );
            }
            assert!(
                orphans_left(&layout, &taken, &got.seats).is_empty(),
                "round {round}: strands {:?}",
                orphans_left(&layout, &taken, &got.seats)
            );
        }
        assert!(picked > 1000, "the property was exercised ({picked} picks)");
    }

    #[test]
    fn the_pick_is_the_nearest_fitting_block_to_the_spot() {
        // Brute force over every contiguous window: none that is allowed scores better than the pick.
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let (layout, taken) = random_hall(&mut rng, 0.5);
            let request = best(rng.random_range(1..5));
            let spot = SweetSpot::of(&layout);
            let Ok(got) = pick(&layout, &taken, &request, spot) else { continue };
            let score = |w: &[usize]| {
                let s = layout.seats();
                let cx = (s[w[0]].x + s[w[w.len() - 1]].x) as f32 / 2.0;
                (cx - spot.x).powi(2) + (s[w[0]].y as f32 - spot.y).powi(2)
            };
            let chosen = score(&got.seats);
            for a in 0..=layout.len() - request.count {
                let w: Vec<usize> = (a..a + request.count).collect();
                let ok = w.windows(2).all(|p| adjacent(layout.seats(), p[0], p[1]))
                    && w.iter().all(|i| !taken.is_taken(*i) && eligible(&layout.seats()[*i], &request))
                    && orphans_left(&layout, &taken, &w).is_empty();
                if ok {
                    assert!(score(&w) >= chosen, "{w:?} beats {:?}", got.seats);
                }
            }
        }
    }
}
