//! The web client: `GET /` and its files under `/app/`, a small single-page application in plain ES modules
//! (`web/app/`, no build step; README "Web client" says why) that is a client of the public REST API only. The
//! files are embedded with `include_bytes!`, so a release binary serves the whole client with no CDN, no file
//! system and no request to any other host; gzip-compressed for browsers that accept it (`crate::embedded`).
//!
//! The router needs no application state, so it merges into any router (`Router<S>`).

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use crate::embedded::Embedded;
use crate::error::ApiError;
use crate::extract::ApiPath;

/// The client's `Content-Security-Policy`: its own scripts and styles only (no inline script or style, no
/// `eval`), requests to this origin only (the API), images from itself or `data:` (the favicon), no framing, no
/// form posted anywhere (the forms are handled by script).
pub const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                           connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                           form-action 'none'";

/// The files under `/app/`.
static ASSETS: [Embedded; 5] = [
    Embedded::new("app.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/app.js")),
    Embedded::new("api.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/api.js")),
    Embedded::new("dom.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/dom.js")),
    Embedded::new("seatmap.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/seatmap.js")),
    Embedded::new("style.css", "text/css; charset=utf-8", include_bytes!("../web/app/style.css")),
];

static PAGE: Embedded =
    Embedded::new("index.html", "text/html; charset=utf-8", include_bytes!("../web/app/index.html"));

/// `no-cache`: a browser revalidates every load (a round trip, no body), so a new release is seen at once without
/// versioned file names.
const CACHE_CONTROL: &str = "no-cache";

/// The client's routes.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(page)).route("/app/{asset}", get(asset))
}

/// `GET /`: the web client's page.
#[utoipa::path(get, path = "/", tag = "operations", responses(
    (status = 200, description = "The web client (HTML)", content_type = "text/html", body = String),
    (status = 304, description = "Not modified (`If-None-Match`)"),
))]
pub async fn page(headers: HeaderMap) -> Response {
    let mut response = PAGE.respond(&headers, CACHE_CONTROL);
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(APP_CSP));
    response
}

/// `GET /app/{asset}`: a script or style sheet of the web client.
#[utoipa::path(get, path = "/app/{asset}", tag = "operations",
    params(("asset" = String, Path, description = "A file of the client", example = "app.js")),
    responses(
        (status = 200, description = "The file (JavaScript or CSS)", content(
            (String = "text/javascript"), (String = "text/css"),
        )),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "No such file", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
))]
pub async fn asset(ApiPath(name): ApiPath<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(file) = ASSETS.iter().find(|file| file.name == name) else {
        return Err(ApiError::not_found(format_args!("web client file {name:?}")));
    };
    Ok(file.respond(&headers, CACHE_CONTROL))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn the_page_and_its_modules_load_only_files_this_module_serves() {
        let mut references: Vec<String> = Vec::new();
        for part in text(PAGE.body).split(['"', '\'']) {
            if part.starts_with('/') || part.starts_with("http") {
                references.push(part.to_owned());
            }
        }
        for file in ASSETS.iter().filter(|file| file.name.ends_with(".js")) {
            let (name, source) = (file.name, text(file.body));
            assert!(!source.contains("http://") && !source.contains("https://"), "{name} names another host");
            for line in source.lines().filter(|l| l.starts_with("import ")) {
                let spec = line.rsplit(['"', '\'']).nth(1).expect("an import names a module");
                references.push(format!("/app/{}", spec.trim_start_matches("./")));
            }
        }
        assert!(!references.is_empty());
        // The footer links to the API documentation, served by `edge::docs`.
        for reference in references.into_iter().filter(|r| r != "/docs") {
            let name = reference.strip_prefix("/app/").expect("every reference is under /app/ (no CDN)");
            assert!(ASSETS.iter().any(|file| file.name == name), "{reference} is not served");
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = text(PAGE.body);
        assert!(!page.contains("<script>") && !page.contains("style="), "the CSP would refuse it");
        assert!(!page.contains("onclick") && !page.contains("javascript:"));
    }
}
