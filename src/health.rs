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

/// `GET /readyz`: 200 while the pod can serve: the primary answers within its timeout (`ready`), or only the read
/// database does (`degraded`: catalog and seat-map reads are served, writes answer 503 until a primary is back).
/// 503 when neither answers. Redis is reported but optional (without it the service serves from the database).
///
/// A primary switch takes the primary away from every pod at once: a balancer that dropped the pods then would turn
/// a few seconds without writes into a few seconds without anything (DESIGN.md §10).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready or degraded; `checks` reports the primary, the read database and Redis"),
    (status = 503, description = "No database is reachable", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn readyz(State(db): State<Db>, State(redis): State<Redis>) -> Response {
    let (primary, read, redis) = tokio::join!(db.ping(), db.ping_read(), redis.ping());
    let up = |ok: bool| if ok { "up" } else { "down" };
    let checks = json!({
        "database": up(primary.is_ok()),
        "readDatabase": up(read.is_ok()),
        "redis": up(redis.is_ok()),
    });
    match (primary, read) {
        (Ok(()), _) => Json(json!({ "status": "ready", "checks": checks })).into_response(),
        (Err(_), Ok(())) => Json(json!({ "status": "degraded", "checks": checks })).into_response(),
        (Err(reason), Err(_)) => ApiError::unavailable("the database is not reachable", 5)
            .with("checks", checks)
            .caused_by(anyhow::anyhow!(reason))
            .into_response(),
    }
}
