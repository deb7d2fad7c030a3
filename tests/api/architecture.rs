//! The shape of the crate (CONVENTIONS.md, "The shape of the house"): capability modules do not depend on the
//! assembly. `app` builds the state and merges the routers, `openapi` lists every capability's operations; a
//! capability that imported either would tie itself into one import circle with every other and could not be built
//! or tested alone. Like the SQL portability check, this reads the sources; a second test shows the checker
//! catching each form of import and sparing look-alikes, and a third builds one capability's router on a state of
//! its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode};
use boxoffice::auth::token::TokenKeys;
use boxoffice::booking::BookingService;
use boxoffice::cache::Redis;
use boxoffice::cache::seats::SeatCache;
use boxoffice::catalog::{CatalogCaches, CatalogState};
use boxoffice::db::Db;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

use crate::helpers::{drop_database, fresh_database, test_config};

/// The assembly modules: a capability may name neither.
const ASSEMBLY: [&str; 2] = ["app", "openapi"];

/// The files that assemble the crate and so may import everything.
const ASSEMBLERS: [&str; 4] = ["src/app.rs", "src/openapi.rs", "src/lib.rs", "src/main.rs"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file relative to `src/` (`auth/routes.rs` -> `["auth", "routes"]`, `auth/mod.rs`
/// -> `["auth"]`).
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The first path segment after `rest` starts, and whether it is one of [`ASSEMBLY`] used as a path segment.
fn names_assembly(rest: &str) -> Option<&'static str> {
    let word: String = rest.chars().take_while(|c| is_ident(*c)).collect();
    ASSEMBLY.iter().copied().find(|m| *m == word)
}

/// Every reference to an assembly module in `text`, a file of module `module`: `crate::app`, `crate::{app, ..}`,
/// `crate::{.., openapi::X}`, and `super::..` chains that climb to the crate root and name one.
fn violations(file: &str, module: &[String], text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut report = |what: &str| found.push(format!("{file}: imports crate::{what}"));
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        // A path starts at an identifier boundary.
        if (i > 0 && is_ident(chars[i - 1].1)) || !is_ident(c) {
            continue;
        }
        let rest = &text[at..];
        let after_root = if let Some(after) = rest.strip_prefix("crate::") {
            Some(after)
        } else if rest.starts_with("super::") {
            // Climb one module per `super::`; only a chain that reaches the root names a top-level module.
            let mut after = rest;
            let mut depth = module.len();
            while let Some(next) = after.strip_prefix("super::") {
                after = next;
                depth = depth.saturating_sub(1);
            }
            (depth == 0).then_some(after)
        } else {
            None
        };
        let Some(after) = after_root else { continue };
        if let Some(group) = after.strip_prefix('{') {
            // `crate::{a, b::c, app}`: the items at the group's top level.
            let mut depth = 0;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        item_start = false;
                        if let Some(m) = names_assembly(&group[j..]) {
                            report(m);
                        }
                    }
                    _ => {}
                }
            }
        } else if let Some(m) = names_assembly(after) {
            report(m);
        }
    }
    found
}

#[test]
fn no_capability_module_imports_app_or_openapi() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut checked = 0;
    let mut problems = Vec::new();
    for path in files {
        let relative = path.strip_prefix(root).expect("under the crate").to_string_lossy().replace('\\', "/");
        if ASSEMBLERS.contains(&relative.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        let module = module_of(Path::new(relative.trim_start_matches("src/")));
        problems.extend(violations(&relative, &module, &text));
        checked += 1;
    }
    assert!(checked >= 40, "the scan found too few files ({checked})");
    assert!(
        problems.is_empty(),
        "capability modules must not depend on the assembly (take the state through FromRef instead):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_import_checker_catches_every_form_and_spares_look_alikes() {
    let auth = ["auth".to_owned()];
    let routes = ["auth".to_owned(), "routes".to_owned()];
    let caught: [(&[String], &str, &str); 8] = [
        (&routes, "use crate::app::AppState;", "app"),
        (&routes, "body = crate::openapi::ProblemDocument,", "openapi"),
        (&routes, "use crate::{app, auth};", "app"),
        (&routes, "use crate::{\n    auth::AuthUser,\n    openapi::BadJson,\n};", "openapi"),
        (&routes, "use crate::app;", "app"),
        (&routes, "use super::super::app::AppState;", "app"),
        (&auth, "use super::app::AppState;", "app"),
        (&routes, "/// in [`crate::app::AppState`]", "app"),
    ];
    for (module, text, what) in caught {
        let found = violations("src/x.rs", module, text);
        assert_eq!(found, vec![format!("src/x.rs: imports crate::{what}")], "{text:?}");
    }
    let spared: [(&[String], &str); 7] = [
        (&routes, "use crate::application::Thing;"),
        (&routes, "use crate::openapi_extra::Thing;"),
        (&routes, "use crate::{auth::{app, openapi}, db};"),
        (&routes, "use super::app::Thing;"),
        (&routes, "use boxoffice::app::AppState;"),
        (&routes, "let x = my_crate::app::f();"),
        (&routes, "use crate::error::{ApiError, ProblemDocument};"),
    ];
    for (module, text) in spared {
        assert_eq!(violations("src/x.rs", module, text), Vec::<String>::new(), "{text:?}");
    }
}

/// A state with only what the catalog router asks for: its own state and the token keys of the admin check.
#[derive(Clone)]
struct CatalogOnly {
    catalog: Arc<CatalogState>,
    tokens: Arc<TokenKeys>,
    /// Canceling a showtime cancels its bookings: the catalog's one dependency on another capability.
    bookings: Arc<BookingService>,
}

impl FromRef<CatalogOnly> for Arc<BookingService> {
    fn from_ref(state: &CatalogOnly) -> Self {
        state.bookings.clone()
    }
}

impl FromRef<CatalogOnly> for Arc<CatalogState> {
    fn from_ref(state: &CatalogOnly) -> Self {
        state.catalog.clone()
    }
}

impl FromRef<CatalogOnly> for Arc<TokenKeys> {
    fn from_ref(state: &CatalogOnly) -> Self {
        state.tokens.clone()
    }
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_catalog_router_serves_on_a_state_of_its_own() {
    // Arrange: the catalog's router on its own state; no AppState, no other capability.
    let db_name = fresh_database().await;
    let config = test_config(&db_name, &[]);
    let db = Db::connect(&config.database).await.expect("pools");
    let redis = Redis::new(&config.redis).expect("redis pool");
    let seats = SeatCache::new(redis, config.seatmap_ttl);
    let catalog =
        CatalogState { db: db.clone(), caches: CatalogCaches::new(&config, seats.clone()), loadtest_routes: false };
    let bookings = Arc::new(BookingService::new(db.clone(), seats, &config));
    let state =
        CatalogOnly { catalog: Arc::new(catalog), tokens: Arc::new(TokenKeys::from_config(&config.auth)), bookings };
    let router: Router = boxoffice::catalog::router().with_state(state);
    let showtime: Uuid = db
        .write
        .get()
        .await
        .expect("connection")
        .query_one("SELECT id FROM showtimes WHERE status = 'scheduled' AND start_time > now() LIMIT 1", &[])
        .await
        .expect("a future showtime in the demo data")
        .get(0);

    // Act and assert: reads go through the store and the caches, the admin check through the token keys.
    let (status, movies) = call(&router, Request::get("/movies").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK, "{movies}");
    assert!(movies["items"].as_array().is_some_and(|items| !items.is_empty()), "{movies}");
    let seat_map = Request::get(format!("/showtimes/{showtime}/seats")).body(Body::empty()).expect("request");
    let (status, map) = call(&router, seat_map).await;
    assert_eq!(status, StatusCode::OK, "{map}");
    assert!(map["totals"]["seats"].as_i64().is_some_and(|n| n > 0), "{map}");
    let write = Request::post("/movies").header("content-type", "application/json").body(Body::from("{}"));
    let (status, problem) = call(&router, write.expect("request")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["type"], "https://boxoffice.dev/problems/unauthorized");
    // The other capabilities are not part of it.
    let (status, _) = call(&router, Request::get("/users/me/bookings").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    drop(router);
    drop(db);
    drop_database(&db_name);
}
