//! `Application::build(config)`: the bound listener, the router and the shared state, used by `main` and by the
//! integration tests alike (so tests run the service exactly as production does).
//!
//! This is the one place that knows every capability. Each capability's router is generic over its state and
//! names what it needs through `FromRef` (its own state, the token keys, the edge); [`AppState`] provides all of
//! it, and nothing outside this module and `openapi` imports it, so any router can be built alone on a state of
//! its own (tests/api/architecture.rs checks both).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Router, middleware};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use crate::auth::{self, AuthState, token::TokenKeys};
use crate::booking::{self, BookingService};
use crate::cache::Redis;
use crate::cache::seats::SeatCache;
use crate::catalog::{CatalogCaches, CatalogState};
use crate::config::Config;
use crate::db::Db;
use crate::edge::{self, Edge};
use crate::error::{ApiError, Problem};
use crate::tickets::TicketService;
use crate::{health, metrics, telemetry};

/// Which routers a process serves (DESIGN.md §2: one binary, deployed and scaled per role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Routes {
    /// Everything (development, small installs).
    All,
    /// The read side: theaters, movies, showtimes, seat maps.
    Search,
    /// The write side: users, tokens, bookings.
    Booking,
}

/// What every handler can reach: one `Arc`, so the clone axum makes for every request (and every layer that takes
/// state) is one atomic increment. (It was a struct of pools, caches and `Arc`s, and its clone and drop, a dozen
/// atomics and the Redis key prefix's allocation, were about 5% of the CPU profile of a seat-map load run.)
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The state's contents, reached through [`AppState`]'s `Deref`.
pub struct Shared {
    /// The configuration, parsed once.
    pub config: Arc<Config>,
    /// Database pools.
    pub db: Db,
    /// Redis.
    pub redis: Redis,
    /// Token signing and verification.
    pub tokens: Arc<TokenKeys>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Rate limiters and the edge's settings.
    pub edge: Arc<Edge>,
    /// The catalog's state: its pools and caches (in-process and the Redis seat-availability cache).
    pub catalog: Arc<CatalogState>,
    /// The identity routes' state.
    pub auth: Arc<AuthState>,
    /// The booking protocol (holds, payments, cancellations) with its payment provider.
    pub bookings: Arc<BookingService>,
    /// Tickets and check-in.
    pub tickets: Arc<TicketService>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for Arc<TokenKeys> {
    fn from_ref(state: &AppState) -> Self {
        state.tokens.clone()
    }
}

impl FromRef<AppState> for PrometheusHandle {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

impl FromRef<AppState> for Arc<Edge> {
    fn from_ref(state: &AppState) -> Self {
        state.edge.clone()
    }
}

impl FromRef<AppState> for Arc<CatalogState> {
    fn from_ref(state: &AppState) -> Self {
        state.catalog.clone()
    }
}

impl FromRef<AppState> for Arc<AuthState> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Arc<BookingService> {
    fn from_ref(state: &AppState) -> Self {
        state.bookings.clone()
    }
}

impl FromRef<AppState> for Arc<TicketService> {
    fn from_ref(state: &AppState) -> Self {
        state.tickets.clone()
    }
}

/// For the probes only (a clone of the pools, on a path that is not hot).
impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

/// For the probes only.
impl FromRef<AppState> for Redis {
    fn from_ref(state: &AppState) -> Self {
        state.redis.clone()
    }
}

/// A built service: listener bound, state ready, not yet serving.
pub struct Application {
    listener: TcpListener,
    /// The separate `/metrics` listener (`BOXOFFICE_METRICS_ADDR`), if configured.
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connects the pools, ensures the configured admin, binds the listener and assembles the router.
    ///
    /// # Errors
    /// No `BOXOFFICE_JWT_SECRET`, unreachable database while detecting the dialect (set `BOXOFFICE_DB_DIALECT` to
    /// start without it), an address that cannot be bound, or a failed admin bootstrap.
    pub async fn build(config: Config, routes: Routes) -> anyhow::Result<Self> {
        // Each pod would make its own random key, and a token from one would be refused by the next: users logged
        // out at random behind a load balancer. `make run` sets a development key (scripts/stack.sh env dev).
        anyhow::ensure!(
            config.auth.jwt_secret.is_some(),
            "BOXOFFICE_JWT_SECRET is not set: every pod must sign and verify tokens with the same key (32 bytes or \
             more; `make run` sets a development key)"
        );
        let metrics = metrics::install();
        let db = Db::connect(&config.database).await?;
        let redis = Redis::new(&config.redis)?;
        let tokens = Arc::new(TokenKeys::from_config(&config.auth));
        if let Some((email, password)) = &config.auth.bootstrap_admin {
            auth::ensure_admin(&db, email, password.expose(), "Administrator").await?;
        }
        let listener = TcpListener::bind(config.listen_addr).await?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let edge = Arc::new(Edge::new(&config.edge, redis.clone()));
        // One seat cache for the process: the catalog reads it, the booking side invalidates it, and a read waits
        // for this process's own invalidations (cache::seats).
        let seats = SeatCache::new(redis.clone(), config.seatmap_ttl);
        let catalog = Arc::new(CatalogState {
            db: db.clone(),
            caches: CatalogCaches::new(&config, seats.clone()),
            loadtest_routes: config.loadtest_routes,
        });
        let auth = Arc::new(AuthState { db: db.clone(), tokens: tokens.clone() });
        let bookings = Arc::new(BookingService::new(db.clone(), seats, &config));
        let tickets = Arc::new(TicketService::new(db.clone(), &config));
        if tickets.keys().is_none() {
            tracing::warn!("BOXOFFICE_TICKET_KEYS is not set: no tickets are shown and check-in answers 503");
        }
        let state = AppState(Arc::new(Shared {
            config: Arc::new(config),
            db,
            redis,
            tokens,
            metrics,
            edge,
            catalog,
            auth,
            bookings,
            tickets,
        }));
        let router = router(state.clone(), routes);
        Ok(Self { listener, metrics_listener, router, state })
    }

    /// The bound address (the real port when configured with port 0).
    ///
    /// # Errors
    /// The socket has no local address (it always has one once bound).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The bound address of the separate metrics listener, when `BOXOFFICE_METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared state (tests reach the pools through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and lets in-flight requests finish within the
    /// configured drain timeout. Meanwhile the pool gauges are sampled, and the metrics listener (if any) serves.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let drain = self.state.config.shutdown_timeout;
        let addr = self.local_addr()?;
        tracing::info!(%addr, "serving");
        let sampler = tokio::spawn(metrics::sample_pools(
            self.state.db.clone(),
            Some(self.state.redis.clone()),
            shutdown.clone(),
        ));
        let ops = self.metrics_listener.map(|listener| {
            tracing::info!(addr = ?listener.local_addr().ok(), "serving /metrics");
            tokio::spawn(metrics::serve_ops(listener, self.state.metrics.clone(), shutdown.clone()))
        });
        let upkeep = tokio::spawn(self.state.edge.clone().upkeep(shutdown.clone()));
        let header_read_timeout = self.state.config.edge.header_read_timeout;
        edge::server::serve(self.listener, self.router, shutdown, drain, header_read_timeout).await;
        upkeep.await?;
        // Both stop on `shutdown`; a scraper's open connection must not hold the process.
        sampler.abort();
        if let Some(ops) = ops {
            ops.abort();
        }
        Ok(())
    }
}

/// The whole router for `routes`, with its layers.
pub fn router(state: AppState, routes: Routes) -> Router {
    let config = state.config.clone();
    let mut app = Router::new()
        .merge(health::router())
        .route("/openapi.json", get(crate::openapi::document))
        .merge(edge::docs::router());
    // With a separate metrics listener, the public port does not expose /metrics (it would be reachable through
    // the ingress otherwise).
    if config.metrics_addr.is_none() {
        app = app.route("/metrics", get(metrics::render));
    }
    if matches!(routes, Routes::All | Routes::Search) {
        app = app.merge(crate::catalog::router()).merge(crate::web::router());
    }
    if matches!(routes, Routes::All | Routes::Booking) {
        app = app.merge(auth::router());
        app = app.merge(booking::router(state.clone()));
        app = app.merge(crate::tickets::router());
        app = app.merge(crate::payment::routes::router(config.payment.provider));
    }
    app.fallback(not_found)
        // Innermost first: the body limits and the timeout sit inside `observe`, so their refusals are counted,
        // logged and turned into problem+json like any other error.
        .layer(middleware::from_fn(edge::middleware::reject_nul))
        // One body limit per request, by route (`limit_body`: the theater writes' schema allows larger bodies);
        // axum's own default (2 MB for every extractor) would refuse the largest valid theater.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(config.body_limit_bytes, edge::middleware::limit_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, config.request_timeout))
        .layer(CatchPanicLayer::custom(telemetry::panic_response))
        .layer(middleware::from_fn_with_state(state.edge.clone(), edge::middleware::per_ip))
        .layer(middleware::from_fn(telemetry::observe))
        .layer(tower::util::option_layer(edge::middleware::cors(&config.edge.cors_origins)))
        .layer(middleware::from_fn_with_state(state.edge.clone(), edge::middleware::security_headers))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(tower::util::MapRequestLayer::new(telemetry::drop_unfit_request_id::<axum::body::Body>))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(Problem::NotFound, format!("no route for {}", uri.path()))
}

/// Keeps the recorder's histograms bounded in memory; runs until `shutdown`.
pub async fn metrics_upkeep(handle: PrometheusHandle, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}
