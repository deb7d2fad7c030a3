//! Catalog handlers: parse, call the caches and the store, respond.
//!
//! Reads use the read pool (through the [`CatalogCaches`](super::CatalogCaches) where the data allows), availability
//! comes from the seat cache (Redis, rebuilt from the primary), admin writes are serializable transactions on the
//! primary followed by evictions of this pod's caches.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::CatalogState;
use super::model::geo::Position;
use super::model::input::{
    MovieBody, NewShowtimeBody, NewTheaterBody, ShowtimeUpdateBody, TheaterUpdateBody, end_error,
};
use super::model::page::{Limit, ListKind, Page, SortKey};
use super::model::params::{
    CitiesQuery, CityFilter, LocalWindow, MovieShowtimesQuery, MoviesQuery, Origin, ShowtimeScope, TheaterCriterion,
    TheaterMoviesQuery, TheatersQuery, ZipFilter,
};
use super::model::seatmap::{SeatLayout, SeatMapHead, SeatMapTemplate, ShowtimeKey, TakenSeats};
use super::model::views::{
    CitySuggestion, Movie, MovieShowtimes, ShowtimeDetail, ShowtimeSummary, Theater, TheaterDetail, TheaterShowtimes,
};
use super::model::{CityId, MovieId, ShowtimeId, ShowtimeStatus, TheaterId};
use super::store::{self, AdminError, ShowtimeRow};
use crate::auth::AdminUser;
use crate::db::Db;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// `Cache-Control` of seat maps: shared caches may reuse one for a second, the availability cache's own scale.
const SEAT_MAP_CACHE_CONTROL: &str = "public, max-age=1";

/// Parses a path id, naming the parameter when it is not a UUID.
fn path_id<T: std::str::FromStr>(raw: &str, name: &str) -> ApiResult<T> {
    raw.parse().map_err(|_| ApiError::invalid(format!("path.{name}"), format!("must be a UUID, got {raw:?}")))
}

fn json_body<T: Serialize>(value: &T) -> ApiResult<Bytes> {
    serde_json::to_vec(value).map(Bytes::from).map_err(ApiError::internal)
}

fn json_response(body: Bytes) -> Response {
    ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// The one centre of a ZIP code, or an empty answer when it is unknown.
///
/// # Errors
/// 400 `query.country` when the code exists in several countries and none was given.
async fn zip_centre(db: &Db, zip: &ZipFilter) -> ApiResult<Option<Position>> {
    let client = db.reader().await?;
    let found = store::zip_centroids(&client, zip).await?;
    match found.as_slice() {
        [] => Ok(None),
        [(_, centre)] => Ok(Some(*centre)),
        several => Err(ApiError::invalid(
            "query.country",
            format!(
                "ZIP {} exists in several countries ({}): give country",
                zip.zip,
                several.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

async fn city_ids(db: &Db, filter: &CityFilter) -> ApiResult<Vec<CityId>> {
    let client = db.reader().await?;
    Ok(store::cities_by_name(&client, filter).await?.into_iter().map(|c| c.id).collect())
}

async fn origin_centre(db: &Db, origin: &Origin) -> ApiResult<Option<Position>> {
    match origin {
        Origin::Position(p) => Ok(Some(*p)),
        Origin::Zip(zip) => zip_centre(db, zip).await,
    }
}

fn by_name(t: &Theater) -> SortKey {
    SortKey::Name { name: t.name.clone(), id: t.id.0 }
}

fn by_distance(t: &Theater) -> SortKey {
    SortKey::Distance { km_bits: t.distance_km.unwrap_or(0.0).to_bits(), id: t.id.0 }
}

fn empty<T>() -> Page<T> {
    Page { items: Vec::new(), next_cursor: None }
}

/// `GET /theaters?city=&state=&country=` | `?zip=&country=&radiusKm=` | `?near=lat,lon&radiusKm=`, with `limit`
/// and `cursor`: theaters of a city (by name; an ambiguous name without `state` lists every matching city's, each
/// theater naming its city and state), or around a ZIP's centroid or a position (nearest first, each with
/// `distanceKm`). No criterion: 400; an unknown city or ZIP: an empty list.
#[utoipa::path(get, path = "/theaters", tag = "catalog", params(TheatersQuery), responses(
    (status = 200, description = "A page of theaters (nearest first, with `distanceKm`, for `zip` and `near`); empty for an unknown city or ZIP", body = Page<Theater>),
    (status = 400, description = "A parameter is malformed or out of bounds; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn search_theaters(
    State(state): State<Arc<CatalogState>>,
    ApiQuery(raw): ApiQuery<TheatersQuery>,
) -> ApiResult<Response> {
    let search = raw.parse().map_err(ApiError::invalid_fields)?;
    // Positions rarely repeat: cached, a stream of them would only crowd out the searches that do (and memory).
    let key = match &search.criterion {
        TheaterCriterion::Near { origin: Origin::Position(_), .. } => None,
        _ => Some(format!("theaters|{search:?}")),
    };
    let db = &state.db;
    let body = state
        .caches
        .search(key, async {
            let limit = search.limit;
            let page = match &search.criterion {
                TheaterCriterion::City(filter) => {
                    let cities = city_ids(db, filter).await?;
                    if cities.is_empty() {
                        empty()
                    } else {
                        let client = db.reader().await?;
                        let after = search.after.as_ref().and_then(SortKey::as_name);
                        let rows = store::theaters_in_cities(&client, &cities, after, limit.fetch()).await?;
                        Page::from_rows(rows, limit, ListKind::TheatersByCity, by_name)
                    }
                }
                TheaterCriterion::Near { origin, radius } => match origin_centre(db, origin).await? {
                    None => empty(),
                    Some(centre) => {
                        let client = db.reader().await?;
                        let after = search.after.as_ref().and_then(SortKey::as_distance);
                        let rows = store::theaters_near(&client, centre, *radius, after, limit.fetch()).await?;
                        Page::from_rows(rows, limit, ListKind::TheatersNear, by_distance)
                    }
                },
            };
            json_body(&page)
        })
        .await?;
    Ok(json_response(body))
}

/// `GET /cities?q=`: up to `limit` cities whose name starts with `q` (case- and accent-insensitive), by name, for a
/// search box's suggestions. No match: an empty list.
#[utoipa::path(get, path = "/cities", tag = "catalog", params(CitiesQuery), responses(
    (status = 200, description = "Matching cities, by name (empty when none matches)", body = Vec<CitySuggestion>),
    (status = 400, description = "`q` is missing or has no letter, or `limit` is out of bounds; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn suggest_cities(
    State(state): State<Arc<CatalogState>>,
    ApiQuery(raw): ApiQuery<CitiesQuery>,
) -> ApiResult<Json<Vec<CitySuggestion>>> {
    let search = raw.parse().map_err(ApiError::invalid_fields)?;
    let client = state.db.read.get().await?;
    Ok(Json(store::cities_by_prefix(&client, &search).await?))
}

/// A theater by id from the read pool, or from the primary when the read pool does not have it (yet).
async fn find_theater(db: &Db, id: TheaterId) -> ApiResult<Theater> {
    let found = store::theater_by_id(&*db.reader().await?, id).await?;
    let found = match found {
        Some(t) => Some(t),
        None => store::theater_by_id(&*db.write.get().await?, id).await?,
    };
    found.ok_or_else(|| ApiError::not_found(format!("theater {id}")))
}

async fn theater_detail(db: &Db, theater: Theater, from_primary: bool) -> ApiResult<TheaterDetail> {
    let client = if from_primary { db.write.get().await? } else { db.reader().await? };
    let screens = store::theater_screens(&client, &theater.region, theater.id).await?;
    Ok(TheaterDetail { theater, screens })
}

/// `GET /theaters/{theaterId}`: a theater with its screens.
#[utoipa::path(get, path = "/theaters/{theaterId}", tag = "catalog",
    params(("theaterId" = uuid::Uuid, Path, description = "The theater's id")),
    responses(
        (status = 200, description = "The theater and its screens", body = TheaterDetail),
        (status = 400, description = "`theaterId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such theater", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn get_theater(
    State(state): State<Arc<CatalogState>>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<TheaterDetail>> {
    let id = path_id(&raw, "theaterId")?;
    let theater = find_theater(&state.db, id).await?;
    Ok(Json(theater_detail(&state.db, theater, false).await?))
}

/// Summaries (with availability) of showtime rows, in order.
async fn summaries(state: &CatalogState, rows: &[ShowtimeRow]) -> ApiResult<Vec<ShowtimeSummary>> {
    let screens: Vec<_> = rows.iter().map(ShowtimeRow::screen).collect();
    let layouts = state.caches.layouts(&state.db, &screens).await?;
    let items = rows
        .iter()
        .zip(&screens)
        .map(|(row, screen)| {
            let layout = layouts
                .get(screen)
                .cloned()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no layout loaded for {screen:?}")))?;
            Ok((row.key.clone(), layout))
        })
        .collect::<ApiResult<Vec<(ShowtimeKey, Arc<SeatLayout>)>>>()?;
    let taken = state.caches.seats.taken_many(&state.db, &items).await?;
    Ok(rows
        .iter()
        .zip(items.iter().zip(taken))
        .map(|(row, ((_, layout), taken))| ShowtimeSummary {
            id: row.key.id,
            movie_id: row.movie_id,
            screen_number: row.screen_number,
            start_time: row.start,
            end_time: row.end,
            seats_available: layout.len().saturating_sub(taken.count()),
            seats_total: layout.len(),
        })
        .collect())
}

/// `GET /theaters/{theaterId}/movies?date=`: the movies with upcoming showtimes at the theater (on the theater's
/// local `date` if given), by title, each with its showtimes there and their seats available: the theater page in
/// one call.
#[utoipa::path(get, path = "/theaters/{theaterId}/movies", tag = "catalog",
    params(("theaterId" = uuid::Uuid, Path, description = "The theater's id"), TheaterMoviesQuery),
    responses(
        (status = 200, description = "A page of movies by title, each with its upcoming showtimes at the theater", body = Page<MovieShowtimes>),
        (status = 400, description = "A parameter is malformed or out of bounds; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such theater", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn theater_movies(
    State(state): State<Arc<CatalogState>>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<TheaterMoviesQuery>,
) -> ApiResult<Json<Page<MovieShowtimes>>> {
    let id = path_id(&raw, "theaterId");
    let programme = query.parse();
    let (id, programme) = match (id, programme) {
        (Ok(id), Ok(p)) => (id, p),
        (Err(e), _) => return Err(e),
        (Ok(_), Err(errors)) => return Err(ApiError::invalid_fields(errors)),
    };
    let theater = find_theater(&state.db, id).await?;
    let window = LocalWindow::of(programme.date);
    let (movies, rows) = {
        let client = state.db.reader().await?;
        let after = programme.after.as_ref().map(|(t, id)| (t.as_str(), *id));
        let movies = store::theater_movies(&client, &theater, window, after, programme.limit.fetch()).await?;
        let page = Page::from_rows(movies, programme.limit, ListKind::TheaterMovies, |m: &Movie| SortKey::Name {
            name: m.title.clone(),
            id: m.id.0,
        });
        let ids: Vec<MovieId> = page.items.iter().map(|m| m.id).collect();
        let rows = store::theater_showtimes(&client, &theater, &ids, window).await?;
        (page, rows)
    };
    let summaries = summaries(&state, &rows).await?;
    let mut by_movie: HashMap<MovieId, Vec<ShowtimeSummary>> = HashMap::new();
    for summary in summaries {
        by_movie.entry(summary.movie_id).or_default().push(summary);
    }
    Ok(Json(movies.map(|movie| MovieShowtimes { showtimes: by_movie.remove(&movie.id).unwrap_or_default(), movie })))
}

/// `GET /movies?q=&genre=&city=&state=&country=`: movies by title; `q` searches titles (case- and
/// accent-insensitive), `genre` matches exactly (case-insensitive), `city` keeps movies with upcoming showtimes
/// there. No filter lists every movie.
#[utoipa::path(get, path = "/movies", tag = "catalog", params(MoviesQuery), responses(
    (status = 200, description = "A page of movies by title", body = Page<Movie>),
    (status = 400, description = "A parameter is malformed or out of bounds; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn search_movies(
    State(state): State<Arc<CatalogState>>,
    ApiQuery(raw): ApiQuery<MoviesQuery>,
) -> ApiResult<Response> {
    let search = raw.parse().map_err(ApiError::invalid_fields)?;
    let key = Some(format!("movies|{search:?}"));
    let db = &state.db;
    let body = state
        .caches
        .search(key, async {
            let cities = match &search.city {
                Some(filter) => Some(city_ids(db, filter).await?),
                None => None,
            };
            let page = if cities.as_ref().is_some_and(Vec::is_empty) {
                empty()
            } else {
                let client = db.reader().await?;
                let rows = store::movies_search(&client, &search, cities.as_deref()).await?;
                Page::from_rows(rows, search.limit, ListKind::Movies, |m: &Movie| SortKey::Name {
                    name: m.title.clone(),
                    id: m.id.0,
                })
            };
            json_body(&page)
        })
        .await?;
    Ok(json_response(body))
}

async fn find_movie(db: &Db, id: MovieId) -> ApiResult<Movie> {
    let found = store::movie_by_id(&*db.reader().await?, id).await?;
    let found = match found {
        Some(m) => Some(m),
        None => store::movie_by_id(&*db.write.get().await?, id).await?,
    };
    found.ok_or_else(|| ApiError::not_found(format!("movie {id}")))
}

/// `GET /movies/{movieId}`.
#[utoipa::path(get, path = "/movies/{movieId}", tag = "catalog",
    params(("movieId" = uuid::Uuid, Path, description = "The movie's id")),
    responses(
        (status = 200, description = "The movie", body = Movie),
        (status = 400, description = "`movieId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such movie", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn get_movie(
    State(state): State<Arc<CatalogState>>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<Movie>> {
    let id = path_id(&raw, "movieId")?;
    Ok(Json(find_movie(&state.db, id).await?))
}

/// `GET /movies/{movieId}/showtimes?city=&zip=&near=&radiusKm=&theaterId=&date=`: the movie's upcoming showtimes
/// grouped by theater (theaters by name, or nearest first around a ZIP or position), each with `seatsAvailable`.
#[utoipa::path(get, path = "/movies/{movieId}/showtimes", tag = "catalog",
    params(("movieId" = uuid::Uuid, Path, description = "The movie's id"), MovieShowtimesQuery),
    responses(
        (status = 200, description = "A page of theaters, each with the movie's upcoming showtimes there and their seats available", body = Page<TheaterShowtimes>),
        (status = 400, description = "A parameter is malformed or out of bounds; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such movie", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn movie_showtimes(
    State(state): State<Arc<CatalogState>>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(query): ApiQuery<MovieShowtimesQuery>,
) -> ApiResult<Json<Page<TheaterShowtimes>>> {
    let id: MovieId = path_id(&raw, "movieId")?;
    let search = query.parse().map_err(ApiError::invalid_fields)?;
    find_movie(&state.db, id).await?;
    let db = &state.db;
    let window = LocalWindow::of(search.date);
    let limit: Limit = search.limit;
    let after_name = search.after.as_ref().and_then(SortKey::as_name);
    let page = match &search.scope {
        ShowtimeScope::Everywhere | ShowtimeScope::Theater(_) => {
            let theater = match &search.scope {
                ShowtimeScope::Theater(t) => Some(*t),
                _ => None,
            };
            let client = db.reader().await?;
            let rows =
                store::movie_theaters_by_name(&client, id, None, theater, window, after_name, limit.fetch()).await?;
            Page::from_rows(rows, limit, ListKind::MovieTheatersByName, by_name)
        }
        ShowtimeScope::City(filter) => {
            let cities = city_ids(db, filter).await?;
            if cities.is_empty() {
                empty()
            } else {
                let client = db.reader().await?;
                let rows =
                    store::movie_theaters_by_name(&client, id, Some(&cities), None, window, after_name, limit.fetch())
                        .await?;
                Page::from_rows(rows, limit, ListKind::MovieTheatersByName, by_name)
            }
        }
        ShowtimeScope::Near { origin, radius } => match origin_centre(db, origin).await? {
            None => empty(),
            Some(centre) => {
                let client = db.reader().await?;
                let after = search.after.as_ref().and_then(SortKey::as_distance);
                let rows =
                    store::movie_theaters_near(&client, id, centre, *radius, window, after, limit.fetch()).await?;
                Page::from_rows(rows, limit, ListKind::MovieTheatersNear, by_distance)
            }
        },
    };
    let theater_ids: Vec<TheaterId> = page.items.iter().map(|t| t.id).collect();
    let rows = store::movie_showtimes_at(&*db.reader().await?, id, &theater_ids, window).await?;
    let mut by_theater: HashMap<TheaterId, Vec<ShowtimeSummary>> = HashMap::new();
    for summary in rows.iter().map(|r| r.theater_id).zip(summaries(&state, &rows).await?) {
        by_theater.entry(summary.0).or_default().push(summary.1);
    }
    Ok(Json(
        page.map(|theater| TheaterShowtimes { showtimes: by_theater.remove(&theater.id).unwrap_or_default(), theater }),
    ))
}

/// `GET /showtimes/{showtimeId}`: theater, movie, screen, start and end (local offset), prices per seat kind,
/// status.
#[utoipa::path(get, path = "/showtimes/{showtimeId}", tag = "catalog",
    params(("showtimeId" = uuid::Uuid, Path, description = "The showtime's id")),
    responses(
        (status = 200, description = "The showtime", body = ShowtimeDetail),
        (status = 400, description = "`showtimeId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such showtime", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn get_showtime(
    State(state): State<Arc<CatalogState>>,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<ShowtimeDetail>> {
    let id: ShowtimeId = path_id(&raw, "showtimeId")?;
    let showtime =
        state.caches.showtime(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("showtime {id}")))?;
    let mut detail = showtime.record.detail.clone();
    detail.status = detail.status.at(detail.start_time, OffsetDateTime::now_utc());
    Ok(Json(detail))
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 prescribes for this header).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// `GET /showtimes/{showtimeId}/seats`: the seat map (rows of seats with label, kind, grid position, price and
/// `available`, and totals), with an `ETag` that changes whenever availability does; `If-None-Match` with the
/// current tag answers 304. A canceled showtime's map, and a started one's (`status: started`, its start time has
/// passed), shows no seat available: holds are refused `showtime-closed` then. A warm showtime (its record read
/// within `BOXOFFICE_CATALOG_TTL_MS`, its availability in Redis) costs one Redis round trip and no database query.
/// The record is then read again, so while the database is down a map is served only until its record lapses, and
/// 503 after that: serving a possibly stale record through an outage would keep every showtime read in memory
/// for the outage's length, past the process's memory budget with today's cache.
#[utoipa::path(get, path = "/showtimes/{showtimeId}/seats", tag = "catalog",
    params(
        ("showtimeId" = uuid::Uuid, Path, description = "The showtime's id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier answer: 304 while it is current"),
    ),
    responses(
        (status = 200, description = "The seat map", body = crate::catalog::model::seatmap::SeatMap, headers(
            ("ETag" = String, description = "Changes whenever availability, prices or status change"),
            ("Cache-Control" = String, description = "`public, max-age=1`"),
        )),
        (status = 304, description = "Not modified since the ETag given in If-None-Match"),
        (status = 400, description = "`showtimeId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "No such showtime", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn seat_map(
    State(state): State<Arc<CatalogState>>,
    ApiPath(raw): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id: ShowtimeId = path_id(&raw, "showtimeId")?;
    let showtime =
        state.caches.showtime(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("showtime {id}")))?;
    let (layout, template) = state.caches.seat_map(&state.db, &showtime).await?;
    let detail = &showtime.record.detail;
    let (etag, body) = match detail.status.at(detail.start_time, OffsetDateTime::now_utc()) {
        ShowtimeStatus::Scheduled => {
            let taken = state.caches.seats.taken(&state.db, &showtime.record.key(), &layout).await?;
            showtime.render(&template, &taken)
        }
        ShowtimeStatus::Canceled => showtime.render(&template, &TakenSeats::none(layout.len())),
        // Rare (a past show's map) and not cached: the cached template says `scheduled` and shows availability.
        ShowtimeStatus::Started => {
            let head = SeatMapHead { status: ShowtimeStatus::Started, ..showtime.record.seat_map_head() };
            let closed = SeatMapTemplate::build(&head, &layout);
            let none = TakenSeats::none(layout.len());
            let etag = HeaderValue::from_str(&closed.etag(&none)).unwrap_or(HeaderValue::from_static("\"\""));
            (etag, closed.render(&none))
        }
    };
    let cache_control = HeaderValue::from_static(SEAT_MAP_CACHE_CONTROL);
    if none_match(&headers, etag.to_str().unwrap_or_default()) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag), (CACHE_CONTROL, cache_control)]).into_response());
    }
    let content_type = HeaderValue::from_static("application/json");
    Ok(([(ETAG, etag), (CACHE_CONTROL, cache_control), (CONTENT_TYPE, content_type)], body).into_response())
}

// ----------------------------------------------------------------------------------------------------------------
// Admin

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        let detail = err.to_string();
        match err {
            AdminError::UnknownCity(_) => ApiError::invalid("body.cityId", detail),
            AdminError::UnknownMovie(_) => ApiError::invalid("body.movieId", detail),
            AdminError::UnknownScreen(..) => ApiError::invalid("body.screenNumber", detail),
            AdminError::InvalidEnd(message) => ApiError::invalid_fields(vec![end_error(&message)]),
            AdminError::TheaterNotFound(_) | AdminError::MovieNotFound(_) | AdminError::ShowtimeNotFound(_) => {
                ApiError::not_found(detail)
            }
            AdminError::ShowtimeCanceled(_) => ApiError::new(Problem::Conflict, detail),
            AdminError::Overlap(other) => {
                ApiError::new(Problem::ShowtimeOverlap, detail).with("overlappingShowtimeId", other)
            }
            AdminError::ScreenInUse(number) => ApiError::new(
                Problem::LayoutInUse,
                format!("screen {number} has showtimes: its seat layout cannot change and it cannot be removed"),
            )
            .with("screenNumber", number),
        }
    }
}

fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::invalid_fields(errors)
}

fn created<T: Serialize>(location: String, body: T) -> Response {
    (StatusCode::CREATED, [(LOCATION, location)], Json(body)).into_response()
}

/// `POST /theaters` (admin): a theater with its screens and seat layouts, in its city's region. 201 with the
/// theater and its `Location`.
#[utoipa::path(post, path = "/theaters", tag = "catalog admin", security(("bearer" = [])),
    request_body = NewTheaterBody,
    responses(
        (status = 201, description = "Created", body = TheaterDetail, headers(("Location" = String, description = "`/theaters/{id}`"))),
        (status = 400, description = "A field is invalid (names, position, layout: unique labels and grid cells, known kinds, 1000 seats at most; an unknown city); `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::AdminOnly, crate::error::BadJson,
))]
pub async fn create_theater(
    State(state): State<Arc<CatalogState>>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<NewTheaterBody>,
) -> ApiResult<Response> {
    let (city, spec) = body.validate().map_err(invalid)?;
    let id = store::create_theater(&state.db, city, &spec).await?;
    state.caches.forget_searches();
    let theater = store::theater_by_id(&*state.db.write.get().await?, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("theater {id} vanished after its creation")))?;
    let detail = theater_detail(&state.db, theater, true).await?;
    Ok(created(format!("/theaters/{id}"), detail))
}

/// `PUT /theaters/{theaterId}` (admin): replaces a theater's details and screens (a screen with showtimes keeps
/// its layout: changing or removing it is a 409 `layout-in-use`).
#[utoipa::path(put, path = "/theaters/{theaterId}", tag = "catalog admin", security(("bearer" = [])),
    params(("theaterId" = uuid::Uuid, Path, description = "The theater's id")),
    request_body = TheaterUpdateBody,
    responses(
        (status = 200, description = "Updated", body = TheaterDetail),
        (status = 400, description = "A field is invalid; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::AdminOnly,
        (status = 404, description = "No such theater", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`layout-in-use`: a screen with showtimes would change layout or disappear; `screenNumber` names it", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::BadJson,
))]
pub async fn update_theater(
    State(state): State<Arc<CatalogState>>,
    _admin: AdminUser,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<TheaterUpdateBody>,
) -> ApiResult<Json<TheaterDetail>> {
    let id: TheaterId = path_id(&raw, "theaterId")?;
    let spec = body.validate().map_err(invalid)?;
    let region = store::update_theater(&state.db, id, &spec).await?;
    state.caches.forget_theater(&region, id).await;
    let theater = store::theater_by_id(&*state.db.write.get().await?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("theater {id}")))?;
    Ok(Json(theater_detail(&state.db, theater, true).await?))
}

/// `POST /movies` (admin). 201 with the movie and its `Location`.
#[utoipa::path(post, path = "/movies", tag = "catalog admin", security(("bearer" = [])),
    request_body = MovieBody,
    responses(
        (status = 201, description = "Created", body = Movie, headers(("Location" = String, description = "`/movies/{id}`"))),
        (status = 400, description = "A field is invalid; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::AdminOnly, crate::error::BadJson,
))]
pub async fn create_movie(
    State(state): State<Arc<CatalogState>>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<MovieBody>,
) -> ApiResult<Response> {
    let spec = body.validate().map_err(invalid)?;
    let movie = store::create_movie(&state.db, &spec).await?;
    state.caches.forget_searches();
    Ok(created(format!("/movies/{}", movie.id), movie))
}

/// `PUT /movies/{movieId}` (admin).
#[utoipa::path(put, path = "/movies/{movieId}", tag = "catalog admin", security(("bearer" = [])),
    params(("movieId" = uuid::Uuid, Path, description = "The movie's id")),
    request_body = MovieBody,
    responses(
        (status = 200, description = "Updated", body = Movie),
        (status = 400, description = "A field is invalid; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::AdminOnly,
        (status = 404, description = "No such movie", body = crate::error::ProblemDocument, content_type = "application/problem+json"), crate::error::BadJson,
))]
pub async fn update_movie(
    State(state): State<Arc<CatalogState>>,
    _admin: AdminUser,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<MovieBody>,
) -> ApiResult<Json<Movie>> {
    let id: MovieId = path_id(&raw, "movieId")?;
    let spec = body.validate().map_err(invalid)?;
    let movie = store::update_movie(&state.db, id, &spec).await?;
    state.caches.forget_searches();
    Ok(Json(movie))
}

async fn showtime_detail(state: &CatalogState, id: ShowtimeId) -> ApiResult<ShowtimeDetail> {
    state.caches.forget_showtime(id).await;
    let showtime =
        state.caches.showtime(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("showtime {id}")))?;
    Ok(showtime.record.detail.clone())
}

/// `POST /showtimes` (admin): a showtime on a screen, in the theater's region, unless it overlaps another scheduled
/// showtime of that screen (409 `showtime-overlap`, decided in a SERIALIZABLE transaction). `endTime` defaults to
/// the start plus the movie's duration. 201 with the showtime and its `Location`.
#[utoipa::path(post, path = "/showtimes", tag = "catalog admin", security(("bearer" = [])),
    request_body = NewShowtimeBody,
    responses(
        (status = 201, description = "Created", body = ShowtimeDetail, headers(("Location" = String, description = "`/showtimes/{id}`"))),
        (status = 400, description = "A field is invalid (times, prices, currency, an unknown theater, screen or movie); `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::AdminOnly,
        (status = 409, description = "`showtime-overlap`: another scheduled showtime occupies the screen; `overlappingShowtimeId` names it", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::BadJson,
))]
pub async fn create_showtime(
    State(state): State<Arc<CatalogState>>,
    _admin: AdminUser,
    ApiJson(body): ApiJson<NewShowtimeBody>,
) -> ApiResult<Response> {
    let (theater, screen, spec) = body.validate(OffsetDateTime::now_utc()).map_err(invalid)?;
    let id = store::create_showtime(&state.db, theater, screen, &spec).await?;
    let detail = showtime_detail(&state, id).await?;
    Ok(created(format!("/showtimes/{id}"), detail))
}

/// `PUT /showtimes/{showtimeId}` (admin): reschedules or re-prices a scheduled showtime (same overlap rule); holds
/// already made keep their prices.
#[utoipa::path(put, path = "/showtimes/{showtimeId}", tag = "catalog admin", security(("bearer" = [])),
    params(("showtimeId" = uuid::Uuid, Path, description = "The showtime's id")),
    request_body = ShowtimeUpdateBody,
    responses(
        (status = 200, description = "Updated", body = ShowtimeDetail),
        (status = 400, description = "A field is invalid; `errors` names each", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::AdminOnly,
        (status = 404, description = "No such showtime", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`showtime-overlap`, or `conflict` for a canceled showtime", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::BadJson,
))]
pub async fn update_showtime(
    State(state): State<Arc<CatalogState>>,
    _admin: AdminUser,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<ShowtimeUpdateBody>,
) -> ApiResult<Json<ShowtimeDetail>> {
    let id: ShowtimeId = path_id(&raw, "showtimeId")?;
    let spec = body.validate(OffsetDateTime::now_utc()).map_err(invalid)?;
    store::update_showtime(&state.db, id, &spec).await?;
    Ok(Json(showtime_detail(&state, id).await?))
}

/// How long `POST /showtimes/{showtimeId}/cancel` works on the showtime's bookings before answering 202 and leaving
/// the rest to the worker: well within the request timeout (refunds are provider calls).
const CANCEL_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// `POST /showtimes/{showtimeId}/cancel` answer: the showtime, and where the cancellation of its bookings stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanceledShowtime {
    /// The showtime (status `canceled`).
    #[serde(flatten)]
    pub showtime: ShowtimeDetail,
    /// Its bookings: canceled, refunded, payments under way, left to do.
    pub cancellation: crate::booking::service::CancellationProgress,
}

/// `POST /showtimes/{showtimeId}/cancel` (admin): the showtime takes no new holds, no payment, and its seat map shows
/// no seat available; its bookings are canceled: holds released, paid bookings refunded through the provider, each
/// customer mailed. The work is batched and resumable: 200 when every booking has ended, 202 when some remain
/// (payments under way, a provider failing, a large showtime past the request's time): the worker finishes them, and
/// calling again reports (and advances) the same cancellation. Idempotent: counts are never doubled.
#[utoipa::path(post, path = "/showtimes/{showtimeId}/cancel", tag = "catalog admin", security(("bearer" = [])),
    params(("showtimeId" = uuid::Uuid, Path, description = "The showtime's id")),
    responses(
        (status = 200, description = "Canceled (or already canceled), and every booking of it ended", body = CanceledShowtime),
        (status = 202, description = "Canceled; some bookings are still being canceled or refunded (`cancellation` says how many); the worker finishes them", body = CanceledShowtime),
        (status = 400, description = "`showtimeId` is not a UUID", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        crate::error::AdminOnly,
        (status = 404, description = "No such showtime", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`service-unavailable`: the database is unavailable or contended; what was done stays done, call again", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn cancel_showtime(
    State(state): State<Arc<CatalogState>>,
    State(bookings): State<Arc<crate::booking::BookingService>>,
    _admin: AdminUser,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<CanceledShowtime>)> {
    let id: ShowtimeId = path_id(&raw, "showtimeId")?;
    let region = store::cancel_showtime(&state.db, id).await?;
    state.caches.seats.invalidate(id);
    let cancellation = bookings.cancel_showtime_bookings(&region, id, CANCEL_BUDGET).await?;
    let status = if cancellation.complete { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(CanceledShowtime { showtime: showtime_detail(&state, id).await?, cancellation })))
}

// ----------------------------------------------------------------------------------------------------------------
// Load test

/// `GET /loadtest/static` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticQuery {
    /// Body size in bytes.
    pub bytes: Option<String>,
}

/// Largest static body.
const MAX_STATIC_BYTES: usize = 1 << 20;

/// `GET /loadtest/static?bytes=N` (only with `BOXOFFICE_LOADTEST_ROUTES=true`; otherwise 404 like any unknown
/// path): a JSON body of exactly N bytes (16 to 1 MiB) from memory, through the same middleware as every route: the
/// ceiling the seat map is compared with in `loadtest/run.sh`.
pub async fn loadtest_static(
    State(state): State<Arc<CatalogState>>,
    ApiQuery(query): ApiQuery<StaticQuery>,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    if !state.loadtest_routes {
        return Err(ApiError::new(Problem::NotFound, format!("no route for {}", uri.path())));
    }
    let n: usize = match query.bytes.as_deref().map(str::parse::<usize>) {
        None => 1024,
        Some(Ok(n)) if (16..=MAX_STATIC_BYTES).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::invalid("query.bytes", format!("must be an integer from 16 to {MAX_STATIC_BYTES}")));
        }
    };
    Ok(json_response(static_body(n)))
}

/// `{"data":"xxxx…"}` of exactly `n` bytes (n >= 12). Kept per size (64 sizes at most; beyond, made anew): the
/// route serves memory, not a formatter. A read lock and a map lookup, as `examples/ceiling.rs` does, so that the
/// two differ only by the service's layers (a `moka` cache's bookkeeping on every read was in the profile).
fn static_body(n: usize) -> Bytes {
    static BODIES: std::sync::LazyLock<std::sync::RwLock<HashMap<usize, Bytes>>> =
        std::sync::LazyLock::new(Default::default);
    if let Some(body) = BODIES.read().ok().and_then(|bodies| bodies.get(&n).cloned()) {
        return body;
    }
    let mut body = Vec::with_capacity(n);
    body.extend_from_slice(br#"{"data":""#);
    body.resize(n - 2, b'x');
    body.extend_from_slice(br#""}"#);
    let body = Bytes::from(body);
    if let Ok(mut bodies) = BODIES.write()
        && bodies.len() < 64
    {
        bodies.insert(n, body.clone());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_bodies_are_json_of_the_exact_size() {
        for n in [16, 100, 15_000] {
            let body = static_body(n);
            assert_eq!(body.len(), n);
            let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert!(value["data"].is_string());
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let etag = "\"00ff\"";
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(IF_NONE_MATCH, HeaderValue::from_str(v).expect("header"));
            h
        };
        assert!(none_match(&headers("\"00ff\""), etag));
        assert!(none_match(&headers("W/\"00ff\""), etag));
        assert!(none_match(&headers("\"aa\", \"00ff\""), etag));
        assert!(none_match(&headers("*"), etag));
        assert!(!none_match(&headers("\"00fe\""), etag));
        assert!(!none_match(&HeaderMap::new(), etag));
    }
}
