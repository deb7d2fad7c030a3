//! A screen's programme for one local day: a pure slot generator shared by the demo and the scale seed.
//!
//! Times here are minutes after local midnight; turning them into instants needs the zone's UTC offset on that
//! date, which the database supplies (see `store::zone_calendars`).

/// The first show of a day starts at this local time or up to 45 minutes later.
pub(crate) const FIRST_START_MIN: u16 = 11 * 60;
/// No show starts after this local time.
pub(crate) const LAST_START_MIN: u16 = 23 * 60;
/// Time between the end of a movie and the end of its showtime: the audience leaves, the room is cleaned.
pub(crate) const CLEANING_MIN: u16 = 15;
/// Start times are multiples of this many minutes, like a real programme.
const START_GRID_MIN: u16 = 15;
/// End times are rounded up to this many minutes.
const END_GRID_MIN: u16 = 5;

/// One show of a screen's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Show {
    /// Position of the show in its day, from 0: part of the showtime's natural key.
    pub slot: u8,
    /// Index of the movie in the list given to [`day_shows`].
    pub movie: usize,
    /// Local start, minutes after midnight.
    pub start_min: u16,
    /// Local end, minutes after midnight (past 1440 for a show ending after midnight): the movie plus cleaning,
    /// rounded up to 5 minutes. The screen is free again from this time.
    pub end_min: u16,
}

/// The shows of one screen on one day.
///
/// * `screen_seed` is a stable hash of the screen (theater + screen number): it decides which movies the screen
///   plays and its first start.
/// * `day` is an absolute day number (the Julian day), so that a date's programme does not depend on when the seed
///   runs: re-running it finds the same shows under the same ids.
/// * `wanted` shows are scheduled (clamped to 3..=5), fewer if the day is full: no show starts after 23:00. With
///   movies of at most 3h15 at least three always fit, and four fit whenever the movies average under three hours.
/// * `durations` are the movies' running times, minutes; the screen plays a movie for two consecutive shows, then
///   the next in a rotation that starts at a different place for each screen and moves on by one movie a day.
///
/// Shows never overlap: each starts at or after the previous one's end.
pub(crate) fn day_shows(screen_seed: u64, day: i32, wanted: u8, durations: &[u16]) -> Vec<Show> {
    if durations.is_empty() {
        return Vec::new();
    }
    let wanted = wanted.clamp(3, 5);
    let n = durations.len() as u64;
    let day_hash = mix(screen_seed ^ u64::from(day.unsigned_abs()));
    // The rotation position: where the screen starts, plus one movie per day.
    let base = (screen_seed % n + u64::from(day.unsigned_abs()) % n) % n;
    let mut start = FIRST_START_MIN + START_GRID_MIN * u16::try_from(day_hash % 4).unwrap_or(0);
    let mut shows = Vec::with_capacity(usize::from(wanted));
    for slot in 0..wanted {
        if start > LAST_START_MIN {
            break;
        }
        let movie = usize::try_from((base + u64::from(slot / 2)) % n).unwrap_or(0);
        let end = round_up(start + durations[movie] + CLEANING_MIN, END_GRID_MIN);
        shows.push(Show { slot, movie, start_min: start, end_min: end });
        start = round_up(end, START_GRID_MIN);
    }
    shows
}

/// The smallest multiple of `step` that is `>= value`.
fn round_up(value: u16, step: u16) -> u16 {
    value.div_ceil(step) * step
}

/// A 64-bit finaliser (SplitMix64): spreads the bits of its input so that nearby inputs give unrelated outputs.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash of a string that is the same on every machine, Rust version and run (unlike `DefaultHasher`, whose
/// algorithm is unspecified): FNV-1a, then [`mix`].
pub(crate) fn stable_hash(key: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::data::MOVIES;

    fn durations() -> Vec<u16> {
        MOVIES.iter().map(|m| m.duration_min).collect()
    }

    /// Many screens over many days, with the real movie list and with worst cases.
    fn cases() -> Vec<(Vec<u16>, u64, i32, u8)> {
        let mut cases = Vec::new();
        let lists = [durations(), vec![194], vec![195; 3], vec![81], vec![81, 194, 100, 180]];
        for list in lists {
            for screen in 0..40u64 {
                for day in 2_460_000..2_460_030 {
                    for wanted in 2..=6 {
                        cases.push((list.clone(), stable_hash(&format!("screen/{screen}")), day, wanted));
                    }
                }
            }
        }
        cases
    }

    #[test]
    fn shows_fit_the_day_window_and_never_overlap() {
        for (list, seed, day, wanted) in cases() {
            let shows = day_shows(seed, day, wanted, &list);
            assert!((3..=5).contains(&shows.len()), "{} shows for {list:?} {seed} {day} {wanted}", shows.len());
            assert!(shows.len() <= usize::from(wanted.max(3)));
            for (i, s) in shows.iter().enumerate() {
                assert_eq!(usize::from(s.slot), i);
                assert!((FIRST_START_MIN..=LAST_START_MIN).contains(&s.start_min), "{s:?}");
                assert_eq!(s.start_min % 15, 0);
                assert!(s.end_min >= s.start_min + list[s.movie] + CLEANING_MIN, "{s:?}");
                assert!(s.end_min < s.start_min + list[s.movie] + CLEANING_MIN + 5, "{s:?}");
            }
            for pair in shows.windows(2) {
                assert!(pair[1].start_min >= pair[0].end_min, "{pair:?} overlap");
            }
            // The last show ends before the first of the next day starts.
            assert!(shows.last().is_some_and(|s| s.end_min < 24 * 60 + FIRST_START_MIN));
        }
    }

    #[test]
    fn four_shows_fit_with_the_real_movies() {
        let list = durations();
        for screen in 0..200u64 {
            for day in 2_460_000..2_460_014 {
                assert_eq!(day_shows(stable_hash(&screen.to_string()), day, 4, &list).len(), 4);
            }
        }
    }

    #[test]
    fn a_day_is_deterministic_and_movies_rotate() {
        let list = durations();
        let seed = stable_hash("theater/us-east/new-york-ny/1/screen/1");
        assert_eq!(day_shows(seed, 2_460_100, 5, &list), day_shows(seed, 2_460_100, 5, &list));
        let monday: Vec<usize> = day_shows(seed, 2_460_100, 4, &list).iter().map(|s| s.movie).collect();
        let tuesday: Vec<usize> = day_shows(seed, 2_460_101, 4, &list).iter().map(|s| s.movie).collect();
        assert_ne!(monday, tuesday);
        // Two movies a day on four shows, each shown twice in a row.
        assert_eq!(monday[0], monday[1]);
        assert_ne!(monday[1], monday[2]);
        // Different screens start the rotation at different places.
        let firsts: std::collections::HashSet<usize> =
            (0..20).map(|s| day_shows(stable_hash(&format!("s{s}")), 2_460_100, 3, &list)[0].movie).collect();
        assert!(firsts.len() > 5);
    }

    #[test]
    fn no_movies_no_shows() {
        assert!(day_shows(1, 2_460_000, 4, &[]).is_empty());
    }

    #[test]
    fn stable_hash_is_fixed_forever() {
        // Ids and layouts derive from it: a change here would re-seed every database differently.
        assert_eq!(stable_hash(""), mix(0xCBF2_9CE4_8422_2325));
        assert_eq!(stable_hash("theater"), stable_hash("theater"));
        assert_ne!(stable_hash("a"), stable_hash("b"));
        assert_eq!(round_up(61, 15), 75);
        assert_eq!(round_up(60, 15), 60);
    }
}
