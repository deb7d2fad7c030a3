//! The query parameters of the search routes, parsed into typed, bounded values. Each route's raw parameters are
//! strings (so that a bad value is reported with our words, not serde's), and `parse` collects every problem as a
//! `query.<name>` field error: a request with three bad parameters hears about all three at once.

use serde::Deserialize;
use time::macros::format_description;
use time::{Date, PrimitiveDateTime, Time};

use super::geo::{Position, RadiusKm};
use super::page::{Limit, ListKind, SortKey, decode_cursor};
use super::{TheaterId, search_key};
use crate::error::FieldError;

/// Longest accepted city name or search text, in characters.
const MAX_TEXT: usize = 100;

/// Collects field errors while parsing.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    /// An error of parameter `name`; `"query"` for a problem of the parameters as a whole.
    fn add(&mut self, name: &str, message: impl Into<String>) {
        let field = if name == "query" { name.to_owned() } else { format!("query.{name}") };
        self.0.push(FieldError { field, message: message.into() });
    }

    /// `Some(value)` when it parses; otherwise records the error under `name`.
    fn take<T>(&mut self, name: &str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|e| self.add(name, e)).ok()
    }

    fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() { Ok(value()) } else { Err(self.0) }
    }
}

/// A non-empty parameter value: blank values are treated as absent, so `?city=&zip=10001` means "by ZIP".
fn present(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A local calendar date, `YYYY-MM-DD`.
///
/// # Errors
/// Anything else, or an impossible date.
pub fn parse_date(raw: &str) -> Result<Date, String> {
    Date::parse(raw.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("must be a date as YYYY-MM-DD, got {raw:?}"))
}

/// A local-date filter as the SQL takes it: local wall-clock bounds `[start, end)` of the day (`None`: no filter),
/// turned into instants in each theater's zone by `AT TIME ZONE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalWindow {
    /// Local midnight starting the day.
    pub start: Option<PrimitiveDateTime>,
    /// Local midnight ending it.
    pub end: Option<PrimitiveDateTime>,
}

impl LocalWindow {
    /// The window of `date`, or the unbounded window.
    pub fn of(date: Option<Date>) -> Self {
        match date {
            Some(d) => Self {
                start: Some(PrimitiveDateTime::new(d, Time::MIDNIGHT)),
                end: d.next_day().map(|n| PrimitiveDateTime::new(n, Time::MIDNIGHT)),
            },
            None => Self::default(),
        }
    }
}

fn parse_city(raw: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_TEXT {
        return Err(format!("must be at most {MAX_TEXT} characters"));
    }
    let key = search_key(raw);
    if key.is_empty() {
        Err("must contain a letter or a digit (punctuation and spaces are ignored)".into())
    } else {
        Ok(key)
    }
}

fn parse_code(raw: &str, what: &str, max: usize) -> Result<String, String> {
    let code = raw.trim().to_uppercase();
    if code.is_empty() || code.len() > max || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("must be a {what} code of 1 to {max} letters or digits, got {raw:?}"));
    }
    Ok(code)
}

fn parse_country(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_uppercase();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(format!("must be an ISO 3166-1 alpha-2 country code such as US or CA, got {raw:?}"));
    }
    Ok(code)
}

/// A ZIP or postal code as stored: trimmed, upper-case, inner white space folded to one space (`"h2x  1y4"` ->
/// `"H2X 1Y4"`).
///
/// # Errors
/// Empty, longer than 12 characters, or characters other than letters, digits, spaces and hyphens.
pub fn parse_zip(raw: &str) -> Result<String, String> {
    let zip = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    if zip.is_empty() || zip.len() > 12 || !zip.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-') {
        return Err(format!(
            "must be a ZIP or postal code (letters, digits, spaces, hyphens; 12 at most), got {raw:?}"
        ));
    }
    Ok(zip)
}

/// A city named by its search key, optionally narrowed by state and country (`city=Portland&state=ME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityFilter {
    /// [`search_key`] of the name.
    pub key: String,
    /// State or province code, upper-case.
    pub state: Option<String>,
    /// ISO country code, upper-case.
    pub country: Option<String>,
}

/// A ZIP code, optionally with its country (needed only if the code exists in several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipFilter {
    /// The normalized code.
    pub zip: String,
    /// ISO country code, upper-case.
    pub country: Option<String>,
}

/// Where to search around: a ZIP's centroid or a given position.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Around the centroid of a ZIP code area.
    Zip(ZipFilter),
    /// Around a position.
    Position(Position),
}

/// The one criterion of a theater search.
#[derive(Debug, Clone, PartialEq)]
pub enum TheaterCriterion {
    /// Theaters of every matching city, by name.
    City(CityFilter),
    /// Theaters within `radius` of the origin, nearest first.
    Near {
        /// The centre.
        origin: Origin,
        /// How far.
        radius: RadiusKm,
    },
}

/// `GET /theaters` raw parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TheatersQuery {
    /// City name (case- and accent-insensitive).
    #[param(max_length = 100)]
    pub city: Option<String>,
    /// State or province code narrowing an ambiguous city name.
    #[param(pattern = r"^\s*[A-Za-z0-9]{0,3}\s*$")]
    pub state: Option<String>,
    /// Country code narrowing a city or a ZIP code.
    #[param(pattern = r"^\s*([A-Za-z]{2})?\s*$")]
    pub country: Option<String>,
    /// ZIP or postal code: theaters around its centroid.
    #[param(max_length = 12, pattern = r"^[A-Za-z0-9 -]*$")]
    pub zip: Option<String>,
    /// `lat,lon`: theaters around it.
    pub near: Option<String>,
    /// Search radius around a ZIP or position (default 25, at most 500).
    #[param(value_type = Option<f64>, exclusive_minimum = 0.0, maximum = 500.0)]
    pub radius_km: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// A parsed theater search.
#[derive(Debug, Clone, PartialEq)]
pub struct TheaterSearch {
    /// What to search by.
    pub criterion: TheaterCriterion,
    /// Page size.
    pub limit: Limit,
    /// Sort key after which the page starts.
    pub after: Option<SortKey>,
}

/// Parses the location parameters shared by `GET /theaters` and `GET /movies/{id}/showtimes`: at most one of
/// `city`, `zip`, `near`; `state` only with a city, `radiusKm` only with a ZIP or a position.
fn parse_location(
    e: &mut Errors,
    city: &Option<String>,
    state: &Option<String>,
    country: &Option<String>,
    zip: &Option<String>,
    near: &Option<String>,
    radius_km: &Option<String>,
) -> Option<Option<TheaterCriterion>> {
    let (city, state, country) = (present(city), present(state), present(country));
    let (zip, near, radius) = (present(zip), present(near), present(radius_km));
    let given = [city, zip, near].iter().filter(|v| v.is_some()).count();
    if given > 1 {
        e.add("query", "give only one of city, zip or near");
        return None;
    }
    let country = country.and_then(|c| e.take("country", parse_country(c)));
    let radius = match radius {
        Some(_) if city.is_some() => {
            e.add("radiusKm", "applies to zip or near only (a city search lists the whole city)");
            None
        }
        Some(r) => e.take("radiusKm", r.parse::<RadiusKm>()),
        None => Some(RadiusKm::default()),
    };
    if state.is_some() && city.is_none() {
        e.add("state", "applies to city only");
    }
    if country.is_some() && near.is_some() {
        e.add("country", "applies to city or zip only");
    }
    let state = state.and_then(|s| e.take("state", parse_code(s, "state or province", 3)));
    if let Some(city) = city {
        let key = e.take("city", parse_city(city))?;
        return Some(Some(TheaterCriterion::City(CityFilter { key, state, country })));
    }
    if let Some(zip) = zip {
        let zip = e.take("zip", parse_zip(zip))?;
        return Some(Some(TheaterCriterion::Near { origin: Origin::Zip(ZipFilter { zip, country }), radius: radius? }));
    }
    if let Some(near) = near {
        let position = e.take("near", near.parse::<Position>())?;
        return Some(Some(TheaterCriterion::Near { origin: Origin::Position(position), radius: radius? }));
    }
    Some(None)
}

impl TheatersQuery {
    /// Validates the parameters: exactly one of `city`, `zip`, `near`.
    ///
    /// # Errors
    /// Every invalid parameter, as `query.<name>` field errors; `query` when no criterion or several are given.
    pub fn parse(&self) -> Result<TheaterSearch, Vec<FieldError>> {
        let mut e = Errors::default();
        let limit = e.take("limit", Limit::parse(self.limit.as_deref()));
        let criterion =
            parse_location(&mut e, &self.city, &self.state, &self.country, &self.zip, &self.near, &self.radius_km);
        let criterion = match criterion {
            Some(Some(c)) => Some(c),
            Some(None) => {
                e.add("query", "give one of city, zip or near (lat,lon)");
                None
            }
            None => None,
        };
        let after = match (&criterion, present(&self.cursor)) {
            (Some(c), Some(raw)) => {
                let list = match c {
                    TheaterCriterion::City(_) => ListKind::TheatersByCity,
                    TheaterCriterion::Near { .. } => ListKind::TheatersNear,
                };
                e.take("cursor", decode_cursor(list, raw))
            }
            _ => None,
        };
        e.finish(|| TheaterSearch {
            criterion: criterion.unwrap_or(TheaterCriterion::City(CityFilter {
                key: String::new(),
                state: None,
                country: None,
            })),
            limit: limit.unwrap_or_default(),
            after,
        })
    }
}

/// `GET /movies` raw parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MoviesQuery {
    /// Text searched in titles (case- and accent-insensitive, anywhere in the title).
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Genre, case-insensitive.
    #[param(max_length = 50)]
    pub genre: Option<String>,
    /// Only movies with upcoming showtimes in this city.
    #[param(max_length = 100)]
    pub city: Option<String>,
    /// State narrowing `city`.
    #[param(pattern = r"^\s*[A-Za-z0-9]{0,3}\s*$")]
    pub state: Option<String>,
    /// Country narrowing `city`.
    #[param(pattern = r"^\s*([A-Za-z]{2})?\s*$")]
    pub country: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// A parsed movie search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieSearch {
    /// A `LIKE` pattern over `movies.search_title` (`%key%`, with `%`, `_` and `\` escaped).
    pub title_pattern: Option<String>,
    /// Lower-case genre.
    pub genre: Option<String>,
    /// Movies playing in this city.
    pub city: Option<CityFilter>,
    /// Page size.
    pub limit: Limit,
    /// Sort key `(title, id)` after which the page starts.
    pub after: Option<(String, uuid::Uuid)>,
}

/// `%text%` with the `LIKE` metacharacters of `text` escaped (the default escape character is `\` on PostgreSQL and
/// CockroachDB alike).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl MoviesQuery {
    /// Validates the parameters; none is required (no filter lists every movie).
    ///
    /// # Errors
    /// Every invalid parameter, as `query.<name>` field errors.
    pub fn parse(&self) -> Result<MovieSearch, Vec<FieldError>> {
        let mut e = Errors::default();
        let limit = e.take("limit", Limit::parse(self.limit.as_deref()));
        let title_pattern = present(&self.q).and_then(|q| {
            if q.chars().count() > MAX_TEXT {
                e.add("q", format!("must be at most {MAX_TEXT} characters"));
                return None;
            }
            let key = search_key(q);
            if key.is_empty() {
                // Punctuation alone, which the search key drops: a filter of nothing would list every movie.
                e.add("q", "must contain a letter or a digit (punctuation and spaces are ignored)");
                return None;
            }
            Some(contains_pattern(&key))
        });
        let genre = present(&self.genre).and_then(|g| {
            if g.chars().count() > 50 {
                e.add("genre", "must be at most 50 characters");
                return None;
            }
            Some(g.to_lowercase())
        });
        let (state, country) = (present(&self.state), present(&self.country));
        if (state.is_some() || country.is_some()) && present(&self.city).is_none() {
            e.add(if state.is_some() { "state" } else { "country" }, "applies to city only");
        }
        let city = present(&self.city).and_then(|c| {
            let key = e.take("city", parse_city(c))?;
            let state = state.and_then(|s| e.take("state", parse_code(s, "state or province", 3)));
            let country = country.and_then(|c| e.take("country", parse_country(c)));
            Some(CityFilter { key, state, country })
        });
        let after = present(&self.cursor)
            .and_then(|raw| e.take("cursor", decode_cursor(ListKind::Movies, raw)))
            .and_then(|k| k.as_name().map(|(n, id)| (n.to_owned(), id)));
        e.finish(|| MovieSearch { title_pattern, genre, city, limit: limit.unwrap_or_default(), after })
    }
}

/// `GET /cities` raw parameters: what a search box has typed so far.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CitiesQuery {
    /// The start of a city name (case- and accent-insensitive: `mont` finds Montréal); it must have a letter or
    /// digit.
    #[param(required = true, max_length = 100, pattern = r"[^\W_]")]
    pub q: Option<String>,
    /// How many suggestions at most (default 8, at most 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 20)]
    pub limit: Option<String>,
}

/// A parsed city-suggestion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitySuggest {
    /// A `LIKE` pattern over `cities.search_name` (`key%`, metacharacters escaped).
    pub prefix_pattern: String,
    /// Rows wanted.
    pub limit: i64,
}

/// Default and largest number of city suggestions: a list a person reads at a glance.
const CITY_SUGGESTIONS: (i64, i64) = (8, 20);

impl CitiesQuery {
    /// Validates the parameters; `q` is required and must keep at least one letter once folded.
    ///
    /// # Errors
    /// Every invalid parameter, as `query.<name>` field errors.
    pub fn parse(&self) -> Result<CitySuggest, Vec<FieldError>> {
        let mut e = Errors::default();
        let limit = match present(&self.limit) {
            None => CITY_SUGGESTIONS.0,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=CITY_SUGGESTIONS.1).contains(&n) => n,
                _ => {
                    e.add("limit", format!("must be an integer from 1 to {}, got {raw:?}", CITY_SUGGESTIONS.1));
                    0
                }
            },
        };
        let mut prefix_pattern = String::new();
        match present(&self.q) {
            None => e.add("q", "is required: the start of a city name"),
            Some(q) if q.chars().count() > MAX_TEXT => e.add("q", format!("must be at most {MAX_TEXT} characters")),
            Some(q) => {
                let key = search_key(q);
                if !key.chars().any(char::is_alphanumeric) {
                    e.add("q", "must contain a letter or digit");
                } else {
                    // `%key%` without its leading `%`: a prefix.
                    prefix_pattern = contains_pattern(&key)[1..].to_owned();
                }
            }
        }
        e.finish(|| CitySuggest { prefix_pattern, limit })
    }
}

/// `GET /theaters/{id}/movies` raw parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TheaterMoviesQuery {
    /// Local date at the theater; absent: every upcoming showtime.
    #[param(format = Date)]
    pub date: Option<String>,
    /// Page size (movies).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// A parsed theater programme request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TheaterProgramme {
    /// Local date filter.
    pub date: Option<Date>,
    /// Page size (movies).
    pub limit: Limit,
    /// Sort key `(title, id)` after which the page starts.
    pub after: Option<(String, uuid::Uuid)>,
}

impl TheaterMoviesQuery {
    /// Validates the parameters.
    ///
    /// # Errors
    /// Every invalid parameter, as `query.<name>` field errors.
    pub fn parse(&self) -> Result<TheaterProgramme, Vec<FieldError>> {
        let mut e = Errors::default();
        let limit = e.take("limit", Limit::parse(self.limit.as_deref()));
        let date = present(&self.date).and_then(|d| e.take("date", parse_date(d)));
        let after = present(&self.cursor)
            .and_then(|raw| e.take("cursor", decode_cursor(ListKind::TheaterMovies, raw)))
            .and_then(|k| k.as_name().map(|(n, id)| (n.to_owned(), id)));
        e.finish(|| TheaterProgramme { date, limit: limit.unwrap_or_default(), after })
    }
}

/// `GET /movies/{id}/showtimes` raw parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovieShowtimesQuery {
    /// Only theaters of this city.
    #[param(max_length = 100)]
    pub city: Option<String>,
    /// State narrowing `city`.
    #[param(pattern = r"^\s*[A-Za-z0-9]{0,3}\s*$")]
    pub state: Option<String>,
    /// Country narrowing `city` or `zip`.
    #[param(pattern = r"^\s*([A-Za-z]{2})?\s*$")]
    pub country: Option<String>,
    /// Theaters around this ZIP's centroid, nearest first.
    #[param(max_length = 12, pattern = r"^[A-Za-z0-9 -]*$")]
    pub zip: Option<String>,
    /// Theaters around `lat,lon`, nearest first.
    pub near: Option<String>,
    /// Radius around `zip` or `near`.
    #[param(value_type = Option<f64>, exclusive_minimum = 0.0, maximum = 500.0)]
    pub radius_km: Option<String>,
    /// Only this theater.
    #[param(format = Uuid)]
    pub theater_id: Option<String>,
    /// Local date at each theater.
    #[param(format = Date)]
    pub date: Option<String>,
    /// Page size (theaters).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

/// Which theaters a movie's showtimes are listed for.
#[derive(Debug, Clone, PartialEq)]
pub enum ShowtimeScope {
    /// Every theater showing it, by name.
    Everywhere,
    /// One theater.
    Theater(TheaterId),
    /// Theaters of a city, by name.
    City(CityFilter),
    /// Theaters around an origin, nearest first.
    Near {
        /// The centre.
        origin: Origin,
        /// How far.
        radius: RadiusKm,
    },
}

/// A parsed `GET /movies/{id}/showtimes`.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieShowtimesSearch {
    /// Where.
    pub scope: ShowtimeScope,
    /// Local date filter.
    pub date: Option<Date>,
    /// Page size (theaters).
    pub limit: Limit,
    /// Sort key after which the page starts.
    pub after: Option<SortKey>,
}

impl MovieShowtimesQuery {
    /// Validates the parameters: at most one of `city`, `zip`, `near`, `theaterId`.
    ///
    /// # Errors
    /// Every invalid parameter, as `query.<name>` field errors.
    pub fn parse(&self) -> Result<MovieShowtimesSearch, Vec<FieldError>> {
        let mut e = Errors::default();
        let limit = e.take("limit", Limit::parse(self.limit.as_deref()));
        let date = present(&self.date).and_then(|d| e.take("date", parse_date(d)));
        let theater = present(&self.theater_id);
        let location = if theater.is_some()
            && (present(&self.city).is_some() || present(&self.zip).is_some() || present(&self.near).is_some())
        {
            e.add("theaterId", "give either theaterId or one of city, zip, near");
            None
        } else {
            parse_location(&mut e, &self.city, &self.state, &self.country, &self.zip, &self.near, &self.radius_km)
        };
        let scope = match (theater, location) {
            (Some(raw), _) => e
                .take("theaterId", raw.parse::<TheaterId>().map_err(|_| format!("must be a UUID, got {raw:?}")))
                .map(ShowtimeScope::Theater),
            (None, Some(Some(TheaterCriterion::City(c)))) => Some(ShowtimeScope::City(c)),
            (None, Some(Some(TheaterCriterion::Near { origin, radius }))) => {
                Some(ShowtimeScope::Near { origin, radius })
            }
            (None, Some(None)) => Some(ShowtimeScope::Everywhere),
            (None, None) => None,
        };
        let after = match (&scope, present(&self.cursor)) {
            (Some(s), Some(raw)) => {
                let list = match s {
                    ShowtimeScope::Near { .. } => ListKind::MovieTheatersNear,
                    _ => ListKind::MovieTheatersByName,
                };
                e.take("cursor", decode_cursor(list, raw))
            }
            _ => None,
        };
        e.finish(|| MovieShowtimesSearch {
            scope: scope.unwrap_or(ShowtimeScope::Everywhere),
            date,
            limit: limit.unwrap_or_default(),
            after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::page::encode_cursor;

    #[test]
    fn city_suggestions_take_a_folded_prefix_with_like_metacharacters_escaped() {
        let parse = |q: Option<&str>, limit: Option<&str>| {
            CitiesQuery { q: q.map(str::to_owned), limit: limit.map(str::to_owned) }.parse()
        };
        for (q, pattern) in
            // LIKE's metacharacters are punctuation, which the search key reads as spaces: they never reach the pattern.
            [
                ("Mont", "mont%"),
                ("  MONTRÉ ", "montre%"),
                ("50%_\\", "50%"),
                ("st. l", "st l%"),
                ("new  york", "new york%"),
            ]
        {
            assert_eq!(parse(Some(q), None), Ok(CitySuggest { prefix_pattern: pattern.into(), limit: 8 }), "{q}");
        }
        assert_eq!(parse(Some("b"), Some("20")).map(|s| s.limit), Ok(20));
        for (q, limit, field) in [
            (None, None, "query.q"),
            (Some("  "), None, "query.q"),
            (Some("..."), None, "query.q"),
            (Some("b"), Some("0"), "query.limit"),
            (Some("b"), Some("21"), "query.limit"),
            (Some("b"), Some("x"), "query.limit"),
        ] {
            let errors = parse(q, limit).expect_err("refused");
            assert_eq!(errors[0].field, field, "{q:?} {limit:?}");
        }
    }

    fn theaters(pairs: &[(&str, &str)]) -> Result<TheaterSearch, Vec<FieldError>> {
        let mut q = TheatersQuery::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "city" => q.city = v,
                "state" => q.state = v,
                "country" => q.country = v,
                "zip" => q.zip = v,
                "near" => q.near = v,
                "radiusKm" => q.radius_km = v,
                "limit" => q.limit = v,
                "cursor" => q.cursor = v,
                other => panic!("unknown {other}"),
            }
        }
        q.parse()
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_theater_search_needs_exactly_one_criterion() {
        assert_eq!(fields(theaters(&[]).expect_err("none")), ["query"]);
        assert_eq!(fields(theaters(&[("city", " "), ("zip", "")]).expect_err("blank")), ["query"]);
        assert_eq!(fields(theaters(&[("city", "x"), ("zip", "10001")]).expect_err("two")), ["query"]);
        let s = theaters(&[("city", "  MONTRÉAL "), ("state", "qc"), ("country", "ca")]).expect("valid");
        assert_eq!(
            s.criterion,
            TheaterCriterion::City(CityFilter {
                key: "montreal".into(),
                state: Some("QC".into()),
                country: Some("CA".into())
            })
        );
        let s = theaters(&[("zip", " h2x  1y4 ")]).expect("valid");
        let TheaterCriterion::Near { origin: Origin::Zip(z), radius } = s.criterion else { panic!("zip") };
        assert_eq!((z.zip.as_str(), radius.km()), ("H2X 1Y4", 25.0));
    }

    #[test]
    fn every_bad_theater_parameter_is_named() {
        for (pairs, field) in [
            (vec![("near", "91,0")], "query.near"),
            (vec![("near", "40.7")], "query.near"),
            (vec![("near", "40,-74"), ("radiusKm", "-5")], "query.radiusKm"),
            (vec![("near", "40,-74"), ("radiusKm", "501")], "query.radiusKm"),
            (vec![("near", "40,-74"), ("limit", "101")], "query.limit"),
            (vec![("near", "40,-74"), ("limit", "0")], "query.limit"),
            (vec![("near", "40,-74"), ("cursor", "garbage")], "query.cursor"),
            (vec![("zip", "10001;DROP")], "query.zip"),
            (vec![("city", "x"), ("radiusKm", "5")], "query.radiusKm"),
            (vec![("zip", "10001"), ("state", "NY")], "query.state"),
            (vec![("city", "Portland"), ("country", "USA")], "query.country"),
            (vec![("city", &"x".repeat(101))], "query.city"),
        ] {
            let errors = theaters(&pairs).expect_err("refused");
            assert!(fields(errors.clone()).contains(&field.to_owned()), "{pairs:?}: {errors:?}");
        }
        // Several bad parameters are all reported.
        let errors = theaters(&[("near", "100,0"), ("radiusKm", "0"), ("limit", "x")]).expect_err("refused");
        assert_eq!(fields(errors).len(), 3);
    }

    #[test]
    fn a_cursor_of_another_list_is_refused() {
        let by_name =
            encode_cursor(ListKind::TheatersByCity, SortKey::Name { name: "A".into(), id: uuid::Uuid::nil() });
        assert!(theaters(&[("city", "x"), ("cursor", &by_name)]).is_ok());
        assert!(theaters(&[("near", "1,1"), ("cursor", &by_name)]).is_err());
    }

    #[test]
    fn dates_are_iso_calendar_dates() {
        assert_eq!(parse_date("2025-02-28").map(|d| d.day()), Ok(28));
        for bad in ["2025-02-30", "2025-2-1", "28/02/2025", "2025-02-28T10:00", "", "tomorrow"] {
            assert!(parse_date(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn like_patterns_escape_metacharacters() {
        assert_eq!(contains_pattern("50% off_now\\"), "%50\\% off\\_now\\\\%");
        let q = MoviesQuery { q: Some("  The MATRIX ".into()), genre: Some("Sci-Fi".into()), ..Default::default() };
        let s = q.parse().expect("valid");
        assert_eq!((s.title_pattern.as_deref(), s.genre.as_deref()), (Some("%the matrix%"), Some("sci-fi")));
    }

    #[test]
    fn movie_showtimes_take_at_most_one_scope() {
        let q = MovieShowtimesQuery {
            theater_id: Some("not-a-uuid".into()),
            date: Some("2025-13-01".into()),
            ..Default::default()
        };
        let errors = fields(q.parse().expect_err("refused"));
        assert_eq!(errors, ["query.date", "query.theaterId"]);
        let q = MovieShowtimesQuery {
            theater_id: Some(uuid::Uuid::nil().to_string()),
            city: Some("Boston".into()),
            ..Default::default()
        };
        assert_eq!(fields(q.parse().expect_err("refused")), ["query.theaterId"]);
        let q = MovieShowtimesQuery::default();
        assert_eq!(q.parse().expect("valid").scope, ShowtimeScope::Everywhere);
    }
}
