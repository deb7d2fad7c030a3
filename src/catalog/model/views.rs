//! What the catalog routes answer, as serializable values (JSON in camelCase). Times are RFC 3339 with the
//! theater's local UTC offset (`2025-06-01T19:30:00-04:00`), and each place with times also names the IANA zone,
//! so a client can both show the local time as is and compute in the zone.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};

use super::{CityId, MovieId, Prices, ShowtimeId, ShowtimeStatus, TheaterId};
use crate::db::Region;

/// `instant` shown at the UTC offset `offset_secs` (an out-of-range offset, which no time zone has, shows UTC).
pub fn at_offset(instant: OffsetDateTime, offset_secs: i32) -> OffsetDateTime {
    instant.to_offset(UtcOffset::from_whole_seconds(offset_secs).unwrap_or(UtcOffset::UTC))
}

/// A theater in a list or on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Theater {
    /// Id.
    pub id: TheaterId,
    /// Display name.
    pub name: String,
    /// Street address.
    pub address: String,
    /// ZIP or postal code.
    pub zip: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Number of screens.
    pub number_of_screens: i32,
    /// Its city.
    pub city_id: CityId,
    /// City name, e.g. `Montréal`.
    pub city: String,
    /// State or province code: what tells two cities of one name apart.
    pub state: String,
    /// ISO country code.
    pub country: String,
    /// IANA time zone of the city.
    pub time_zone: String,
    /// The region its data lives in.
    #[schema(value_type = String, example = "us-east")]
    pub region: Region,
    /// Distance from the searched position or ZIP centroid, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub distance_km: Option<f64>,
}

/// A city suggested for what a person is typing (`GET /cities`): enough to show it and to search its theaters
/// (`GET /theaters?city={name}&state={state}&country={country}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CitySuggestion {
    /// Id.
    pub id: CityId,
    /// Display name, with its accents (`Montréal`).
    pub name: String,
    /// State or province code.
    pub state: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// A screen of a theater.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScreenSummary {
    /// Number in the theater.
    pub number: i32,
    /// Display name.
    pub name: String,
    /// Seats in its layout.
    pub seats: i64,
}

/// `GET /theaters/{id}`: a theater with its screens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TheaterDetail {
    /// The theater.
    #[serde(flatten)]
    pub theater: Theater,
    /// Its screens by number.
    pub screens: Vec<ScreenSummary>,
}

/// A movie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Movie {
    /// Id.
    pub id: MovieId,
    /// Title.
    pub title: String,
    /// Running time in minutes.
    pub duration_min: i32,
    /// Genre.
    pub genre: String,
    /// MPA rating.
    pub rating: String,
    /// Synopsis.
    pub description: String,
    /// Release date, `YYYY-MM-DD`.
    #[serde(with = "optional_date", default)]
    #[schema(value_type = Option<String>, format = Date, example = "1985-07-03")]
    pub release_date: Option<Date>,
}

/// A showtime in a list: when, where, and how many seats are left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShowtimeSummary {
    /// Id.
    pub id: ShowtimeId,
    /// The movie.
    pub movie_id: MovieId,
    /// The screen.
    pub screen_number: i32,
    /// Start, with the theater's local offset.
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    /// End, with the theater's local offset.
    #[serde(with = "time::serde::rfc3339")]
    pub end_time: OffsetDateTime,
    /// Seats available now (as of the seat cache: a few seconds old at most).
    pub seats_available: usize,
    /// Seats of the screen.
    pub seats_total: usize,
}

/// `GET /theaters/{id}/movies` item: a movie with its showtimes at that theater.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MovieShowtimes {
    /// The movie.
    #[serde(flatten)]
    pub movie: Movie,
    /// Its upcoming showtimes at the theater, by start.
    pub showtimes: Vec<ShowtimeSummary>,
}

/// `GET /movies/{id}/showtimes` item: a theater with the movie's showtimes there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TheaterShowtimes {
    /// The theater.
    pub theater: Theater,
    /// The movie's upcoming showtimes there, by start.
    pub showtimes: Vec<ShowtimeSummary>,
}

/// The theater of a showtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShowtimeTheater {
    /// Id.
    pub id: TheaterId,
    /// Name.
    pub name: String,
    /// City.
    pub city: String,
    /// State or province.
    pub state: String,
    /// Country.
    pub country: String,
}

/// The movie of a showtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShowtimeMovie {
    /// Id.
    pub id: MovieId,
    /// Title.
    pub title: String,
    /// Running time in minutes.
    pub duration_min: i32,
    /// MPA rating.
    pub rating: String,
}

/// The screen of a showtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShowtimeScreen {
    /// Number.
    pub number: i32,
    /// Name.
    pub name: String,
}

/// `GET /showtimes/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShowtimeDetail {
    /// Id.
    pub id: ShowtimeId,
    /// `scheduled`, `canceled`, or `started` (a scheduled showtime whose start time has passed).
    pub status: ShowtimeStatus,
    /// The region its bookings live in.
    #[schema(value_type = String, example = "us-east")]
    pub region: Region,
    /// Where.
    pub theater: ShowtimeTheater,
    /// What.
    pub movie: ShowtimeMovie,
    /// Which screen.
    pub screen: ShowtimeScreen,
    /// Start, with the theater's local offset.
    #[serde(with = "time::serde::rfc3339")]
    pub start_time: OffsetDateTime,
    /// End, with the theater's local offset.
    #[serde(with = "time::serde::rfc3339")]
    pub end_time: OffsetDateTime,
    /// IANA time zone of the theater.
    pub time_zone: String,
    /// Currency of the prices.
    pub currency: String,
    /// Price per seat kind, minor units.
    pub prices: Prices,
}

/// `YYYY-MM-DD` for optional dates.
mod optional_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::macros::format_description;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => s.serialize_str(&d.format(FORMAT).map_err(serde::ser::Error::custom)?),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let raw = Option::<String>::deserialize(d)?;
        raw.map(|r| Date::parse(&r, FORMAT).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn times_show_the_local_offset() {
        let t = at_offset(datetime!(2025-06-01 23:30 UTC), -4 * 3600);
        assert_eq!(
            t.format(&time::format_description::well_known::Rfc3339).expect("formats"),
            "2025-06-01T19:30:00-04:00"
        );
        assert_eq!(at_offset(datetime!(2025-06-01 23:30 UTC), 999_999).offset(), UtcOffset::UTC);
    }

    #[test]
    fn movies_serialize_their_release_date_as_a_calendar_date() {
        let m = Movie {
            id: MovieId(uuid::Uuid::nil()),
            title: "Amélie".into(),
            duration_min: 122,
            genre: "Comedy".into(),
            rating: "R".into(),
            description: String::new(),
            release_date: Some(date!(2001 - 04 - 25)),
        };
        let json = serde_json::to_value(&m).expect("serializes");
        assert_eq!(json["releaseDate"], "2001-04-25");
        assert_eq!(json["durationMin"], 122);
        assert_eq!(serde_json::from_value::<Movie>(json).expect("round trip"), m);
    }
}
