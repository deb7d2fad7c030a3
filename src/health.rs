//! The probes: `GET /healthz` (the process is alive) and `GET /readyz` (the database answers; Redis is reported).
//! They are not rate limited ([`crate::edge::middleware::UNLIMITED`]) and need only the pools, which the router's
//! state hands over through `FromRef`.

use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::cache::Redis;
use crate::db::Db;
use crate::error::ApiError;

/// The probe routes, for any state that yields the database pools and Redis.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Db: FromRef<S>,
    Redis: FromRef<S>,
{
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// `GET /healthz`: the process is alive (no dependency is checked: a database outage must not restart pods).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database answers within its timeout, else 503; Redis is reported but optional
/// (without it the service serves from the database).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready; `checks` reports the database and Redis"),
    (status = 503, description = "The database is not reachable", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn readyz(State(db): State<Db>, State(redis): State<Redis>) -> Response {
    let (db, redis) = tokio::join!(db.ping(), redis.ping());
    let checks = json!({
        "database": if db.is_ok() { "up" } else { "down" },
        "redis": if redis.is_ok() { "up" } else { "down" },
    });
    match db {
        Ok(()) => Json(json!({ "status": "ready", "checks": checks })).into_response(),
        Err(reason) => ApiError::unavailable("the database is not reachable", 5)
            .with("checks", checks)
            .caused_by(anyhow::anyhow!(reason))
            .into_response(),
    }
}
