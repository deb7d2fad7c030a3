//! The web client: `GET /` and its files under `/app/`, a small single-page application in plain ES modules
//! (`web/app/`, no build step; README "Web client" says why) that is a client of the public REST API only. The
//! files are embedded with `include_bytes!`, so a release binary serves the whole client with no CDN, no file
//! system and no request to any other host.
//!
//! The router needs no application state, so it merges into any router (`Router<S>`).

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::extract::ApiPath;

/// The client's `Content-Security-Policy`: its own scripts and styles only (no inline script or style, no
/// `eval`), requests to this origin only (the API), images from itself or `data:` (the favicon), no framing, no
/// form posted anywhere (the forms are handled by script).
pub const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                           connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                           form-action 'none'";

/// The files under `/app/`: (name, media type, content).
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/api.js")),
    ("dom.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/dom.js")),
    ("seatmap.js", "text/javascript; charset=utf-8", include_bytes!("../web/app/seatmap.js")),
    ("style.css", "text/css; charset=utf-8", include_bytes!("../web/app/style.css")),
];

const PAGE: &[u8] = include_bytes!("../web/app/index.html");

/// Each asset's strong `ETag` (a hash of its bytes, the same on every pod running this binary), in [`ASSETS`] order.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| ASSETS.iter().map(|(_, _, body)| etag(body)).collect());

static PAGE_ETAG: LazyLock<HeaderValue> = LazyLock::new(|| etag(PAGE));

fn etag(body: &[u8]) -> HeaderValue {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: deterministic across processes of one build, which is all an ETag needs.
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish())).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The client's routes.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(page)).route("/app/{asset}", get(asset))
}

/// A 304 when the request already has this version, else the body. `no-cache`: a browser revalidates every
/// load (a round trip, no body), so a new release is seen at once without versioned file names.
fn serve(headers: &HeaderMap, media_type: &'static str, tag: &HeaderValue, body: &'static [u8]) -> Response {
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| candidate.trim() == tag.to_str().unwrap_or_default());
    let common = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")), (header::ETAG, tag.clone())];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, HeaderValue::from_static(media_type))], body).into_response()
}

/// `GET /`: the web client's page.
#[utoipa::path(get, path = "/", tag = "operations", responses(
    (status = 200, description = "The web client (HTML)", content_type = "text/html", body = String),
    (status = 304, description = "Not modified (`If-None-Match`)"),
))]
pub async fn page(headers: HeaderMap) -> Response {
    let mut response = serve(&headers, "text/html; charset=utf-8", &PAGE_ETAG, PAGE);
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
    let Some(i) = ASSETS.iter().position(|(n, _, _)| *n == name) else {
        return Err(ApiError::not_found(format_args!("web client file {name:?}")));
    };
    let (_, media_type, body) = ASSETS[i];
    Ok(serve(&headers, media_type, &ETAGS[i], body))
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
        for part in text(PAGE).split(['"', '\'']) {
            if part.starts_with('/') || part.starts_with("http") {
                references.push(part.to_owned());
            }
        }
        for (name, _, body) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            let source = text(body);
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
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{reference} is not served");
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let page = text(PAGE);
        assert!(!page.contains("<script>") && !page.contains("style="), "the CSP would refuse it");
        assert!(!page.contains("onclick") && !page.contains("javascript:"));
    }

    #[test]
    fn etags_differ_per_file_and_revalidation_answers_304() {
        assert_eq!(ETAGS.len(), ASSETS.len());
        assert_ne!(ETAGS[0], ETAGS[1]);
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, ETAGS[0].clone());
        assert_eq!(serve(&headers, "text/javascript", &ETAGS[0], ASSETS[0].2).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve(&headers, "text/javascript", &ETAGS[1], ASSETS[1].2).status(), StatusCode::OK);
    }
}
