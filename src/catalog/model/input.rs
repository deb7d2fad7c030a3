//! The admin bodies: theaters with their screens and seat layouts, movies, showtimes. Each raw body (what serde
//! reads; an unknown field or a wrong JSON type is a 422 before this) is validated into a typed value, and every
//! invalid field is reported at once as a `body.<path>` field error (`body.screens[0].seats[12].kind`).

use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime};

use super::geo::Position;
use super::params::{parse_date, parse_zip};
use super::seatmap::{LayoutSeat, MAX_SEATS, SeatLayout};
use super::{CityId, MovieId, Prices, SeatKind, TheaterId, search_key};
use crate::error::FieldError;

/// The most screens a theater may have.
pub const MAX_SCREENS: usize = 50;

/// The request body limit of `POST /theaters` and `PUT /theaters/{id}`: the largest body their schema allows, so
/// the documented maximum (50 screens of 1000 seats) can be created. Every field at its maximum, written the way a
/// common JSON encoder writes it (Python's `json.dumps` defaults: `", "` and `": "` separators, non-ASCII text as
/// `\uXXXX` escapes, so a name's character may take 12 bytes as a surrogate pair). About 4.6 MiB; every other body
/// keeps `BOXOFFICE_BODY_LIMIT_BYTES` (`edge::middleware::limit_body` picks the limit by route). The ingress allows
/// the same on `/theaters` (`k8s/base/ingress-theaters.yaml`; a test keeps the two equal).
pub const THEATER_BODY_LIMIT: usize = {
    // The longest seat: an 8-character label, a 4-character row, three-digit numbers, the longest kind.
    const SEAT: &str =
        r#"{"label": "ABCDEFGH", "row": "ABCD", "number": 999, "kind": "accessible", "x": 999, "y": 999}"#;
    // A non-BMP character as a JSON escape (a surrogate pair).
    const CHAR: usize = r"\ud83c\udfac".len();
    const SCREEN: usize = r#"{"number": 99, "name": "", "seats": []}"#.len()
        + 100 * CHAR
        + MAX_SEATS * SEAT.len()
        + (MAX_SEATS - 1) * ", ".len();
    // The create body (the update body is the same without `cityId`); the coordinates as long as a float prints.
    const LAT_LON: &str = "-2.2250738585072014e-308";
    r#"{"cityId": "00000000-0000-0000-0000-000000000000", "name": "", "address": "", "zip": "ABCDEFGHIJKL", "lat": , "lon": , "screens": []}"#.len()
        + (200 + 300) * CHAR
        + 2 * LAT_LON.len()
        + MAX_SCREENS * SCREEN
        + (MAX_SCREENS - 1) * ", ".len()
};

/// The longest a showtime may last (it bounds the overlap check's index range, see `showtime_overlaps.sql`).
pub const MAX_SHOWTIME: Duration = Duration::hours(12);

/// The highest price accepted for a seat, in minor units.
pub const MAX_PRICE: i64 = 1_000_000;

/// MPA ratings accepted (the `movies_rating_check` constraint).
pub const RATINGS: [&str; 6] = ["G", "PG", "PG-13", "R", "NC-17", "NR"];

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: format!("body.{}", field.into()), message: message.into() });
    }

    /// Trimmed text of 1..=max characters without control characters, or an error under `field`.
    fn text(&mut self, field: &str, raw: &str, max: usize) -> String {
        let value = raw.trim();
        if value.is_empty() {
            self.add(field, "must not be empty");
        } else if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        } else if value.chars().any(char::is_control) {
            self.add(field, "must not contain control characters");
        }
        value.to_owned()
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() { Ok(value) } else { Err(self.0) }
    }
}

/// A seat as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeatBody {
    /// Label, unique in the screen, e.g. `F12` (letters and digits, 8 at most).
    #[schema(pattern = r"^[A-Za-z0-9]{1,8}$", example = "F12")]
    pub label: String,
    /// Row label, e.g. `F`.
    #[schema(pattern = r"^[A-Za-z0-9]{1,4}$", example = "F")]
    pub row: String,
    /// Number within the row, 1..=999.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 1, maximum = 999)]
    pub number: i32,
    /// `standard`, `premium`, `accessible` or `companion`.
    #[schema(pattern = r"^(standard|premium|accessible|companion)$", example = "standard")]
    pub kind: String,
    /// Grid column, 0..=999.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 0, maximum = 999)]
    pub x: i32,
    /// Grid row, 0..=999, 0 nearest the screen.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 0, maximum = 999)]
    pub y: i32,
}

/// A screen as an admin sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScreenBody {
    /// Screen number in the theater, 1..=99.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 1, maximum = 99)]
    pub number: i32,
    /// Display name, e.g. `Screen 1` or `IMAX`.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Its seat layout (1 to 1000 seats).
    #[schema(min_items = 1, max_items = 1000)]
    pub seats: Vec<SeatBody>,
}

/// `POST /theaters` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTheaterBody {
    /// The city (its region becomes the theater's).
    pub city_id: CityId,
    /// Display name.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Street address.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub address: String,
    /// ZIP or postal code.
    #[schema(min_length = 1, max_length = 12, pattern = r"^[A-Za-z0-9 -]*[A-Za-z0-9-][A-Za-z0-9 -]*$")]
    pub zip: String,
    /// Latitude.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lon: f64,
    /// Screens with their layouts.
    #[schema(min_items = 1, max_items = 50)]
    pub screens: Vec<ScreenBody>,
}

/// `PUT /theaters/{id}` body: everything but the city, which fixes the region and cannot change.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TheaterUpdateBody {
    /// Display name.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Street address.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub address: String,
    /// ZIP or postal code.
    #[schema(min_length = 1, max_length = 12, pattern = r"^[A-Za-z0-9 -]*[A-Za-z0-9-][A-Za-z0-9 -]*$")]
    pub zip: String,
    /// Latitude.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lon: f64,
    /// The complete list of screens: missing ones are removed, changed layouts replaced (only for screens without
    /// showtimes: a layout is frozen once a showtime uses it).
    #[schema(min_items = 1, max_items = 50)]
    pub screens: Vec<ScreenBody>,
}

/// A validated screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenSpec {
    /// Screen number.
    pub number: i32,
    /// Display name.
    pub name: String,
    /// Validated layout.
    pub layout: SeatLayout,
}

/// A validated theater (create or update).
#[derive(Debug, Clone, PartialEq)]
pub struct TheaterSpec {
    /// Display name.
    pub name: String,
    /// Street address.
    pub address: String,
    /// Normalized ZIP.
    pub zip: String,
    /// Position.
    pub position: Position,
    /// Screens by number.
    pub screens: Vec<ScreenSpec>,
}

fn is_code(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn validate_seat(e: &mut Errors, at: &str, seat: &SeatBody) -> Option<LayoutSeat> {
    let mut ok = true;
    let mut bad = |e: &mut Errors, field: &str, message: &str| {
        e.add(format!("{at}.{field}"), message);
        ok = false;
    };
    if !is_code(&seat.label, 8) {
        bad(e, "label", "must be 1 to 8 letters or digits");
    }
    if !is_code(&seat.row, 4) {
        bad(e, "row", "must be 1 to 4 letters or digits");
    }
    if !(1..=999).contains(&seat.number) {
        bad(e, "number", "must be from 1 to 999");
    }
    if !(0..=999).contains(&seat.x) {
        bad(e, "x", "must be from 0 to 999");
    }
    if !(0..=999).contains(&seat.y) {
        bad(e, "y", "must be from 0 to 999");
    }
    let kind = seat.kind.parse::<SeatKind>().map_err(|m| bad(e, "kind", &m)).ok();
    let kind = kind.filter(|_| ok)?;
    Some(LayoutSeat {
        label: seat.label.clone(),
        row: seat.row.clone(),
        number: seat.number,
        kind,
        x: seat.x,
        y: seat.y,
    })
}

fn validate_screens(e: &mut Errors, screens: &[ScreenBody]) -> Vec<ScreenSpec> {
    if screens.is_empty() || screens.len() > MAX_SCREENS {
        e.add("screens", format!("a theater has 1 to {MAX_SCREENS} screens"));
        return Vec::new();
    }
    let mut specs: Vec<ScreenSpec> = Vec::with_capacity(screens.len());
    for (i, screen) in screens.iter().enumerate() {
        let at = format!("screens[{i}]");
        if !(1..=99).contains(&screen.number) {
            e.add(format!("{at}.number"), "must be from 1 to 99");
        } else if screens[..i].iter().any(|s| s.number == screen.number) {
            e.add(format!("{at}.number"), format!("screen {} appears twice", screen.number));
        }
        let name = e.text(&format!("{at}.name"), &screen.name, 100);
        if screen.seats.len() > MAX_SEATS {
            e.add(format!("{at}.seats"), format!("a screen has at most {MAX_SEATS} seats"));
            continue;
        }
        let before = e.0.len();
        let seats: Vec<LayoutSeat> = screen
            .seats
            .iter()
            .enumerate()
            .filter_map(|(j, s)| validate_seat(e, &format!("{at}.seats[{j}]"), s))
            .collect();
        if e.0.len() > before {
            continue;
        }
        match SeatLayout::new(seats) {
            Ok(layout) => specs.push(ScreenSpec { number: screen.number, name, layout }),
            Err(message) => e.add(format!("{at}.seats"), message),
        }
    }
    specs
}

fn validate_theater(
    e: &mut Errors,
    name: &str,
    address: &str,
    zip: &str,
    lat: f64,
    lon: f64,
    screens: &[ScreenBody],
) -> TheaterSpec {
    let name = e.text("name", name, 200);
    let address = e.text("address", address, 300);
    let zip = parse_zip(zip).unwrap_or_else(|m| {
        e.add("zip", m);
        String::new()
    });
    let position = Position::new(lat, lon).unwrap_or_else(|m| {
        e.add(if m.starts_with("lat") { "lat" } else { "lon" }, m);
        Position { lat: 0.0, lon: 0.0 }
    });
    let screens = validate_screens(e, screens);
    TheaterSpec { name, address, zip, position, screens }
}

impl NewTheaterBody {
    /// Validates the body.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<(CityId, TheaterSpec), Vec<FieldError>> {
        let mut e = Errors::default();
        let spec = validate_theater(&mut e, &self.name, &self.address, &self.zip, self.lat, self.lon, &self.screens);
        e.finish((self.city_id, spec))
    }
}

impl TheaterUpdateBody {
    /// Validates the body.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<TheaterSpec, Vec<FieldError>> {
        let mut e = Errors::default();
        let spec = validate_theater(&mut e, &self.name, &self.address, &self.zip, self.lat, self.lon, &self.screens);
        e.finish(spec)
    }
}

/// `POST /movies` and `PUT /movies/{id}` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MovieBody {
    /// Title.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    /// Running time in minutes, 1..=600.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 1, maximum = 600)]
    pub duration_min: i32,
    /// Genre, e.g. `Drama`.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub genre: String,
    /// MPA rating: G, PG, PG-13, R, NC-17 or NR.
    #[schema(pattern = r"^\s*([Gg]|[Pp][Gg]|[Pp][Gg]-13|[Rr]|[Nn][Cc]-17|[Nn][Rr])\s*$", example = "PG-13")]
    pub rating: String,
    /// Synopsis.
    #[serde(default)]
    #[schema(max_length = 5000, pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$")]
    pub description: String,
    /// Release date, `YYYY-MM-DD`.
    #[serde(default)]
    #[schema(format = Date)]
    pub release_date: Option<String>,
}

/// A validated movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieSpec {
    /// Title.
    pub title: String,
    /// [`search_key`] of the title.
    pub search_title: String,
    /// Minutes.
    pub duration_min: i32,
    /// Genre.
    pub genre: String,
    /// Rating.
    pub rating: String,
    /// Synopsis.
    pub description: String,
    /// Release date.
    pub release_date: Option<Date>,
}

impl MovieBody {
    /// Validates the body.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self) -> Result<MovieSpec, Vec<FieldError>> {
        let mut e = Errors::default();
        let title = e.text("title", &self.title, 200);
        if !(1..=600).contains(&self.duration_min) {
            e.add("durationMin", "must be from 1 to 600 minutes");
        }
        let genre = e.text("genre", &self.genre, 50);
        let rating = self.rating.trim().to_uppercase();
        if !RATINGS.contains(&rating.as_str()) {
            e.add("rating", format!("must be one of {}", RATINGS.join(", ")));
        }
        let description = self.description.trim().to_owned();
        if description.chars().count() > 5000 {
            e.add("description", "must be at most 5000 characters");
        } else if description.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            e.add("description", "must not contain control characters other than tabs and line breaks");
        }
        let release_date =
            self.release_date.as_deref().and_then(|d| parse_date(d).map_err(|m| e.add("releaseDate", m)).ok());
        let search_title = search_key(&title);
        e.finish(MovieSpec {
            title,
            search_title,
            duration_min: self.duration_min,
            genre,
            rating,
            description,
            release_date,
        })
    }
}

/// `POST /showtimes` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewShowtimeBody {
    /// The theater.
    pub theater_id: TheaterId,
    /// Its screen.
    #[serde(deserialize_with = "crate::extract::integer")]
    #[schema(minimum = 1, maximum = 99)]
    pub screen_number: i32,
    /// The movie.
    pub movie_id: MovieId,
    /// Start, RFC 3339.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// End, RFC 3339; default: start + the movie's duration.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub end_time: Option<String>,
    /// Prices per seat kind, minor units.
    pub prices: Prices,
    /// ISO 4217 currency; default `USD`.
    #[serde(default)]
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$", example = "USD")]
    pub currency: Option<String>,
}

/// `PUT /showtimes/{id}` body: what may change on a showtime (not its screen).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShowtimeUpdateBody {
    /// The movie.
    pub movie_id: MovieId,
    /// Start, RFC 3339.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// End, RFC 3339; default: start + the movie's duration.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub end_time: Option<String>,
    /// Prices per seat kind; they apply to holds made from now on (a hold locks the prices it saw).
    pub prices: Prices,
    /// ISO 4217 currency; default `USD`.
    #[serde(default)]
    #[schema(pattern = r"^\s*[A-Za-z]{3}\s*$", example = "USD")]
    pub currency: Option<String>,
}

/// A validated showtime schedule and price list (the screen comes from the path or the create body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowtimeSpec {
    /// The movie.
    pub movie_id: MovieId,
    /// Start.
    pub start: OffsetDateTime,
    /// End, if given (otherwise start + the movie's duration, known to the store).
    pub end: Option<OffsetDateTime>,
    /// Prices.
    pub prices: Prices,
    /// Currency.
    pub currency: String,
}

impl ShowtimeSpec {
    /// The end: as given, or start + `duration_min`.
    pub fn end_or(&self, duration_min: i32) -> OffsetDateTime {
        self.end.unwrap_or(self.start + Duration::minutes(i64::from(duration_min)))
    }
}

fn validate_schedule(
    e: &mut Errors,
    movie_id: MovieId,
    start: &str,
    end: Option<&str>,
    prices: Prices,
    currency: Option<&str>,
    now: OffsetDateTime,
) -> ShowtimeSpec {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let mut time = |field: &str, raw: &str| {
        OffsetDateTime::parse(raw.trim(), rfc3339)
            .map_err(|_| e.add(field, format!("must be an RFC 3339 time with an offset, got {raw:?}")))
            .ok()
    };
    let start = time("startTime", start);
    let end = end.and_then(|raw| time("endTime", raw));
    if let Some(s) = start
        && s <= now
    {
        e.add("startTime", "must be in the future");
    }
    if let (Some(s), Some(end)) = (start, end)
        && (end <= s || end - s > MAX_SHOWTIME)
    {
        e.add("endTime", "must be after startTime, by 12 hours at most");
    }
    for kind in SeatKind::ALL {
        let price = prices.of(kind);
        if !(0..=MAX_PRICE).contains(&price) {
            e.add(format!("prices.{kind}"), format!("must be from 0 to {MAX_PRICE} minor units"));
        }
    }
    let currency = currency.map_or_else(|| "USD".to_owned(), |c| c.trim().to_uppercase());
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        e.add("currency", "must be an ISO 4217 code such as USD or CAD");
    }
    ShowtimeSpec { movie_id, start: start.unwrap_or(now), end, prices, currency }
}

impl NewShowtimeBody {
    /// Validates the body against the clock `now` (a showtime starts in the future).
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self, now: OffsetDateTime) -> Result<(TheaterId, i32, ShowtimeSpec), Vec<FieldError>> {
        let mut e = Errors::default();
        if !(1..=99).contains(&self.screen_number) {
            e.add("screenNumber", "must be from 1 to 99");
        }
        let spec = validate_schedule(
            &mut e,
            self.movie_id,
            &self.start_time,
            self.end_time.as_deref(),
            self.prices,
            self.currency.as_deref(),
            now,
        );
        e.finish((self.theater_id, self.screen_number, spec))
    }
}

impl ShowtimeUpdateBody {
    /// Validates the body against the clock `now`.
    ///
    /// # Errors
    /// Every invalid field.
    pub fn validate(&self, now: OffsetDateTime) -> Result<ShowtimeSpec, Vec<FieldError>> {
        let mut e = Errors::default();
        let spec = validate_schedule(
            &mut e,
            self.movie_id,
            &self.start_time,
            self.end_time.as_deref(),
            self.prices,
            self.currency.as_deref(),
            now,
        );
        e.finish(spec)
    }
}

/// Field error for a showtime whose derived end (start + the movie's duration) is invalid.
pub fn end_error(message: &str) -> FieldError {
    FieldError { field: "body.endTime".into(), message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    fn theater(screens: serde_json::Value) -> NewTheaterBody {
        serde_json::from_value(json!({
            "cityId": uuid::Uuid::nil(), "name": " Cinema ", "address": "1 Main St", "zip": "10001",
            "lat": 40.7, "lon": -74.0, "screens": screens,
        }))
        .expect("well-formed")
    }

    fn seat(label: &str, row: &str, n: i32, kind: &str, x: i32, y: i32) -> serde_json::Value {
        json!({ "label": label, "row": row, "number": n, "kind": kind, "x": x, "y": y })
    }

    #[test]
    fn the_theater_body_limit_is_the_largest_valid_body_and_the_ingress_allows_it() {
        // Measured with Python: len(json.dumps(theater)) with every field at its longest.
        assert_eq!(THEATER_BODY_LIMIT, 4_818_129);
        let ingress = include_str!("../../../k8s/base/ingress-theaters.yaml");
        let annotation = format!("proxy-body-size: \"{THEATER_BODY_LIMIT}\"");
        assert!(ingress.contains(&annotation), "k8s/base/ingress-theaters.yaml lacks {annotation}");
    }

    #[test]
    fn a_valid_theater_is_accepted() {
        let body = theater(json!([{ "number": 1, "name": "One", "seats": [
            seat("A1", "A", 1, "accessible", 0, 0), seat("A2", "A", 2, "companion", 1, 0), seat("B1", "B", 1, "premium", 0, 1),
        ]}]));
        let (_, spec) = body.validate().expect("valid");
        assert_eq!(spec.name, "Cinema");
        assert_eq!(spec.screens[0].layout.len(), 3);
    }

    #[test]
    fn every_invalid_layout_detail_is_named() {
        let body = theater(json!([
            { "number": 1, "name": "One", "seats": [seat("A1", "A", 1, "vip", 0, 0), seat("A 2", "A", 2, "standard", 1, 0)] },
            { "number": 1, "name": "", "seats": [seat("A1", "A", 1, "standard", 0, 0), seat("A1", "A", 2, "standard", 1, 0)] },
            { "number": 2, "name": "Two", "seats": [seat("A1", "A", 1, "standard", 0, 0), seat("A2", "A", 2, "standard", 0, 0)] },
            { "number": 3, "name": "Three", "seats": [] },
        ]));
        let errors = fields(body.validate().expect_err("invalid"));
        for expected in [
            "body.screens[0].seats[0].kind",
            "body.screens[0].seats[1].label",
            "body.screens[1].number",
            "body.screens[1].name",
            "body.screens[1].seats",
            "body.screens[2].seats",
            "body.screens[3].seats",
        ] {
            assert!(errors.contains(&expected.to_owned()), "{expected} missing from {errors:?}");
        }
    }

    #[test]
    fn a_layout_over_the_seat_limit_is_refused() {
        let seats: Vec<_> = (0..1001)
            .map(|i| seat(&format!("A{}", i + 1), "A", (i % 999) + 1, "standard", i % 1000, i / 1000))
            .collect();
        let errors =
            fields(theater(json!([{ "number": 1, "name": "Big", "seats": seats }])).validate().expect_err("too big"));
        assert_eq!(errors, ["body.screens[0].seats"]);
    }

    #[test]
    fn showtimes_start_in_the_future_and_end_after_they_start() {
        let now = datetime!(2030-01-01 12:00 UTC);
        let body = |start: &str, end: Option<&str>, standard: i64| NewShowtimeBody {
            theater_id: TheaterId(uuid::Uuid::nil()),
            screen_number: 1,
            movie_id: MovieId(uuid::Uuid::nil()),
            start_time: start.into(),
            end_time: end.map(Into::into),
            prices: Prices { standard, premium: 1, accessible: 1, companion: 1 },
            currency: None,
        };
        let (_, _, spec) = body("2030-01-02T19:30:00-05:00", None, 1250).validate(now).expect("valid");
        assert_eq!(spec.end_or(120), datetime!(2030-01-03 02:30 UTC));
        assert_eq!(spec.currency, "USD");
        for (b, field) in [
            (body("2029-12-31T19:30:00Z", None, 1), "body.startTime"),
            (body("tomorrow", None, 1), "body.startTime"),
            (body("2030-01-02T19:30:00", None, 1), "body.startTime"),
            (body("2030-01-02T19:30:00Z", Some("2030-01-02T19:00:00Z"), 1), "body.endTime"),
            (body("2030-01-02T09:00:00Z", Some("2030-01-02T22:00:00Z"), 1), "body.endTime"),
            (body("2030-01-02T19:30:00Z", None, -1), "body.prices.standard"),
        ] {
            assert_eq!(fields(b.validate(now).expect_err("invalid")), [field]);
        }
    }

    #[test]
    fn movies_are_validated_and_get_a_search_title() {
        let body: MovieBody = serde_json::from_value(json!({
            "title": "Amélie", "durationMin": 122, "genre": "Comedy", "rating": "r", "releaseDate": "2001-04-25"
        }))
        .expect("well-formed");
        let spec = body.validate().expect("valid");
        assert_eq!((spec.search_title.as_str(), spec.rating.as_str()), ("amelie", "R"));
        let bad: MovieBody = serde_json::from_value(json!({
            "title": " ", "durationMin": 0, "genre": "x", "rating": "X", "releaseDate": "2001-02-30"
        }))
        .expect("well-formed");
        assert_eq!(
            fields(bad.validate().expect_err("invalid")),
            ["body.title", "body.durationMin", "body.rating", "body.releaseDate"]
        );
    }
}
