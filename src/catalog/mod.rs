//! The search side: theaters, movies, showtimes and seat maps (read-heavy).

pub mod model;

use axum::Router;

use crate::app::AppState;

/// The catalog routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
