//! The search side: theaters, movies, showtimes and seat maps (read-heavy).

pub mod model;
