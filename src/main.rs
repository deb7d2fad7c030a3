//! The `boxoffice` binary: parses the command line, builds, runs. Everything else lives in the library.

use std::io::BufRead;

use anyhow::Context;
use boxoffice::app::{Application, Routes};
use boxoffice::auth::model::Role;
use boxoffice::config::Config;
use boxoffice::db::{Db, migrate};
use boxoffice::notify::Dispatcher;
use boxoffice::{shutdown, telemetry, worker};
use clap::{Parser, Subcommand};

/// Cinema ticket booking service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Which routers to serve.
        #[arg(long, value_enum, default_value = "all")]
        routes: Routes,
        /// Also run the background worker in this process (development, small installs).
        #[arg(long)]
        with_worker: bool,
    },
    /// Run the background worker (hold expiry, outbox, payment reconciliation, housekeeping).
    Worker,
    /// Apply pending database migrations.
    Migrate,
    /// Load demo or load-test data (idempotent).
    Seed {
        /// The demo data set: real cities, ~60 theaters, 30+ movies, 14 days of showtimes.
        #[arg(long, required_unless_present = "scale")]
        demo: bool,
        /// N synthetic theaters (8 screens of ~200 seats, 14 days of showtimes each) for load tests.
        #[arg(long)]
        scale: Option<u32>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create (or promote) an admin or a door scanner (staff); the password is read from the first line of standard
    /// input.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Give the admin role (customers register over the API).
        #[arg(long, required_unless_present = "staff", conflicts_with = "staff")]
        admin: bool,
        /// Give the staff role: a door scanner, which may check tickets in (POST /checkins) and nothing of admin's.
        #[arg(long)]
        staff: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env()?;
    telemetry::init(&config);
    match cli.command {
        Command::Serve { routes, with_worker } => serve(config, routes, with_worker).await,
        Command::Worker => run_worker(config).await,
        Command::Migrate => {
            let db = Db::connect(&config.database).await?;
            let mut client = db.write.get().await.context("connecting to the database")?;
            let applied = migrate::run(&mut client, db.dialect).await?;
            tracing::info!(?applied, dialect = db.dialect.name(), "migrations up to date");
            Ok(())
        }
        Command::Seed { demo, scale } => {
            let db = Db::connect(&config.database).await?;
            let mut client = db.write.get().await.context("connecting to the database")?;
            if demo {
                let summary = boxoffice::seed::demo(&mut client).await?;
                tracing::info!(%summary, "demo data loaded");
            }
            if let Some(theaters) = scale {
                let summary = boxoffice::seed::scale(&mut client, theaters).await?;
                tracing::info!(%summary, "scale data loaded");
            }
            Ok(())
        }
        Command::User { command: UserCommand::Create { email, name, admin: _, staff } } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password).context("reading the password from stdin")?;
            let db = Db::connect(&config.database).await?;
            let role = if staff { Role::Staff } else { Role::Admin };
            let password = password.trim_end_matches(['\r', '\n']);
            let user = boxoffice::auth::ensure_role(&db, &email, password, &name, role).await?;
            tracing::info!(id = %user.id, email = %user.email, role = role.as_str(), "account ready");
            Ok(())
        }
    }
}

async fn serve(config: Config, routes: Routes, with_worker: bool) -> anyhow::Result<()> {
    let app = Application::build(config, routes).await?;
    let token = shutdown::on_signal();
    let upkeep = tokio::spawn(boxoffice::app::metrics_upkeep(app.state().metrics.clone(), token.clone()));
    let worker = if with_worker {
        let state = app.state();
        let dispatcher = Dispatcher::new(state.db.clone(), &state.config.mail)?;
        let job = worker::run(state.db.clone(), state.bookings.clone(), dispatcher, state.config.worker, token.clone());
        Some(tokio::spawn(job))
    } else {
        None
    };
    app.run_until(token.clone()).await?;
    token.cancel();
    if let Some(worker) = worker {
        worker.await?;
    }
    upkeep.await?;
    Ok(())
}

/// `boxoffice worker`: the jobs, plus the pool gauges and, with `BOXOFFICE_METRICS_ADDR`, `/metrics` and `/healthz`
/// (the worker has no other port for Prometheus and the liveness probe).
async fn run_worker(config: Config) -> anyhow::Result<()> {
    let handle = boxoffice::metrics::install();
    let db = Db::connect(&config.database).await?;
    let redis = boxoffice::cache::Redis::new(&config.redis)?;
    let token = shutdown::on_signal();
    let ops = match config.metrics_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
            tracing::info!(%addr, "serving /metrics");
            Some(tokio::spawn(boxoffice::metrics::serve_ops(listener, handle.clone(), token.clone())))
        }
        None => None,
    };
    let upkeep = tokio::spawn(boxoffice::app::metrics_upkeep(handle, token.clone()));
    let sampler = tokio::spawn(boxoffice::metrics::sample_pools(db.clone(), Some(redis.clone()), token.clone()));
    // With the sandbox payment provider, this process's reconciler asks a sandbox that never saw the charges made by
    // the serving processes: run the worker inside `serve --with-worker` then (see payment::sandbox).
    let seats = boxoffice::cache::seats::SeatCache::new(redis, config.seatmap_ttl);
    let bookings = std::sync::Arc::new(boxoffice::booking::BookingService::new(db.clone(), seats, &config));
    let dispatcher = Dispatcher::new(db.clone(), &config.mail)?;
    worker::run(db, bookings, dispatcher, config.worker, token.clone()).await;
    token.cancel();
    upkeep.await?;
    sampler.await?;
    if let Some(ops) = ops {
        ops.abort();
    }
    Ok(())
}
