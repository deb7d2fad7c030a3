//! Seat maps: the immutable layout of a screen, the availability bitmap of a showtime, and the seat-map JSON.
//!
//! A seat map is what `GET /showtimes/{id}/seats` answers: the layout (rows of seats with label, kind and grid
//! position), each seat's price and `available` flag, and totals. Everything in it but the `available` flags and
//! the totals is fixed for a showtime, so [`SeatMapTemplate`] renders that part once, as JSON fragments between
//! the flags; serving a request then copies the fragments and writes one `true`/`false` per seat. The result is
//! byte-for-byte what `serde_json` makes of [`SeatMap`] (a unit test holds it to that), at a fraction of the cost
//! (`benches/seatmap.rs`).
//!
//! Availability is a bitmap over the layout's seat order (bit set = taken), which is also what the Redis cache
//! stores ([`TakenSeats::encode`]). The ETag of a map is a hash of the template and of the bitmap: it changes
//! whenever a seat's availability (or the showtime's prices or status) changes, and equal maps have equal ETags on
//! every pod.

use std::collections::HashMap;
use std::io::Write as _;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::{Prices, SeatKind, ShowtimeId, ShowtimeStatus, TheaterId};
use crate::db::Region;

/// The most seats a screen may have.
pub const MAX_SEATS: usize = 1000;

/// A screen, the key of its layout: layouts belong to screens, not to showtimes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScreenKey {
    /// The theater's region.
    pub region: Region,
    /// The theater.
    pub theater_id: TheaterId,
    /// The screen's number.
    pub screen_number: i32,
}

/// A showtime with its region: what every availability query needs (regional tables lead with region).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShowtimeKey {
    /// The region.
    pub region: Region,
    /// The showtime.
    pub id: ShowtimeId,
}

/// One seat of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutSeat {
    /// Label, unique in the screen, e.g. `F12`.
    pub label: String,
    /// Row label, e.g. `F`.
    pub row: String,
    /// Number within the row.
    pub number: i32,
    /// What it is sold as.
    pub kind: SeatKind,
    /// Column on the drawn map (aisles leave gaps).
    pub x: i32,
    /// Row on the drawn map, 0 nearest the screen.
    pub y: i32,
}

/// A screen's seats in map order (by `y`, then `x`), with an index from label to position. The position of a seat
/// is its bit in a [`TakenSeats`] bitmap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatLayout {
    seats: Vec<LayoutSeat>,
    index: HashMap<String, u32>,
}

impl SeatLayout {
    /// Orders and indexes `seats`.
    ///
    /// # Errors
    /// No seats, more than [`MAX_SEATS`], a duplicate label or two seats on one grid cell.
    pub fn new(mut seats: Vec<LayoutSeat>) -> Result<Self, String> {
        if seats.is_empty() {
            return Err("a screen needs at least one seat".into());
        }
        if seats.len() > MAX_SEATS {
            return Err(format!("a screen has at most {MAX_SEATS} seats, got {}", seats.len()));
        }
        seats.sort_by_key(|s| (s.y, s.x));
        if let Some(pair) = seats.windows(2).find(|w| (w[0].y, w[0].x) == (w[1].y, w[1].x)) {
            return Err(format!(
                "seats {} and {} share the grid cell ({}, {})",
                pair[0].label, pair[1].label, pair[0].x, pair[0].y
            ));
        }
        let mut index = HashMap::with_capacity(seats.len());
        for (i, seat) in seats.iter().enumerate() {
            // At most MAX_SEATS entries: the index fits in u32.
            if index.insert(seat.label.clone(), i as u32).is_some() {
                return Err(format!("seat label {} appears twice", seat.label));
            }
        }
        Ok(Self { seats, index })
    }

    /// The seats in map order.
    pub fn seats(&self) -> &[LayoutSeat] {
        &self.seats
    }

    /// Number of seats.
    pub fn len(&self) -> usize {
        self.seats.len()
    }

    /// Always false: a layout has seats.
    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// The position (bitmap index) of the seat labelled `label`.
    pub fn position(&self, label: &str) -> Option<usize> {
        self.index.get(label).map(|i| *i as usize)
    }

    /// Grid size: (columns, rows) spanned by the seats.
    pub fn grid(&self) -> Grid {
        let columns = self.seats.iter().map(|s| s.x).max().unwrap_or(-1) + 1;
        let rows = self.seats.iter().map(|s| s.y).max().unwrap_or(-1) + 1;
        Grid { columns, rows }
    }
}

/// The set of taken seats of a showtime: a bitmap over its layout's seat order (bit set = taken).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TakenSeats {
    bits: Vec<u8>,
    len: usize,
}

/// First byte of the cached encoding; a future change of format changes it, and entries of another format read
/// as a miss.
const FORMAT: u8 = 1;

impl TakenSeats {
    /// No seat taken, over `len` seats.
    pub fn none(len: usize) -> Self {
        Self { bits: vec![0; len.div_ceil(8)], len }
    }

    /// Every seat taken (a canceled showtime's map).
    pub fn all(len: usize) -> Self {
        let mut taken = Self::none(len);
        for i in 0..len {
            taken.set(i);
        }
        taken
    }

    /// Marks seat `i` taken (out-of-range positions are ignored).
    pub fn set(&mut self, i: usize) {
        if i < self.len {
            self.bits[i / 8] |= 1 << (i % 8);
        }
    }

    /// Whether seat `i` is taken.
    pub fn is_taken(&self, i: usize) -> bool {
        i < self.len && self.bits[i / 8] & (1 << (i % 8)) != 0
    }

    /// Number of seats covered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it covers no seat.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of taken seats.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// The cache encoding: a format byte, the seat count (u16, little-endian), the bitmap.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.bits.len());
        out.push(FORMAT);
        out.extend_from_slice(&(self.len as u16).to_le_bytes());
        out.extend_from_slice(&self.bits);
        out
    }

    /// Reads [`encode`](Self::encode)'s output for a layout of `len` seats; `None` when it is not that (another
    /// format, another layout size, or garbage): the caller treats it as a cache miss.
    pub fn decode(bytes: &[u8], len: usize) -> Option<Self> {
        let (&format, rest) = bytes.split_first()?;
        if format != FORMAT || rest.len() < 2 {
            return None;
        }
        let stored = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let bits = &rest[2..];
        if stored != len || bits.len() != len.div_ceil(8) {
            return None;
        }
        // Bits past `len` in the last byte must be clear, so that equal sets have equal encodings (and ETags).
        if !len.is_multiple_of(8) && bits[bits.len() - 1] >> (len % 8) != 0 {
            return None;
        }
        Some(Self { bits: bits.to_vec(), len })
    }

    /// The raw bitmap (hashed into the ETag).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }
}

/// The size of the drawn map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grid {
    /// Columns spanned (largest `x` + 1).
    pub columns: i32,
    /// Rows spanned (largest `y` + 1).
    pub rows: i32,
}

/// What a seat map says about its showtime (everything but availability).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatMapHead {
    /// The showtime.
    pub showtime_id: ShowtimeId,
    /// Its theater.
    pub theater_id: TheaterId,
    /// Its screen.
    pub screen_number: i32,
    /// Scheduled, canceled, or started (shown, never stored).
    pub status: ShowtimeStatus,
    /// ISO 4217 currency of the prices.
    pub currency: String,
    /// Prices per seat kind, minor units.
    pub prices: Prices,
}

/// `GET /showtimes/{id}/seats`: the seat map. [`SeatMapTemplate`] renders exactly this type's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMap {
    /// The showtime.
    pub showtime_id: ShowtimeId,
    /// Its theater.
    pub theater_id: TheaterId,
    /// Its screen.
    pub screen_number: i32,
    /// `scheduled`; `canceled` or `started` (its start time has passed): then no seat is available.
    pub status: ShowtimeStatus,
    /// Currency of every price.
    pub currency: String,
    /// Price per seat kind, minor units.
    pub prices: Prices,
    /// Size of the drawn map.
    pub grid: Grid,
    /// Rows from the screen backwards.
    pub rows: Vec<SeatMapRow>,
    /// Counts.
    pub totals: SeatTotals,
}

/// A row of a seat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapRow {
    /// Row label, e.g. `F`.
    pub label: String,
    /// Grid row of its first seat.
    pub y: i32,
    /// Its seats, left to right.
    pub seats: Vec<SeatView>,
}

/// A seat of a seat map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    /// Label, e.g. `F12`: what `POST /bookings` takes in `seatIds`.
    pub label: String,
    /// Number within the row.
    pub number: i32,
    /// What it is sold as.
    pub kind: SeatKind,
    /// Grid column.
    pub x: i32,
    /// Grid row.
    pub y: i32,
    /// Price in minor units.
    pub price: i64,
    /// Whether it can be held now (as of the cache; a hold may still find it taken: 409).
    pub available: bool,
}

/// Seat counts of a seat map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatTotals {
    /// Seats in the layout.
    pub seats: usize,
    /// Seats available.
    pub available: usize,
    /// Seats held or sold.
    pub taken: usize,
}

impl SeatMap {
    /// Builds the map as a value (the straightforward way; the template's reference and the benchmark's baseline).
    pub fn build(head: &SeatMapHead, layout: &SeatLayout, taken: &TakenSeats) -> Self {
        let taken = effective(head, layout, taken);
        let mut rows: Vec<SeatMapRow> = Vec::new();
        for (i, seat) in layout.seats().iter().enumerate() {
            let view = SeatView {
                label: seat.label.clone(),
                number: seat.number,
                kind: seat.kind,
                x: seat.x,
                y: seat.y,
                price: head.prices.of(seat.kind),
                available: !taken.is_taken(i),
            };
            match rows.last_mut() {
                Some(row) if same_row(row.label.as_str(), row.y, seat) => row.seats.push(view),
                _ => rows.push(SeatMapRow { label: seat.row.clone(), y: seat.y, seats: vec![view] }),
            }
        }
        let count = taken.count().min(layout.len());
        Self {
            showtime_id: head.showtime_id,
            theater_id: head.theater_id,
            screen_number: head.screen_number,
            status: head.status,
            currency: head.currency.clone(),
            prices: head.prices,
            grid: layout.grid(),
            rows,
            totals: SeatTotals { seats: layout.len(), available: layout.len() - count, taken: count },
        }
    }
}

/// Seats of one drawn row share the row label and the grid row.
fn same_row(label: &str, y: i32, seat: &LayoutSeat) -> bool {
    label == seat.row && y == seat.y
}

/// The availability a map shows: a canceled or started showtime sells nothing, whatever its claims.
fn effective<'a>(head: &SeatMapHead, layout: &SeatLayout, taken: &'a TakenSeats) -> std::borrow::Cow<'a, TakenSeats> {
    if !head.status.is_on_sale() {
        std::borrow::Cow::Owned(TakenSeats::all(layout.len()))
    } else {
        std::borrow::Cow::Borrowed(taken)
    }
}

/// FNV-1a, 64 bits: a stable hash (the same on every pod and build) for ETags.
fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        state ^= u64::from(*b);
        state = state.wrapping_mul(0x0100_0000_01b3);
    }
    state
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// A showtime's seat map rendered once with the availability left out: `fragments[0]`, flag 0, `fragments[1]`,
/// flag 1, ..., `fragments[n]`, then the totals.
#[derive(Debug, Clone)]
pub struct SeatMapTemplate {
    /// Every fragment, back to back.
    text: Vec<u8>,
    /// `ends[i]`: end of fragment `i` in `text` (fragment `i` starts where `i - 1` ends).
    ends: Vec<u32>,
    /// Seats (flags between fragments).
    seats: usize,
    /// Canceled or started: every seat shows taken.
    closed: bool,
    /// Hash of `text`: the part of the ETag that identifies the layout, prices and status.
    hash: u64,
}

impl SeatMapTemplate {
    /// Renders the fixed part of the map of `head` over `layout`.
    pub fn build(head: &SeatMapHead, layout: &SeatLayout) -> Self {
        // The JSON of strings and numbers, written by serde_json so that escaping is identical to SeatMap's.
        fn json<T: Serialize + ?Sized>(value: &T) -> String {
            serde_json::to_string(value).unwrap_or_default()
        }
        let seats = layout.seats();
        let mut text = Vec::with_capacity(seats.len() * 96 + 512);
        let mut ends = Vec::with_capacity(seats.len() + 1);
        let _ = write!(
            text,
            r#"{{"showtimeId":{},"theaterId":{},"screenNumber":{},"status":{},"currency":{},"prices":{},"grid":{},"rows":["#,
            json(&head.showtime_id),
            json(&head.theater_id),
            head.screen_number,
            json(&head.status),
            json(&head.currency),
            json(&head.prices),
            json(&layout.grid()),
        );
        let mut previous: Option<&LayoutSeat> = None;
        for seat in seats {
            match previous {
                None => {}
                Some(p) if same_row(&p.row, p.y, seat) => text.extend_from_slice(b"},"),
                Some(_) => text.extend_from_slice(b"}]},"),
            }
            if previous.is_none_or(|p| !same_row(&p.row, p.y, seat)) {
                let _ = write!(text, r#"{{"label":{},"y":{},"seats":["#, json(&seat.row), seat.y);
            }
            let _ = write!(
                text,
                r#"{{"label":{},"number":{},"kind":{},"x":{},"y":{},"price":{},"available":"#,
                json(&seat.label),
                seat.number,
                json(&seat.kind),
                seat.x,
                seat.y,
                head.prices.of(seat.kind),
            );
            ends.push(text.len() as u32);
            previous = Some(seat);
        }
        let _ = write!(text, r#"}}]}}],"totals":{{"seats":{},"available":"#, seats.len());
        ends.push(text.len() as u32);
        let hash = fnv1a(FNV_OFFSET, &text);
        Self { text, ends, seats: seats.len(), closed: !head.status.is_on_sale(), hash }
    }

    /// Number of seats.
    pub fn seats(&self) -> usize {
        self.seats
    }

    /// The ETag of the map rendered with `taken` (quoted, strong).
    pub fn etag(&self, taken: &TakenSeats) -> String {
        let hash = if self.closed { self.hash } else { fnv1a(self.hash, taken.as_bytes()) };
        format!("\"{hash:016x}\"")
    }

    /// The map's JSON with `taken` (a bitmap over the same layout; a bitmap of another length shows the seats it
    /// does not cover as available, which cannot happen with the cache's length check).
    pub fn render(&self, taken: &TakenSeats) -> Bytes {
        let mut out = BytesMut::with_capacity(self.text.len() + self.seats * 5 + 48);
        let mut start = 0usize;
        let mut count = 0usize;
        for (i, end) in self.ends.iter().enumerate() {
            let end = *end as usize;
            out.extend_from_slice(&self.text[start..end]);
            start = end;
            if i < self.seats {
                let is_taken = self.closed || taken.is_taken(i);
                count += usize::from(is_taken);
                out.extend_from_slice(if is_taken { b"false" } else { b"true" });
            }
        }
        let mut tail = itoa_buf();
        let available = self.seats - count;
        out.extend_from_slice(fmt_usize(&mut tail, available));
        out.extend_from_slice(br#","taken":"#);
        out.extend_from_slice(fmt_usize(&mut tail, count));
        out.extend_from_slice(b"}}");
        out.freeze()
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Writes `n` in decimal into `buf`, returning the digits.
fn fmt_usize(buf: &mut [u8; 20], mut n: usize) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(row: &str, number: i32, x: i32, y: i32, kind: SeatKind) -> LayoutSeat {
        LayoutSeat { label: format!("{row}{number}"), row: row.into(), number, kind, x, y }
    }

    fn layout() -> SeatLayout {
        let mut seats = Vec::new();
        for (y, row) in ["A", "B", "C"].iter().enumerate() {
            for n in 1..=5 {
                // An aisle after seat 2.
                let x = if n <= 2 { n - 1 } else { n };
                let kind = match (y, n) {
                    (0, 1) => SeatKind::Accessible,
                    (0, 2) => SeatKind::Companion,
                    (2, _) => SeatKind::Premium,
                    _ => SeatKind::Standard,
                };
                seats.push(seat(row, n, x, y as i32, kind));
            }
        }
        seats.reverse();
        SeatLayout::new(seats).expect("valid")
    }

    fn head(status: ShowtimeStatus) -> SeatMapHead {
        SeatMapHead {
            showtime_id: ShowtimeId(uuid::Uuid::from_u128(1)),
            theater_id: TheaterId(uuid::Uuid::from_u128(2)),
            screen_number: 3,
            status,
            currency: "USD".into(),
            prices: Prices { standard: 1250, premium: 1800, accessible: 1000, companion: 1001 },
        }
    }

    #[test]
    fn layouts_are_ordered_and_validated() {
        let l = layout();
        assert_eq!(l.seats()[0].label, "A1");
        assert_eq!(l.position("B1"), Some(5));
        assert_eq!(l.grid(), Grid { columns: 6, rows: 3 });
        assert!(SeatLayout::new(vec![]).is_err());
        let dup = vec![seat("A", 1, 0, 0, SeatKind::Standard), seat("A", 1, 1, 0, SeatKind::Standard)];
        assert!(SeatLayout::new(dup).expect_err("duplicate label").contains("twice"));
        let cell = vec![seat("A", 1, 0, 0, SeatKind::Standard), seat("A", 2, 0, 0, SeatKind::Standard)];
        assert!(SeatLayout::new(cell).expect_err("same cell").contains("grid cell"));
        let many = (0..=MAX_SEATS as i32).map(|i| seat("A", i, i, 0, SeatKind::Standard)).collect();
        assert!(SeatLayout::new(many).is_err());
    }

    #[test]
    fn bitmaps_encode_and_refuse_what_is_not_theirs() {
        let mut t = TakenSeats::none(15);
        t.set(0);
        t.set(14);
        t.set(99);
        assert_eq!(t.count(), 2);
        assert!(t.is_taken(14) && !t.is_taken(13) && !t.is_taken(99));
        let bytes = t.encode();
        assert_eq!(TakenSeats::decode(&bytes, 15), Some(t.clone()));
        assert_eq!(TakenSeats::decode(&bytes, 16), None, "another layout size");
        assert_eq!(TakenSeats::decode(&[], 15), None);
        assert_eq!(TakenSeats::decode(b"garbage", 15), None);
        let mut stray = bytes.clone();
        *stray.last_mut().expect("bytes") |= 0x80;
        assert_eq!(TakenSeats::decode(&stray, 15), None, "bits past the end");
        assert_eq!(TakenSeats::all(15).count(), 15);
    }

    #[test]
    fn the_template_renders_exactly_the_serde_json_of_the_map() {
        let l = layout();
        for status in [ShowtimeStatus::Scheduled, ShowtimeStatus::Canceled, ShowtimeStatus::Started] {
            let h = head(status);
            let template = SeatMapTemplate::build(&h, &l);
            for taken_positions in [vec![], vec![0], vec![3, 4, 5, 14], (0..15).collect()] {
                let mut taken = TakenSeats::none(l.len());
                taken_positions.iter().for_each(|i| taken.set(*i));
                let expected = serde_json::to_vec(&SeatMap::build(&h, &l, &taken)).expect("serializes");
                let rendered = template.render(&taken);
                assert_eq!(
                    std::str::from_utf8(&rendered).expect("utf-8"),
                    std::str::from_utf8(&expected).expect("utf-8")
                );
            }
        }
    }

    #[test]
    fn the_map_groups_rows_and_counts() {
        let l = layout();
        let mut taken = TakenSeats::none(l.len());
        taken.set(l.position("C5").expect("seat"));
        let map = SeatMap::build(&head(ShowtimeStatus::Scheduled), &l, &taken);
        assert_eq!(map.rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), ["A", "B", "C"]);
        assert_eq!(map.rows[0].seats[0].kind, SeatKind::Accessible);
        assert_eq!(map.rows[0].seats[0].price, 1000);
        assert_eq!(map.rows[2].seats[4].price, 1800);
        assert!(!map.rows[2].seats[4].available);
        assert_eq!(map.totals, SeatTotals { seats: 15, available: 14, taken: 1 });
        let canceled = SeatMap::build(&head(ShowtimeStatus::Canceled), &l, &taken);
        assert_eq!(canceled.totals.available, 0);
    }

    #[test]
    fn the_etag_follows_availability_prices_and_status() {
        let l = layout();
        let h = head(ShowtimeStatus::Scheduled);
        let t = SeatMapTemplate::build(&h, &l);
        let none = TakenSeats::none(l.len());
        let mut one = none.clone();
        one.set(7);
        assert_eq!(t.etag(&none), SeatMapTemplate::build(&h, &l).etag(&none), "stable");
        assert_ne!(t.etag(&none), t.etag(&one));
        let dearer = SeatMapHead { prices: Prices { standard: 1300, ..h.prices }, ..h.clone() };
        assert_ne!(t.etag(&none), SeatMapTemplate::build(&dearer, &l).etag(&none));
        let canceled = SeatMapHead { status: ShowtimeStatus::Canceled, ..h };
        assert_ne!(t.etag(&none), SeatMapTemplate::build(&canceled, &l).etag(&none));
        assert!(t.etag(&none).starts_with('"') && t.etag(&none).len() == 18);
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut buf = itoa_buf();
        for n in [0usize, 7, 10, 999, 1000, usize::MAX] {
            assert_eq!(fmt_usize(&mut buf, n), n.to_string().as_bytes());
        }
    }
}
