//! `GET /docs`: Swagger UI on `/openapi.json`, served from the binary. The UI (npm `swagger-ui-dist`, see
//! `web/vendor/swagger-ui/README.md`) is vendored and embedded with `include_bytes!`, so the page needs no CDN and
//! the build needs no network.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::embedded::Embedded;
use crate::error::ApiError;
use crate::extract::ApiPath;

/// The page's `Content-Security-Policy`: its own scripts and styles only (Swagger UI sets some inline styles, and
/// its CSS embeds icons as `data:` URLs), requests to this origin only, no framing.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                            img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                            frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The files under `/docs/`.
static ASSETS: [Embedded; 5] = [
    Embedded::new(
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/swagger-ui/swagger-ui-bundle.js"),
    ),
    Embedded::new(
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/vendor/swagger-ui/swagger-ui.css"),
    ),
    Embedded::new("init.js", "text/javascript; charset=utf-8", include_bytes!("../../web/docs/init.js")),
    Embedded::new("LICENSE", "text/plain; charset=utf-8", include_bytes!("../../web/vendor/swagger-ui/LICENSE")),
    Embedded::new("NOTICE", "text/plain; charset=utf-8", include_bytes!("../../web/vendor/swagger-ui/NOTICE")),
];

/// The names served under `/docs/`, for the OpenAPI document.
pub const ASSET_NAMES: [&str; 5] = ["swagger-ui-bundle.js", "swagger-ui.css", "init.js", "LICENSE", "NOTICE"];

const PAGE: &[u8] = include_bytes!("../../web/docs/index.html");

/// The documentation routes (they need no state, so they fit any).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/docs", get(page)).route("/docs/{asset}", get(asset))
}

/// `GET /docs`: the documentation page.
#[utoipa::path(get, path = "/docs", tag = "operations", responses(
    (status = 200, description = "Swagger UI on `/openapi.json` (HTML)", content_type = "text/html", body = String),
))]
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAGE,
    )
        .into_response()
}

/// `GET /docs/{asset}`: a script, style sheet or license file of the documentation page.
#[utoipa::path(get, path = "/docs/{asset}", tag = "operations",
    params(("asset" = String, Path, description = "A file of the page", example = "swagger-ui.css")),
    responses(
        (status = 200, description = "The file (JavaScript, CSS or text)", content(
            (String = "text/javascript"), (String = "text/css"), (String = "text/plain"),
        )),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "No such file", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn asset(ApiPath(name): ApiPath<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(file) = ASSETS.iter().find(|file| file.name == name) else {
        return Err(ApiError::not_found(format_args!("documentation file {name:?}")));
    };
    Ok(file.respond(&headers, "public, max-age=3600"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_this_module_serves() {
        let page = std::str::from_utf8(PAGE).expect("utf-8");
        for reference in page.split(['"', '\'']).filter(|s| s.starts_with('/') || s.starts_with("http")) {
            let name = reference.strip_prefix("/docs/").expect("every reference is under /docs/ (no CDN)");
            assert!(ASSET_NAMES.contains(&name), "{reference} is not served");
        }
        assert_eq!(ASSET_NAMES.len(), ASSETS.len());
        for file in &ASSETS {
            assert!(ASSET_NAMES.contains(&file.name) && !file.body.is_empty(), "{}", file.name);
        }
        let init = std::str::from_utf8(ASSETS[2].body).expect("utf-8");
        assert!(init.contains("\"/openapi.json\""), "the UI reads the API's own document");
    }
}
