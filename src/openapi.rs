//! The OpenAPI 3.1 document, generated from the handlers' and types' annotations, served at `/openapi.json`.
//!
//! Adding a route: annotate its handler with `#[utoipa::path(...)]` (every status it can answer, problem bodies as
//! [`ProblemDocument`](crate::error::ProblemDocument) with `content_type = "application/problem+json"`, `security(("bearer" = []))` when it needs a
//! token), derive `utoipa::ToSchema` on its request and response types, and list the handler in `paths(...)` and
//! the types in `components(schemas(...))` below.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::edge::apidoc::Conventions;
use crate::error::{FieldError, ProblemDocument};
use crate::{auth, catalog};

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
        crate::health::healthz,
        crate::health::readyz,
        crate::metrics::render,
        document,
        crate::edge::docs::page,
        crate::edge::docs::asset,
        crate::web::page,
        crate::web::asset,
        auth::routes::register,
        auth::routes::token,
        auth::routes::me,
        auth::routes::get_user,
        catalog::routes::suggest_cities,
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
        crate::booking::routes::extend,
        crate::booking::routes::my_bookings,
        crate::payment::routes::options,
        crate::tickets::routes::keys,
        crate::tickets::routes::booking_tickets,
        crate::tickets::routes::showtime_tickets,
        crate::tickets::routes::check_in,
        crate::tickets::routes::check_in_batch,
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
        catalog::model::views::CitySuggestion,
        crate::payment::routes::PaymentOptions,
        crate::payment::routes::TestToken,
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
        catalog::routes::CanceledShowtime,
        crate::booking::service::CancellationProgress,
        crate::booking::model::Booking,
        crate::booking::model::BookingId,
        crate::booking::model::BookingStatus,
        crate::booking::model::PricedSeat,
        crate::booking::model::SeatLabel,
        crate::booking::routes::HoldBody,
        crate::booking::routes::BestBody,
        crate::booking::routes::BestKind,
        crate::booking::routes::HoldWarning,
        crate::booking::routes::HoldAnswer,
        crate::booking::routes::FinalizeBody,
        crate::booking::routes::PaymentBody,
        crate::booking::routes::BookingPage,
        crate::tickets::token::PublicKey,
        crate::tickets::model::Admission,
        crate::tickets::routes::Ticket,
        crate::tickets::routes::KeySet,
        crate::tickets::routes::BookingTickets,
        crate::tickets::routes::ShowtimeTickets,
        crate::tickets::routes::CheckInBody,
        crate::tickets::routes::Admitted,
        crate::tickets::routes::OfflineScan,
        crate::tickets::routes::BatchBody,
        crate::tickets::routes::Settled,
        crate::tickets::routes::BatchResult,
    )),
    modifiers(&BearerAuth, &Conventions),
    tags(
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "identity", description = "Accounts and access tokens"),
        (name = "catalog", description = "Theaters by city, ZIP or position; movies; showtimes; live seat maps"),
        (name = "catalog admin", description = "Theaters with screens and seat layouts, movies, showtimes (admin role)"),
        (name = "bookings", description = "Holds, payments, cancellations; Idempotency-Key on every unsafe method"),
        (name = "tickets", description = "Signed tickets per seat, their public keys, and check-in at the door (staff role)"),
    )
)]
pub struct ApiDoc;

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses(
    (status = 200, description = "The OpenAPI 3.1 document of the API", content_type = "application/json", body = Object),
))]
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

    /// `(METHOD, /path/{})` of every operation in the document (parameter names blanked: axum and OpenAPI spell
    /// them differently).
    fn documented() -> std::collections::BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).expect("valid JSON");
        let mut operations = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    operations.insert((method.to_uppercase(), blank_parameters(path)));
                }
            }
        }
        operations
    }

    fn blank_parameters(path: &str) -> String {
        let mut out = String::new();
        let mut in_param = false;
        for c in path.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                c if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// `(METHOD, /path/{})` of every route registration (`Router::route` with a path literal and its method router)
    /// in `src/`: the routes the app serves, read from the source because an axum `Router` cannot list its routes.
    /// The needles are assembled with `concat!` so that this function does not find itself.
    fn served() -> std::collections::BTreeSet<(String, String)> {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut routes = std::collections::BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            assert!(
                !text.contains(concat!(".ne", "st(")),
                "{}: nested routers are not read by this test; extend it",
                file.display()
            );
            let mut rest = text.as_str();
            let needle = concat!(".rou", "te(");
            while let Some(at) = rest.find(needle) {
                rest = &rest[at + needle.len()..];
                let Some(literal) = rest.trim_start().strip_prefix('"') else { continue };
                let Some(end) = literal.find('"') else { continue };
                let path = &literal[..end];
                // The method router: up to the parenthesis closing `.route(`.
                let mut depth = 1;
                let expr: String = literal[end + 1..]
                    .chars()
                    .take_while(|c| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth > 0
                    })
                    .collect();
                let mut found = false;
                for method in ["get", "put", "post", "delete", "patch"] {
                    let call = format!("{method}(");
                    let mut from = 0;
                    while let Some(i) = expr[from..].find(&call) {
                        let at = from + i;
                        let standalone =
                            expr[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                        if standalone {
                            routes.insert((method.to_uppercase(), blank_parameters(path)));
                            found = true;
                        }
                        from = at + call.len();
                    }
                }
                assert!(found, "{}: no method in .route(\"{path}\"{expr})", file.display());
            }
        }
        routes
    }

    /// Routes deliberately left out of the document, each with its reason.
    const UNDOCUMENTED: &[(&str, &str, &str)] = &[(
        "GET",
        "/loadtest/static",
        "load-test baseline: served only with BOXOFFICE_LOADTEST_ROUTES=true, otherwise answered like an unknown path",
    )];

    #[test]
    fn every_route_the_app_serves_is_documented_and_every_documented_route_is_served() {
        let mut served = served();
        for (method, path, _why) in UNDOCUMENTED {
            assert!(served.remove(&((*method).to_owned(), (*path).to_owned())), "{method} {path} is no longer served");
        }
        let documented = documented();
        assert!(served.len() >= 10, "the source scan found too little: {served:?}");
        let undocumented: Vec<_> = served.difference(&documented).collect();
        assert!(undocumented.is_empty(), "served but not in /openapi.json: {undocumented:?}");
        let unserved: Vec<_> = documented.difference(&served).collect();
        assert!(unserved.is_empty(), "documented but not served: {unserved:?}");
    }

    #[test]
    fn every_problem_type_and_the_edge_answers_are_documented() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).expect("valid JSON");
        let types = doc["x-problem-types"].as_array().expect("x-problem-types");
        assert_eq!(types.len(), crate::error::Problem::ALL.len());
        for problem in crate::error::Problem::ALL {
            let uri = format!("{}{}", crate::error::PROBLEM_BASE, problem.slug());
            assert!(types.iter().any(|t| t["type"] == uri && t["status"] == problem.status().as_u16()), "{uri}");
        }
        assert_eq!(doc["paths"]["/users/me"]["get"]["responses"]["429"]["$ref"], "#/components/responses/RateLimited");
        assert!(doc["paths"]["/healthz"]["get"]["responses"]["429"].is_null(), "probes are never limited");
        assert_eq!(
            doc["paths"]["/users"]["post"]["responses"]["413"]["$ref"],
            "#/components/responses/PayloadTooLarge"
        );
        let headers = &doc["components"]["responses"]["RateLimited"]["headers"];
        for name in ["Retry-After", "RateLimit", "RateLimit-Policy"] {
            assert!(headers[name].is_object(), "{name}");
        }
    }
}
