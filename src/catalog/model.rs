//! Pure types and rules of the catalog: no I/O.
//!
//! * this file: typed ids, seat kinds, prices, the search key of names;
//! * [`geo`]: positions, radii, bounding boxes and the haversine distance;
//! * [`page`]: `limit` and the opaque keyset cursors of every list;
//! * [`params`]: the query parameters of each search route, parsed with their bounds;
//! * [`seatmap`]: seat layouts, the availability bitmap and the pre-rendered seat-map JSON;
//! * [`input`]: the admin bodies (theaters with screens and seat layouts, movies, showtimes), validated;
//! * [`views`]: what the routes answer.

pub mod geo;
pub mod input;
pub mod page;
pub mod params;
pub mod seatmap;
pub mod views;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The form under which names are stored for search and compared: Unicode-decomposed, combining marks (accents)
/// dropped, lower-cased, apostrophes dropped, other punctuation read as a space, runs of white space folded to one
/// space and trimmed.
///
/// `"  Montréal "`, `"MONTREAL"` and `"montreal"` all give `"montreal"`; `"St. Louis"` and `"st louis"` give
/// `"st louis"`, `"Ocean's Eleven"` `"oceans eleven"`. The database stores this form next to the display name
/// (`cities.search_name`, `movies.search_title`) so a plain index serves these lookups on PostgreSQL and CockroachDB
/// alike. Punctuation is ASCII's plus the typographic quotes and dashes; migration 0004 folds stored names the same
/// way, so a change here needs a migration too.
pub fn search_key(text: &str) -> String {
    let folded: String = text
        .nfd()
        .filter(|c| !is_combining_mark(*c) && !matches!(c, '\'' | '‘' | '’'))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_ascii_punctuation() || matches!(c, '“' | '”' | '–' | '—' | '·') { ' ' } else { c })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub use crate::ids::{CityId, MovieId, ShowtimeId, TheaterId};

/// What a seat is sold as (`seats.kind`). The order of the variants is the order of prices in responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeatKind {
    /// An ordinary seat.
    Standard,
    /// A better seat (the back rows in the demo layouts), sold at the premium price.
    Premium,
    /// A wheelchair space.
    Accessible,
    /// The seat beside a wheelchair space, for a companion.
    Companion,
}

impl SeatKind {
    /// Every kind, in the order of the `seats_kind_check` constraint.
    pub const ALL: [Self; 4] = [Self::Standard, Self::Premium, Self::Accessible, Self::Companion];

    /// The stored (and serialized) form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Premium => "premium",
            Self::Accessible => "accessible",
            Self::Companion => "companion",
        }
    }
}

impl FromStr for SeatKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown seat kind {s:?}: expected standard, premium, accessible or companion"))
    }
}

impl fmt::Display for SeatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The price of each seat kind of a showtime, in minor units of its currency. A hold copies them into the booking
/// (invariant I5: prices are locked at hold time); nothing a client sends sets a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Prices {
    /// Price of a `standard` seat.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub standard: i64,
    /// Price of a `premium` seat.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub premium: i64,
    /// Price of an `accessible` space.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub accessible: i64,
    /// Price of a `companion` seat.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub companion: i64,
}

impl Prices {
    /// The price of a seat of `kind`.
    pub fn of(&self, kind: SeatKind) -> i64 {
        match kind {
            SeatKind::Standard => self.standard,
            SeatKind::Premium => self.premium,
            SeatKind::Accessible => self.accessible,
            SeatKind::Companion => self.companion,
        }
    }
}

/// Whether a showtime still sells seats: `showtimes.status` (scheduled or canceled), and `started`, which is never
/// stored but shown once a scheduled showtime's start time has passed (holds are then refused `showtime-closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShowtimeStatus {
    /// On sale (until it starts).
    Scheduled,
    /// Canceled by an admin: no new holds; its seat map shows every seat unavailable.
    Canceled,
    /// Scheduled, and its start time has passed: no new holds; its seat map shows every seat unavailable.
    Started,
}

impl ShowtimeStatus {
    /// The stored (and serialized) form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Canceled => "canceled",
            Self::Started => "started",
        }
    }

    /// What a client is shown at `now`: a scheduled showtime whose start has passed is `started`.
    pub fn at(self, start_time: time::OffsetDateTime, now: time::OffsetDateTime) -> Self {
        if self == Self::Scheduled && start_time <= now { Self::Started } else { self }
    }

    /// Whether seats can still be held.
    pub fn is_on_sale(self) -> bool {
        self == Self::Scheduled
    }
}

impl FromStr for ShowtimeStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "scheduled" => Ok(Self::Scheduled),
            "canceled" => Ok(Self::Canceled),
            other => Err(format!("unknown showtime status {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_key_folds_case_accents_and_spaces() {
        for (input, expected) in [
            ("New York", "new york"),
            ("  NEW   york ", "new york"),
            ("Montréal", "montreal"),
            ("MONTRÉAL", "montreal"),
            ("São Paulo", "sao paulo"),
            ("Zürich", "zurich"),
            ("St. Louis", "st louis"),
            ("st louis", "st louis"),
            ("ST.LOUIS", "st louis"),
            ("Winston-Salem", "winston salem"),
            ("Ocean's Eleven", "oceans eleven"),
            ("Ocean’s Eleven", "oceans eleven"),
            ("Spider-Man: Into the Spider-Verse", "spider man into the spider verse"),
            ("Coeur d’Alene", "coeur dalene"),
            ("...", ""),
            ("", ""),
        ] {
            assert_eq!(search_key(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn seat_kinds_round_trip_their_stored_form() {
        for kind in SeatKind::ALL {
            assert_eq!(kind.as_str().parse::<SeatKind>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).expect("serializes"), kind.as_str());
        }
        assert!("vip".parse::<SeatKind>().is_err());
        assert!("Standard".parse::<SeatKind>().is_err());
    }

    #[test]
    fn typed_ids_parse_uuids_only_and_serialize_bare() {
        let id: ShowtimeId = "6f9619ff-8b86-d011-b42d-00cf4fc964ff".parse().expect("a uuid");
        assert_eq!(serde_json::to_value(id).expect("serializes"), "6f9619ff-8b86-d011-b42d-00cf4fc964ff");
        assert!("not-a-uuid".parse::<TheaterId>().is_err());
        assert!("".parse::<MovieId>().is_err());
    }

    #[test]
    fn prices_are_looked_up_by_kind() {
        let p = Prices { standard: 1, premium: 2, accessible: 3, companion: 4 };
        let got: Vec<i64> = SeatKind::ALL.iter().map(|k| p.of(*k)).collect();
        assert_eq!(got, [1, 2, 3, 4]);
    }
}
