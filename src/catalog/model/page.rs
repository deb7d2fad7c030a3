//! Cursor pagination of every list: `limit` (default 20, at most 100) and an opaque `cursor` holding the sort key
//! of the last item served, answered by `nextCursor` (null on the last page).
//!
//! The lists are keyset-paginated: a page is "the first `limit` rows whose sort key comes after the cursor's", and
//! every sort key ends with a unique id. Rows inserted or deleted between two requests therefore never make a page
//! repeat or skip a row that existed throughout (an offset would). The cursor names the list it belongs to, so a
//! cursor of one list handed to another is a 400, not a silently wrong page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Items per page when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 20;

/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 100;

/// Longest cursor accepted (a cursor holds one name and one id: far below this).
const MAX_CURSOR_LEN: usize = 1024;

/// A page size within `1..=MAX_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    /// Parses the `limit` parameter; `None` gives the default.
    ///
    /// # Errors
    /// Not an integer, 0, or above [`MAX_LIMIT`].
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw else { return Ok(Self(DEFAULT_LIMIT)) };
        let n: u32 =
            raw.trim().parse().map_err(|_| format!("must be an integer from 1 to {MAX_LIMIT}, got {raw:?}"))?;
        if n == 0 || n > MAX_LIMIT {
            return Err(format!("must be from 1 to {MAX_LIMIT}, got {n}"));
        }
        Ok(Self(n))
    }

    /// The page size.
    pub fn get(self) -> u32 {
        self.0
    }

    /// How many rows a query fetches: one more than the page, to learn whether another page follows.
    pub fn fetch(self) -> i64 {
        i64::from(self.0) + 1
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

/// Which list a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListKind {
    /// `GET /theaters?city=` (by theater name).
    #[serde(rename = "tc")]
    TheatersByCity,
    /// `GET /theaters?zip=|near=` (by distance).
    #[serde(rename = "tn")]
    TheatersNear,
    /// `GET /movies` (by title).
    #[serde(rename = "m")]
    Movies,
    /// `GET /theaters/{id}/movies` (by title).
    #[serde(rename = "tm")]
    TheaterMovies,
    /// `GET /movies/{id}/showtimes` grouped by theater, by theater name.
    #[serde(rename = "mt")]
    MovieTheatersByName,
    /// `GET /movies/{id}/showtimes?zip=` grouped by theater, by distance.
    #[serde(rename = "mn")]
    MovieTheatersNear,
}

/// The sort key of the last item of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    /// Lists ordered by `(name, id)`.
    Name {
        /// The name (or title) of the last item.
        #[serde(rename = "n")]
        name: String,
        /// Its id.
        #[serde(rename = "i")]
        id: Uuid,
    },
    /// Lists ordered by `(distance, id)`.
    Distance {
        /// The distance in km of the last item, as the bits of the `f64` the database computed: the next query
        /// compares against exactly that value.
        #[serde(rename = "d")]
        km_bits: u64,
        /// Its id.
        #[serde(rename = "i")]
        id: Uuid,
    },
}

impl SortKey {
    /// The `(name, id)` of a name key.
    pub fn as_name(&self) -> Option<(&str, Uuid)> {
        match self {
            Self::Name { name, id } => Some((name, *id)),
            Self::Distance { .. } => None,
        }
    }

    /// The `(km, id)` of a distance key.
    pub fn as_distance(&self) -> Option<(f64, Uuid)> {
        match self {
            Self::Distance { km_bits, id } => Some((f64::from_bits(*km_bits), *id)),
            Self::Name { .. } => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    l: ListKind,
    #[serde(flatten)]
    key: SortKey,
}

/// Encodes the cursor of `list` after `key`.
pub fn encode_cursor(list: ListKind, key: SortKey) -> String {
    // Serializing a struct of strings, numbers and a UUID cannot fail.
    let json = serde_json::to_vec(&Wire { l: list, key }).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor that must belong to `list`.
///
/// # Errors
/// Not a cursor, or a cursor of another list.
pub fn decode_cursor(list: ListKind, raw: &str) -> Result<SortKey, String> {
    let bad = || "is not a cursor returned by this list (use nextCursor as given)".to_owned();
    if raw.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let key_fits = match (&wire.key, list) {
        (SortKey::Distance { km_bits, .. }, ListKind::TheatersNear | ListKind::MovieTheatersNear) => {
            let km = f64::from_bits(*km_bits);
            km.is_finite() && km >= 0.0
        }
        (SortKey::Name { .. }, ListKind::TheatersNear | ListKind::MovieTheatersNear) => false,
        (SortKey::Distance { .. }, _) => false,
        (SortKey::Name { .. }, _) => true,
    };
    if wire.l != list || !key_fits {
        return Err(bad());
    }
    Ok(wire.key)
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// The cursor of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from rows fetched with [`Limit::fetch`]: the extra row, if present, is dropped and says that another
    /// page follows, whose cursor is the sort key of the last item kept.
    pub fn from_rows(mut rows: Vec<T>, limit: Limit, list: ListKind, key_of: impl Fn(&T) -> SortKey) -> Self {
        let page = limit.get() as usize;
        let next_cursor = if rows.len() > page {
            rows.truncate(page);
            rows.last().map(|last| encode_cursor(list, key_of(last)))
        } else {
            None
        };
        Self { items: rows, next_cursor }
    }

    /// Maps the items, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(Limit::parse(None), Ok(Limit(DEFAULT_LIMIT)));
        assert_eq!(Limit::parse(Some("1")).map(Limit::get), Ok(1));
        assert_eq!(Limit::parse(Some("100")).map(Limit::get), Ok(100));
        for bad in ["0", "101", "-1", "ten", "", "1.5", "99999999999"] {
            assert!(Limit::parse(Some(bad)).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Limit::parse(Some("7")).map(Limit::fetch), Ok(8));
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_list() {
        let id = Uuid::new_v4();
        let by_name = SortKey::Name { name: "Cinéma \"L'Amour\" 5".into(), id };
        let raw = encode_cursor(ListKind::TheatersByCity, by_name.clone());
        assert!(raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{raw}");
        assert_eq!(decode_cursor(ListKind::TheatersByCity, &raw), Ok(by_name));
        assert!(decode_cursor(ListKind::Movies, &raw).is_err());
        assert!(decode_cursor(ListKind::TheatersNear, &raw).is_err());

        let km = 12.345_678_901_234_567_f64;
        let near = SortKey::Distance { km_bits: km.to_bits(), id };
        let raw = encode_cursor(ListKind::TheatersNear, near.clone());
        let back = decode_cursor(ListKind::TheatersNear, &raw).expect("decodes");
        assert_eq!(back.as_distance(), Some((km, id)), "the exact f64 survives");
        assert!(decode_cursor(ListKind::TheatersByCity, &raw).is_err());
    }

    #[test]
    fn garbage_cursors_are_refused() {
        let forged_nan =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"l":"tn","d":{},"i":"{}"}}"#, f64::NAN.to_bits(), Uuid::nil()));
        for bad in ["", "!!!", "e30", "bm90IGpzb24", &"A".repeat(2000), &forged_nan] {
            assert!(decode_cursor(ListKind::TheatersNear, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_page_keeps_limit_rows_and_points_after_the_last() {
        let limit = Limit::parse(Some("2")).expect("valid");
        let key = |n: &u32| SortKey::Name { name: n.to_string(), id: Uuid::nil() };
        let page = Page::from_rows(vec![1, 2, 3], limit, ListKind::Movies, key);
        assert_eq!(page.items, [1, 2]);
        let next = decode_cursor(ListKind::Movies, page.next_cursor.as_deref().expect("more")).expect("ours");
        assert_eq!(next.as_name(), Some(("2", Uuid::nil())));
        let last = Page::from_rows(vec![1, 2], limit, ListKind::Movies, key);
        assert_eq!((last.items.len(), last.next_cursor.as_deref()), (2, None));
        let json = serde_json::to_value(&last).expect("serializes");
        assert!(json["nextCursor"].is_null(), "{json}");
    }
}
