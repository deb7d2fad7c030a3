//! The search side: theaters, movies, showtimes and seat maps (read-heavy), and the admin writes that maintain them.
//!
//! Rooms: [`model`] (pure types and rules), [`store`] (SQL), [`cache`] (the in-process caches and their layering
//! over the Redis availability cache), [`routes`] (handlers). Routes:
//!
//! | route | who | what |
//! |---|---|---|
//! | `GET /theaters?city=\|zip=\|near=` | anyone | theaters of a city, or around a ZIP or position |
//! | `GET /theaters/{theaterId}` | anyone | a theater and its screens |
//! | `GET /theaters/{theaterId}/movies?date=` | anyone | its movies, each with its showtimes there |
//! | `GET /movies?q=&genre=&city=` | anyone | movies |
//! | `GET /movies/{movieId}` | anyone | a movie |
//! | `GET /movies/{movieId}/showtimes?city=\|zip=\|near=\|theaterId=&date=` | anyone | its showtimes by theater |
//! | `GET /showtimes/{showtimeId}` | anyone | a showtime |
//! | `GET /showtimes/{showtimeId}/seats` | anyone | its seat map (ETag) |
//! | `POST /theaters`, `PUT /theaters/{theaterId}` | admin | theaters with screens and seat layouts |
//! | `POST /movies`, `PUT /movies/{movieId}` | admin | movies |
//! | `POST /showtimes`, `PUT /showtimes/{showtimeId}` | admin | showtimes (no overlap on a screen) |
//! | `POST /showtimes/{showtimeId}/cancel` | admin | cancel a showtime |
//! | `GET /loadtest/static?bytes=` | anyone, if `BOXOFFICE_LOADTEST_ROUTES` | the load test's baseline |

pub mod cache;
pub mod model;
pub mod routes;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};

pub use cache::CatalogCaches;

use crate::auth::token::TokenKeys;
use crate::db::Db;

/// What the catalog handlers use, shared by every request (one `Arc`, so extracting it is one atomic increment).
#[derive(Debug)]
pub struct CatalogState {
    /// The pools: reads on the read pool, admin writes and availability on the primary.
    pub db: Db,
    /// The in-process caches and the seat-availability cache.
    pub caches: CatalogCaches,
    /// Whether `GET /loadtest/static` is served (`BOXOFFICE_LOADTEST_ROUTES`).
    pub loadtest_routes: bool,
}

/// The catalog routes, for any state that yields a [`CatalogState`] and the token keys (the admin writes check the
/// caller's role).
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<CatalogState>: FromRef<S>,
    Arc<TokenKeys>: FromRef<S>,
    // Canceling a showtime cancels its bookings (and refunds the paid ones): the one admin route that needs them.
    Arc<crate::booking::BookingService>: FromRef<S>,
{
    Router::new()
        .route("/cities", get(routes::suggest_cities))
        .route("/theaters", get(routes::search_theaters).post(routes::create_theater))
        .route("/theaters/{theater_id}", get(routes::get_theater).put(routes::update_theater))
        .route("/theaters/{theater_id}/movies", get(routes::theater_movies))
        .route("/movies", get(routes::search_movies).post(routes::create_movie))
        .route("/movies/{movie_id}", get(routes::get_movie).put(routes::update_movie))
        .route("/movies/{movie_id}/showtimes", get(routes::movie_showtimes))
        .route("/showtimes", post(routes::create_showtime))
        .route("/showtimes/{showtime_id}", get(routes::get_showtime).put(routes::update_showtime))
        .route("/showtimes/{showtime_id}/seats", get(routes::seat_map))
        .route("/showtimes/{showtime_id}/cancel", post(routes::cancel_showtime))
        .route("/loadtest/static", get(routes::loadtest_static))
}
