//! The OpenAPI 3.1 document, generated from the handlers' and types' annotations, served at `/openapi.json`.
//!
//! Adding a route: annotate its handler with `#[utoipa::path(...)]` (every status it can answer, problem bodies as
//! [`ProblemDocument`] with `content_type = "application/problem+json"`, `security(("bearer" = []))` when it needs a
//! token), derive `utoipa::ToSchema` on its request and response types, and list the handler in `paths(...)` and
//! the types in `components(schemas(...))` below.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::FieldError;
use crate::{auth, catalog};

/// An RFC 9457 problem document, as every error response carries it (for the documentation; [`crate::error`] builds
/// the real ones).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDocument {
    /// Stable problem type URI, e.g. `https://boxoffice.dev/problems/seats-unavailable`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Fixed summary of the type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// Invalid inputs (validation problems only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "boxoffice",
        description = "Cinema ticket booking: search theaters, see seat maps, hold seats, pay. Errors are RFC 9457 \
                       problem+json documents with a stable `type`.",
    ),
    paths(
        crate::app::healthz,
        crate::app::readyz,
        auth::routes::register,
        auth::routes::token,
        auth::routes::me,
        auth::routes::get_user,
        catalog::routes::search_theaters,
        catalog::routes::get_theater,
        catalog::routes::theater_movies,
        catalog::routes::search_movies,
        catalog::routes::get_movie,
        catalog::routes::movie_showtimes,
        catalog::routes::get_showtime,
        catalog::routes::seat_map,
        catalog::routes::create_theater,
        catalog::routes::update_theater,
        catalog::routes::create_movie,
        catalog::routes::update_movie,
        catalog::routes::create_showtime,
        catalog::routes::update_showtime,
        catalog::routes::cancel_showtime,
        crate::booking::routes::hold,
        crate::booking::routes::get_booking,
        crate::booking::routes::finalize,
        crate::booking::routes::cancel,
        crate::booking::routes::my_bookings,
    ),
    components(schemas(
        ProblemDocument,
        FieldError,
        auth::store::User,
        auth::model::Role,
        auth::model::UserId,
        auth::routes::RegisterBody,
        auth::routes::TokenBody,
        auth::routes::TokenResponse,
        catalog::model::TheaterId,
        catalog::model::MovieId,
        catalog::model::ShowtimeId,
        catalog::model::CityId,
        catalog::model::SeatKind,
        catalog::model::ShowtimeStatus,
        catalog::model::Prices,
        catalog::model::views::Theater,
        catalog::model::views::TheaterDetail,
        catalog::model::views::ScreenSummary,
        catalog::model::views::Movie,
        catalog::model::views::MovieShowtimes,
        catalog::model::views::TheaterShowtimes,
        catalog::model::views::ShowtimeSummary,
        catalog::model::views::ShowtimeDetail,
        catalog::model::views::ShowtimeTheater,
        catalog::model::views::ShowtimeMovie,
        catalog::model::views::ShowtimeScreen,
        catalog::model::seatmap::SeatMap,
        catalog::model::seatmap::SeatMapRow,
        catalog::model::seatmap::SeatView,
        catalog::model::seatmap::SeatTotals,
        catalog::model::seatmap::Grid,
        catalog::model::input::NewTheaterBody,
        catalog::model::input::TheaterUpdateBody,
        catalog::model::input::ScreenBody,
        catalog::model::input::SeatBody,
        catalog::model::input::MovieBody,
        catalog::model::input::NewShowtimeBody,
        catalog::model::input::ShowtimeUpdateBody,
        crate::booking::model::Booking,
        crate::booking::model::BookingId,
        crate::booking::model::BookingStatus,
        crate::booking::model::PricedSeat,
        crate::booking::routes::HoldBody,
        crate::booking::routes::FinalizeBody,
        crate::booking::routes::PaymentBody,
        crate::booking::routes::BookingPage,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "identity", description = "Accounts and access tokens"),
        (name = "catalog", description = "Theaters by city, ZIP or position; movies; showtimes; live seat maps"),
        (name = "catalog admin", description = "Theaters with screens and seat layouts, movies, showtimes (admin role)"),
        (name = "bookings", description = "Holds, payments, cancellations; Idempotency-Key on every unsafe method"),
    )
)]
pub struct ApiDoc;

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));

/// `GET /openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_bearer_security() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).expect("valid JSON");
        assert!(doc["openapi"].as_str().unwrap_or_default().starts_with("3.1"), "{}", doc["openapi"]);
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        for path in ["/users", "/auth/token", "/users/me", "/users/{userId}", "/healthz", "/readyz"] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        for path in [
            "/theaters",
            "/theaters/{theaterId}",
            "/theaters/{theaterId}/movies",
            "/movies",
            "/movies/{movieId}",
            "/movies/{movieId}/showtimes",
            "/showtimes",
            "/showtimes/{showtimeId}",
            "/showtimes/{showtimeId}/seats",
            "/showtimes/{showtimeId}/cancel",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        for path in ["/bookings", "/bookings/{bookingId}", "/bookings/{bookingId}/finalize", "/users/me/bookings"] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        let booking = &doc["components"]["schemas"]["Booking"]["properties"];
        assert!(booking["holdExpiresAt"].is_object() && booking.get("region").is_none(), "{booking}");
    }
}
