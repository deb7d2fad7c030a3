//! Catalog SQL: every statement of `sql/queries/catalog/`, bound with typed values, rows turned into views.
//!
//! Read functions take any client (the read pool for catalog reads; the primary for availability and for the
//! fall-back of by-id lookups). The admin writes are whole transactions run through [`db::retry()`]: they return a
//! [`AdminError`] for business answers, which the routes turn into problems.

use deadpool_postgres::ClientWrapper;
use futures_util::future::try_join_all;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::model::geo::{BoundingBox, Position, RadiusKm};
use super::model::input::{MovieSpec, ScreenSpec, ShowtimeSpec, TheaterSpec};
use super::model::params::{CityFilter, CitySuggest, LocalWindow, MovieSearch, ZipFilter};
use super::model::seatmap::{LayoutSeat, ScreenKey, SeatLayout, SeatMapHead, ShowtimeKey};
use super::model::views::{
    CitySuggestion, Movie, ScreenSummary, ShowtimeDetail, ShowtimeMovie, ShowtimeScreen, ShowtimeTheater, Theater,
    at_offset,
};
use super::model::{CityId, MovieId, Prices, ShowtimeId, ShowtimeStatus, TheaterId};
use crate::db::{self, Db, Region, RetryError, TxError, queries::catalog as q};

type DbResult<T> = Result<T, tokio_postgres::Error>;

/// A city matched by name.
#[derive(Debug, Clone, PartialEq)]
pub struct CityRow {
    /// Id.
    pub id: CityId,
    /// Its region.
    pub region: Region,
    /// Display name.
    pub name: String,
    /// State or province.
    pub state: String,
    /// Country.
    pub country: String,
}

/// The cities named as `filter` says (several for an ambiguous name without state).
///
/// # Errors
/// Database errors.
pub async fn cities_by_name(c: &ClientWrapper, filter: &CityFilter) -> DbResult<Vec<CityRow>> {
    let stmt = c.prepare_cached(q::CITIES_BY_NAME).await?;
    let rows = c.query(&stmt, &[&filter.key, &filter.state, &filter.country]).await?;
    rows.iter()
        .map(|r| {
            Ok(CityRow {
                id: r.try_get("id")?,
                region: r.try_get("region")?,
                name: r.try_get("name")?,
                state: r.try_get("state")?,
                country: r.try_get("country")?,
            })
        })
        .collect()
}

/// City suggestions for a typed prefix (`search.prefix_pattern`), by name.
///
/// # Errors
/// Database errors.
pub async fn cities_by_prefix(c: &ClientWrapper, search: &CitySuggest) -> DbResult<Vec<CitySuggestion>> {
    let stmt = c.prepare_cached(q::CITIES_BY_PREFIX).await?;
    let rows = c.query(&stmt, &[&search.prefix_pattern, &search.limit]).await?;
    rows.iter()
        .map(|r| {
            Ok(CitySuggestion {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                state: r.try_get("state")?,
                country: r.try_get("country")?,
            })
        })
        .collect()
}

/// The centroids of a ZIP code: one per country it exists in (at most two are returned: two mean "ambiguous").
///
/// # Errors
/// Database errors.
pub async fn zip_centroids(c: &ClientWrapper, filter: &ZipFilter) -> DbResult<Vec<(String, Position)>> {
    let stmt = c.prepare_cached(q::ZIP_CENTROID).await?;
    let rows = c.query(&stmt, &[&filter.zip, &filter.country]).await?;
    rows.iter()
        .map(|r| {
            // The cities/zip CHECK constraints keep coordinates in range; clamp rather than fail if one is not.
            let (lat, lon): (f64, f64) = (r.try_get("lat")?, r.try_get("lon")?);
            Ok((r.try_get("country")?, Position { lat: lat.clamp(-90.0, 90.0), lon: lon.clamp(-180.0, 180.0) }))
        })
        .collect()
}

fn theater_from_row(r: &Row) -> DbResult<Theater> {
    Ok(Theater {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        address: r.try_get("address")?,
        zip: r.try_get("zip")?,
        lat: r.try_get("lat")?,
        lon: r.try_get("lon")?,
        number_of_screens: r.try_get("number_of_screens")?,
        city_id: r.try_get("city_id")?,
        city: r.try_get("city")?,
        state: r.try_get("state")?,
        country: r.try_get("country")?,
        time_zone: r.try_get("time_zone")?,
        region: r.try_get("region")?,
        distance_km: r.try_get("distance_km")?,
    })
}

fn theaters_from_rows(rows: &[Row]) -> DbResult<Vec<Theater>> {
    rows.iter().map(theater_from_row).collect()
}

/// A page of the theaters of `cities` by (name, id) after `after`, `fetch` rows at most.
///
/// # Errors
/// Database errors.
pub async fn theaters_in_cities(
    c: &ClientWrapper,
    cities: &[CityId],
    after: Option<(&str, Uuid)>,
    fetch: i64,
) -> DbResult<Vec<Theater>> {
    let stmt = c.prepare_cached(q::THEATERS_IN_CITIES).await?;
    let (name, id) = after.unzip();
    let rows = c.query(&stmt, &[&cities, &name, &id, &fetch]).await?;
    theaters_from_rows(&rows)
}

/// A page of the theaters within `radius` of `centre`, nearest first, after `after` = (km, id), `fetch` rows.
///
/// # Errors
/// Database errors.
pub async fn theaters_near(
    c: &ClientWrapper,
    centre: Position,
    radius: RadiusKm,
    after: Option<(f64, Uuid)>,
    fetch: i64,
) -> DbResult<Vec<Theater>> {
    let b = BoundingBox::around(centre, radius);
    let stmt = c.prepare_cached(q::THEATERS_NEAR).await?;
    let (km, id) = after.unzip();
    let rows = c
        .query(
            &stmt,
            &[
                &centre.lat,
                &centre.lon,
                &b.lat_min,
                &b.lat_max,
                &b.lon_a.0,
                &b.lon_a.1,
                &b.lon_b.0,
                &b.lon_b.1,
                &radius.km(),
                &km,
                &id,
                &fetch,
            ],
        )
        .await?;
    theaters_from_rows(&rows)
}

/// The theater `id`.
///
/// # Errors
/// Database errors.
pub async fn theater_by_id(c: &ClientWrapper, id: TheaterId) -> DbResult<Option<Theater>> {
    let stmt = c.prepare_cached(q::THEATER_BY_ID).await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(theater_from_row).transpose()
}

/// The screens of a theater with their seat counts.
///
/// # Errors
/// Database errors.
pub async fn theater_screens(c: &ClientWrapper, region: &Region, id: TheaterId) -> DbResult<Vec<ScreenSummary>> {
    let stmt = c.prepare_cached(q::THEATER_SCREENS).await?;
    let rows = c.query(&stmt, &[region, &id]).await?;
    rows.iter()
        .map(|r| {
            Ok(ScreenSummary {
                number: r.try_get("screen_number")?,
                name: r.try_get("name")?,
                seats: r.try_get("seats")?,
            })
        })
        .collect()
}

fn movie_from_row(r: &Row) -> DbResult<Movie> {
    Ok(Movie {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        duration_min: r.try_get("duration_min")?,
        genre: r.try_get("genre")?,
        rating: r.try_get("rating")?,
        description: r.try_get("description")?,
        release_date: r.try_get("release_date")?,
    })
}

/// A page of the movies with upcoming showtimes at `theater` within `window`, by (title, id) after `after`.
///
/// # Errors
/// Database errors.
pub async fn theater_movies(
    c: &ClientWrapper,
    theater: &Theater,
    window: LocalWindow,
    after: Option<(&str, Uuid)>,
    fetch: i64,
) -> DbResult<Vec<Movie>> {
    let stmt = c.prepare_cached(q::THEATER_MOVIES).await?;
    let (title, id) = after.unzip();
    let rows = c
        .query(
            &stmt,
            &[&theater.region, &theater.id, &window.start, &window.end, &theater.time_zone, &title, &id, &fetch],
        )
        .await?;
    rows.iter().map(movie_from_row).collect()
}

/// A showtime in a list, before its availability is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowtimeRow {
    /// Region and id.
    pub key: ShowtimeKey,
    /// Theater.
    pub theater_id: TheaterId,
    /// Movie.
    pub movie_id: MovieId,
    /// Screen.
    pub screen_number: i32,
    /// Start at the local offset.
    pub start: OffsetDateTime,
    /// End at the local offset.
    pub end: OffsetDateTime,
}

impl ShowtimeRow {
    /// The key of its screen's layout.
    pub fn screen(&self) -> ScreenKey {
        ScreenKey { region: self.key.region.clone(), theater_id: self.theater_id, screen_number: self.screen_number }
    }
}

fn showtime_row(r: &Row) -> DbResult<ShowtimeRow> {
    Ok(ShowtimeRow {
        key: ShowtimeKey { region: r.try_get("region")?, id: r.try_get("id")? },
        theater_id: r.try_get("theater_id")?,
        movie_id: r.try_get("movie_id")?,
        screen_number: r.try_get("screen_number")?,
        start: at_offset(r.try_get("start_time")?, r.try_get("start_offset")?),
        end: at_offset(r.try_get("end_time")?, r.try_get("end_offset")?),
    })
}

/// The upcoming showtimes at `theater` of `movies` within `window`, by start.
///
/// # Errors
/// Database errors.
pub async fn theater_showtimes(
    c: &ClientWrapper,
    theater: &Theater,
    movies: &[MovieId],
    window: LocalWindow,
) -> DbResult<Vec<ShowtimeRow>> {
    let stmt = c.prepare_cached(q::THEATER_SHOWTIMES).await?;
    let rows = c
        .query(&stmt, &[&theater.region, &theater.id, &movies, &window.start, &window.end, &theater.time_zone])
        .await?;
    rows.iter().map(showtime_row).collect()
}

/// A page of movies matching `search` (with `cities` resolved from its city filter), by (title, id).
///
/// # Errors
/// Database errors.
pub async fn movies_search(c: &ClientWrapper, search: &MovieSearch, cities: Option<&[CityId]>) -> DbResult<Vec<Movie>> {
    let stmt = c.prepare_cached(q::MOVIES_SEARCH).await?;
    let (title, id) = search.after.clone().unzip();
    let rows =
        c.query(&stmt, &[&search.title_pattern, &search.genre, &cities, &title, &id, &search.limit.fetch()]).await?;
    rows.iter().map(movie_from_row).collect()
}

/// The movie `id`.
///
/// # Errors
/// Database errors.
pub async fn movie_by_id(c: &ClientWrapper, id: MovieId) -> DbResult<Option<Movie>> {
    let stmt = c.prepare_cached(q::MOVIE_BY_ID).await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(movie_from_row).transpose()
}

/// A page of the theaters showing `movie` within `window`, by (name, id), optionally only in `cities` or only
/// `theater`.
///
/// # Errors
/// Database errors.
pub async fn movie_theaters_by_name(
    c: &ClientWrapper,
    movie: MovieId,
    cities: Option<&[CityId]>,
    theater: Option<TheaterId>,
    window: LocalWindow,
    after: Option<(&str, Uuid)>,
    fetch: i64,
) -> DbResult<Vec<Theater>> {
    let stmt = c.prepare_cached(q::MOVIE_THEATERS_BY_NAME).await?;
    let (name, id) = after.unzip();
    let rows = c.query(&stmt, &[&movie, &cities, &theater, &window.start, &window.end, &name, &id, &fetch]).await?;
    theaters_from_rows(&rows)
}

/// A page of the theaters within `radius` of `centre` showing `movie` within `window`, nearest first.
///
/// # Errors
/// Database errors.
pub async fn movie_theaters_near(
    c: &ClientWrapper,
    movie: MovieId,
    centre: Position,
    radius: RadiusKm,
    window: LocalWindow,
    after: Option<(f64, Uuid)>,
    fetch: i64,
) -> DbResult<Vec<Theater>> {
    let b = BoundingBox::around(centre, radius);
    let stmt = c.prepare_cached(q::MOVIE_THEATERS_NEAR).await?;
    let (km, id) = after.unzip();
    let rows = c
        .query(
            &stmt,
            &[
                &centre.lat,
                &centre.lon,
                &b.lat_min,
                &b.lat_max,
                &b.lon_a.0,
                &b.lon_a.1,
                &b.lon_b.0,
                &b.lon_b.1,
                &radius.km(),
                &km,
                &id,
                &fetch,
                &movie,
                &window.start,
                &window.end,
            ],
        )
        .await?;
    theaters_from_rows(&rows)
}

/// The upcoming showtimes of `movie` at `theaters` within `window`, by theater then start.
///
/// # Errors
/// Database errors.
pub async fn movie_showtimes_at(
    c: &ClientWrapper,
    movie: MovieId,
    theaters: &[TheaterId],
    window: LocalWindow,
) -> DbResult<Vec<ShowtimeRow>> {
    let stmt = c.prepare_cached(q::MOVIE_SHOWTIMES_AT).await?;
    let rows = c.query(&stmt, &[&movie, &theaters, &window.start, &window.end]).await?;
    rows.iter().map(showtime_row).collect()
}

/// A showtime with everything its page and its seat map show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowtimeRecord {
    /// `GET /showtimes/{id}`.
    pub detail: ShowtimeDetail,
    /// Its screen (the layout's key).
    pub screen: ScreenKey,
}

impl ShowtimeRecord {
    /// Region and id.
    pub fn key(&self) -> ShowtimeKey {
        ShowtimeKey { region: self.detail.region.clone(), id: self.detail.id }
    }

    /// What its seat map says besides availability.
    pub fn seat_map_head(&self) -> SeatMapHead {
        SeatMapHead {
            showtime_id: self.detail.id,
            theater_id: self.detail.theater.id,
            screen_number: self.detail.screen.number,
            status: self.detail.status,
            currency: self.detail.currency.clone(),
            prices: self.detail.prices,
        }
    }
}

fn prices_from_row(r: &Row) -> DbResult<Prices> {
    Ok(Prices {
        standard: r.try_get("price_standard")?,
        premium: r.try_get("price_premium")?,
        accessible: r.try_get("price_accessible")?,
        companion: r.try_get("price_companion")?,
    })
}

fn status_from_row(r: &Row) -> DbResult<ShowtimeStatus> {
    let status: String = r.try_get("status")?;
    // showtimes_status_check admits only the two values; an unknown one would be a newer schema: read it as canceled,
    // the state that sells nothing.
    Ok(status.parse().unwrap_or(ShowtimeStatus::Canceled))
}

/// The showtime `id`.
///
/// # Errors
/// Database errors.
pub async fn showtime_by_id(c: &ClientWrapper, id: ShowtimeId) -> DbResult<Option<ShowtimeRecord>> {
    let stmt = c.prepare_cached(q::SHOWTIME_BY_ID).await?;
    let Some(r) = c.query_opt(&stmt, &[&id]).await? else { return Ok(None) };
    let region: Region = r.try_get("region")?;
    let theater_id: TheaterId = r.try_get("theater_id")?;
    let screen_number: i32 = r.try_get("screen_number")?;
    let detail = ShowtimeDetail {
        id: r.try_get("id")?,
        status: status_from_row(&r)?,
        region: region.clone(),
        theater: ShowtimeTheater {
            id: theater_id,
            name: r.try_get("theater_name")?,
            city: r.try_get("city")?,
            state: r.try_get("state")?,
            country: r.try_get("country")?,
        },
        movie: ShowtimeMovie {
            id: r.try_get("movie_id")?,
            title: r.try_get("title")?,
            duration_min: r.try_get("duration_min")?,
            rating: r.try_get("rating")?,
        },
        screen: ShowtimeScreen { number: screen_number, name: r.try_get("screen_name")? },
        start_time: at_offset(r.try_get("start_time")?, r.try_get("start_offset")?),
        end_time: at_offset(r.try_get("end_time")?, r.try_get("end_offset")?),
        time_zone: r.try_get("time_zone")?,
        currency: r.try_get("currency")?,
        prices: prices_from_row(&r)?,
    };
    Ok(Some(ShowtimeRecord { detail, screen: ScreenKey { region, theater_id, screen_number } }))
}

/// Why a stored layout could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    /// The rows do not make a layout (no seats: not visible yet on a follower read, or a screen being replaced).
    #[error("screen {0:?}: {1}")]
    Invalid(ScreenKey, String),
}

async fn seats_of(c: &ClientWrapper, stmt: &tokio_postgres::Statement, key: &ScreenKey) -> DbResult<Vec<LayoutSeat>> {
    let rows = c.query(stmt, &[&key.region, &key.theater_id, &key.screen_number]).await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(LayoutSeat {
                label: r.try_get("seat_label")?,
                row: r.try_get("row_label")?,
                number: r.try_get("number")?,
                // seats_kind_check admits only the four kinds.
                kind: kind.parse().unwrap_or(super::model::SeatKind::Standard),
                x: r.try_get("grid_x")?,
                y: r.try_get("grid_y")?,
            })
        })
        .collect()
}

/// The layouts of `screens`, in order: one statement per screen, pipelined on the one connection.
///
/// # Errors
/// Database errors, or a screen without a valid layout.
pub async fn screen_layouts(c: &ClientWrapper, screens: &[ScreenKey]) -> Result<Vec<SeatLayout>, LayoutError> {
    let stmt = c.prepare_cached(q::SCREEN_LAYOUT).await?;
    let seats = try_join_all(screens.iter().map(|key| seats_of(c, &stmt, key))).await?;
    seats
        .into_iter()
        .zip(screens)
        .map(|(seats, key)| SeatLayout::new(seats).map_err(|e| LayoutError::Invalid(key.clone(), e)))
        .collect()
}

/// A live claim: (showtime, seat label, milliseconds until its hold lapses or `None` when paid).
pub type Claim = (ShowtimeId, String, Option<i64>);

/// The live claims of `showtimes`. Call it on the primary.
///
/// # Errors
/// Database errors.
pub async fn live_claims(c: &ClientWrapper, showtimes: &[ShowtimeKey]) -> DbResult<Vec<Claim>> {
    let stmt = c.prepare_cached(q::LIVE_CLAIMS).await?;
    let mut regions: Vec<&Region> = showtimes.iter().map(|k| &k.region).collect();
    regions.sort();
    regions.dedup();
    let ids: Vec<ShowtimeId> = showtimes.iter().map(|k| k.id).collect();
    let rows = c.query(&stmt, &[&regions, &ids]).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("showtime_id")?, r.try_get("seat_label")?, r.try_get("expires_in_ms")?)))
        .collect()
}

// ----------------------------------------------------------------------------------------------------------------
// Admin writes

/// A business answer of an admin write (the transaction is rolled back).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The body names a city that does not exist.
    #[error("city {0} does not exist")]
    UnknownCity(CityId),
    /// The body names a movie that does not exist.
    #[error("movie {0} does not exist")]
    UnknownMovie(MovieId),
    /// The body names a theater, or a screen of it, that does not exist.
    #[error("theater {0} has no screen {1}")]
    UnknownScreen(TheaterId, i32),
    /// The theater of the path does not exist.
    #[error("theater {0}")]
    TheaterNotFound(TheaterId),
    /// The movie of the path does not exist.
    #[error("movie {0}")]
    MovieNotFound(MovieId),
    /// The showtime of the path does not exist.
    #[error("showtime {0}")]
    ShowtimeNotFound(ShowtimeId),
    /// The showtime is canceled and cannot change any more.
    #[error("showtime {0} is canceled")]
    ShowtimeCanceled(ShowtimeId),
    /// Another scheduled showtime occupies the screen at that time.
    #[error("showtime overlaps showtime {0} on the same screen")]
    Overlap(ShowtimeId),
    /// The screen has showtimes: its layout is frozen and it cannot be removed.
    #[error("screen {0} has showtimes")]
    ScreenInUse(i32),
    /// The derived end time (start + the movie's duration) is invalid.
    #[error("invalid end time: {0}")]
    InvalidEnd(String),
}

type AdminResult<T> = Result<T, RetryError<AdminError>>;

async fn insert_layout(c: &ClientWrapper, region: &Region, theater: Uuid, screen: &ScreenSpec) -> DbResult<()> {
    let stmt = c.prepare_cached(q::INSERT_SEATS).await?;
    let seats = screen.layout.seats();
    let labels: Vec<&str> = seats.iter().map(|s| s.label.as_str()).collect();
    let rows: Vec<&str> = seats.iter().map(|s| s.row.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.number).collect();
    let kinds: Vec<&str> = seats.iter().map(|s| s.kind.as_str()).collect();
    let xs: Vec<i32> = seats.iter().map(|s| s.x).collect();
    let ys: Vec<i32> = seats.iter().map(|s| s.y).collect();
    c.execute(&stmt, &[region, &theater, &screen.number, &labels, &rows, &numbers, &kinds, &xs, &ys]).await?;
    Ok(())
}

async fn insert_screen(c: &ClientWrapper, region: &Region, theater: Uuid, screen: &ScreenSpec) -> DbResult<()> {
    let stmt = c.prepare_cached(q::INSERT_SCREEN).await?;
    c.execute(&stmt, &[region, &theater, &screen.number, &screen.name]).await?;
    insert_layout(c, region, theater, screen).await
}

fn screen_count(spec: &TheaterSpec) -> i32 {
    // At most MAX_SCREENS (50): fits.
    spec.screens.len() as i32
}

/// Creates a theater with its screens and layouts in its city's region; returns its id.
///
/// # Errors
/// `UnknownCity`; database errors.
pub async fn create_theater(db: &Db, city: CityId, spec: &TheaterSpec) -> AdminResult<TheaterId> {
    db::retry(db, "create_theater", |tx| async move {
        let stmt = tx.prepare_cached(q::CITY_REGION).await?;
        let Some(row) = tx.query_opt(&stmt, &[&city]).await? else {
            return Err(TxError::Abort(AdminError::UnknownCity(city)));
        };
        let region: Region = row.try_get("region")?;
        let stmt = tx.prepare_cached(q::INSERT_THEATER).await?;
        let row = tx
            .query_one(
                &stmt,
                &[
                    &region,
                    &city,
                    &spec.name,
                    &spec.address,
                    &spec.zip,
                    &spec.position.lat,
                    &spec.position.lon,
                    &screen_count(spec),
                ],
            )
            .await?;
        let id: Uuid = row.try_get("id")?;
        for screen in &spec.screens {
            insert_screen(&tx, &region, id, screen).await?;
        }
        Ok(TheaterId(id))
    })
    .await
}

/// Replaces a theater's details and screens: new screens are added, missing ones removed, renamed ones renamed,
/// and changed layouts replaced, but a screen with showtimes can be neither removed nor re-laid out (its layout is
/// frozen: availability bitmaps and bookings refer to its seats). Returns the theater's region.
///
/// # Errors
/// `TheaterNotFound`, `ScreenInUse`; database errors.
pub async fn update_theater(db: &Db, id: TheaterId, spec: &TheaterSpec) -> AdminResult<Region> {
    db::retry(db, "update_theater", |tx| async move {
        let stmt = tx.prepare_cached(q::THEATER_KEY).await?;
        let Some(row) = tx.query_opt(&stmt, &[&id]).await? else {
            return Err(TxError::Abort(AdminError::TheaterNotFound(id)));
        };
        let region: Region = row.try_get("region")?;
        let stmt = tx.prepare_cached(q::SCREENS_IN_USE).await?;
        let existing: Vec<(i32, String, bool)> = tx
            .query(&stmt, &[&region, &id])
            .await?
            .iter()
            .map(|r| Ok((r.try_get("screen_number")?, r.try_get("name")?, r.try_get("in_use")?)))
            .collect::<DbResult<_>>()?;
        let keys: Vec<ScreenKey> = existing
            .iter()
            .map(|(n, _, _)| ScreenKey { region: region.clone(), theater_id: id, screen_number: *n })
            .collect();
        let stmt = tx.prepare_cached(q::SCREEN_LAYOUT).await?;
        let mut old_layouts = Vec::with_capacity(keys.len());
        for key in &keys {
            old_layouts.push(SeatLayout::new(seats_of(&tx, &stmt, key).await?).ok());
        }
        // Removed screens.
        for (number, _, in_use) in &existing {
            if !spec.screens.iter().any(|s| s.number == *number) {
                if *in_use {
                    return Err(TxError::Abort(AdminError::ScreenInUse(*number)));
                }
                for sql in [q::DELETE_SCREEN_SEATS, q::DELETE_SCREEN] {
                    let stmt = tx.prepare_cached(sql).await?;
                    tx.execute(&stmt, &[&region, &id, number]).await?;
                }
            }
        }
        for screen in &spec.screens {
            let Some(i) = existing.iter().position(|(n, _, _)| *n == screen.number) else {
                insert_screen(&tx, &region, id.0, screen).await?;
                continue;
            };
            let (_, name, in_use) = &existing[i];
            if old_layouts[i].as_ref() != Some(&screen.layout) {
                if *in_use {
                    return Err(TxError::Abort(AdminError::ScreenInUse(screen.number)));
                }
                let stmt = tx.prepare_cached(q::DELETE_SCREEN_SEATS).await?;
                tx.execute(&stmt, &[&region, &id, &screen.number]).await?;
                insert_layout(&tx, &region, id.0, screen).await?;
            }
            if *name != screen.name {
                let stmt = tx.prepare_cached(q::RENAME_SCREEN).await?;
                tx.execute(&stmt, &[&region, &id, &screen.number, &screen.name]).await?;
            }
        }
        let stmt = tx.prepare_cached(q::UPDATE_THEATER).await?;
        tx.execute(
            &stmt,
            &[
                &region,
                &id,
                &spec.name,
                &spec.address,
                &spec.zip,
                &spec.position.lat,
                &spec.position.lon,
                &screen_count(spec),
            ],
        )
        .await?;
        Ok(region)
    })
    .await
}

/// Creates a movie.
///
/// # Errors
/// Database errors.
pub async fn create_movie(db: &Db, spec: &MovieSpec) -> AdminResult<Movie> {
    db::retry(db, "create_movie", |tx| async move {
        let stmt = tx.prepare_cached(q::INSERT_MOVIE).await?;
        let row = tx
            .query_one(
                &stmt,
                &[
                    &spec.title,
                    &spec.search_title,
                    &spec.duration_min,
                    &spec.genre,
                    &spec.rating,
                    &spec.description,
                    &spec.release_date,
                ],
            )
            .await?;
        Ok(movie_from_row(&row)?)
    })
    .await
}

/// Updates a movie.
///
/// # Errors
/// `MovieNotFound`; database errors.
pub async fn update_movie(db: &Db, id: MovieId, spec: &MovieSpec) -> AdminResult<Movie> {
    db::retry(db, "update_movie", |tx| async move {
        let stmt = tx.prepare_cached(q::UPDATE_MOVIE).await?;
        let row = tx
            .query_opt(
                &stmt,
                &[
                    &id,
                    &spec.title,
                    &spec.search_title,
                    &spec.duration_min,
                    &spec.genre,
                    &spec.rating,
                    &spec.description,
                    &spec.release_date,
                ],
            )
            .await?;
        match row {
            Some(row) => Ok(movie_from_row(&row)?),
            None => Err(TxError::Abort(AdminError::MovieNotFound(id))),
        }
    })
    .await
}

/// The end of a showtime: as given, or start + the movie's duration (which must exist), checked like a given end.
async fn schedule_end(c: &ClientWrapper, spec: &ShowtimeSpec) -> Result<OffsetDateTime, TxError<AdminError>> {
    let stmt = c.prepare_cached(q::MOVIE_DURATION).await?;
    let Some(row) = c.query_opt(&stmt, &[&spec.movie_id]).await? else {
        return Err(TxError::Abort(AdminError::UnknownMovie(spec.movie_id)));
    };
    let end = spec.end_or(row.try_get("duration_min")?);
    if end <= spec.start || end - spec.start > super::model::input::MAX_SHOWTIME {
        return Err(TxError::Abort(AdminError::InvalidEnd("must be after startTime, by 12 hours at most".into())));
    }
    Ok(end)
}

async fn check_overlap(
    c: &ClientWrapper,
    screen: &ScreenKey,
    start: OffsetDateTime,
    end: OffsetDateTime,
    except: Option<ShowtimeId>,
) -> Result<(), TxError<AdminError>> {
    let stmt = c.prepare_cached(q::SHOWTIME_OVERLAPS).await?;
    let row =
        c.query_opt(&stmt, &[&screen.region, &screen.theater_id, &screen.screen_number, &start, &end, &except]).await?;
    match row {
        Some(row) => Err(TxError::Abort(AdminError::Overlap(row.try_get("id")?))),
        None => Ok(()),
    }
}

/// Creates a showtime on screen `screen_number` of `theater`, in the theater's region, unless it overlaps another
/// scheduled showtime of that screen: check and insert in one SERIALIZABLE transaction, so two concurrent creators
/// cannot both succeed. Returns its id.
///
/// # Errors
/// `UnknownScreen`, `UnknownMovie`, `InvalidEnd`, `Overlap`; database errors.
pub async fn create_showtime(
    db: &Db,
    theater: TheaterId,
    screen_number: i32,
    spec: &ShowtimeSpec,
) -> AdminResult<ShowtimeId> {
    db::retry(db, "create_showtime", |tx| async move {
        let stmt = tx.prepare_cached(q::SCREEN_OF_THEATER).await?;
        let Some(row) = tx.query_opt(&stmt, &[&theater, &screen_number]).await? else {
            return Err(TxError::Abort(AdminError::UnknownScreen(theater, screen_number)));
        };
        let screen = ScreenKey { region: row.try_get("region")?, theater_id: theater, screen_number };
        let end = schedule_end(&tx, spec).await?;
        check_overlap(&tx, &screen, spec.start, end, None).await?;
        let p = &spec.prices;
        let stmt = tx.prepare_cached(q::INSERT_SHOWTIME).await?;
        let row = tx
            .query_one(
                &stmt,
                &[
                    &screen.region,
                    &theater,
                    &screen_number,
                    &spec.movie_id,
                    &spec.start,
                    &end,
                    &p.standard,
                    &p.premium,
                    &p.accessible,
                    &p.companion,
                    &spec.currency,
                ],
            )
            .await?;
        Ok(ShowtimeId(row.try_get("id")?))
    })
    .await
}

async fn showtime_screen(
    c: &ClientWrapper,
    id: ShowtimeId,
) -> Result<(ScreenKey, ShowtimeStatus), TxError<AdminError>> {
    let stmt = c.prepare_cached(q::SHOWTIME_KEY).await?;
    let Some(row) = c.query_opt(&stmt, &[&id]).await? else {
        return Err(TxError::Abort(AdminError::ShowtimeNotFound(id)));
    };
    let status = status_from_row(&row)?;
    let key = ScreenKey {
        region: row.try_get("region")?,
        theater_id: row.try_get("theater_id")?,
        screen_number: row.try_get("screen_number")?,
    };
    Ok((key, status))
}

/// Reschedules or re-prices a scheduled showtime, with the same overlap rule as creation. Returns its region.
///
/// # Errors
/// `ShowtimeNotFound`, `ShowtimeCanceled`, `UnknownMovie`, `InvalidEnd`, `Overlap`; database errors.
pub async fn update_showtime(db: &Db, id: ShowtimeId, spec: &ShowtimeSpec) -> AdminResult<Region> {
    db::retry(db, "update_showtime", |tx| async move {
        let (screen, status) = showtime_screen(&tx, id).await?;
        if status == ShowtimeStatus::Canceled {
            return Err(TxError::Abort(AdminError::ShowtimeCanceled(id)));
        }
        let end = schedule_end(&tx, spec).await?;
        check_overlap(&tx, &screen, spec.start, end, Some(id)).await?;
        let p = &spec.prices;
        let stmt = tx.prepare_cached(q::UPDATE_SHOWTIME).await?;
        tx.execute(
            &stmt,
            &[
                &screen.region,
                &id,
                &spec.movie_id,
                &spec.start,
                &end,
                &p.standard,
                &p.premium,
                &p.accessible,
                &p.companion,
                &spec.currency,
            ],
        )
        .await?;
        Ok(screen.region)
    })
    .await
}

/// Cancels a showtime (idempotent: canceling a canceled showtime changes nothing) and records the cancellation of
/// its bookings in the same transaction (`cancellation/start.sql`: the booking side carries it out, see
/// `booking::service::showtime_cancel`). Returns its region.
///
/// # Errors
/// `ShowtimeNotFound`; database errors.
pub async fn cancel_showtime(db: &Db, id: ShowtimeId) -> AdminResult<Region> {
    db::retry(db, "cancel_showtime", |tx| async move {
        let (screen, status) = showtime_screen(&tx, id).await?;
        if status == ShowtimeStatus::Scheduled {
            let stmt = tx.prepare_cached(q::CANCEL_SHOWTIME).await?;
            tx.execute(&stmt, &[&screen.region, &id]).await?;
        }
        let stmt = tx.prepare_cached(crate::db::queries::cancellation::START).await?;
        tx.execute(&stmt, &[&screen.region, &id]).await?;
        Ok(screen.region)
    })
    .await
}
