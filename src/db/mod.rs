//! The database: connection pools, the dialect, the transaction retry helper, migrations and SQL text.
//!
//! Two pools, both deadpool over tokio-postgres: `write` for the booking path (SERIALIZABLE transactions through
//! [`retry`]), `read` for catalog reads. On CockroachDB every connection of the read pool turns on follower reads
//! for its session (`SET default_transaction_use_follower_reads = on`, DESIGN.md §3): its reads are served by the
//! nearest replica, a few seconds stale, and never written in SQL as `AS OF SYSTEM TIME`. Such a session is
//! read-only, which is what the read pool is for. On PostgreSQL every connection of the write pool turns sequential
//! scans off and plans its prepared statements once ([`WRITE_SESSION`] says why).
//!
//! With `BOXOFFICE_DB_CA_CERT` (CockroachDB in secure mode) connections use TLS through rustls: the server's
//! certificate must chain to that CA and name the host of the URL; a client certificate may authenticate the user.

pub mod migrate;
pub mod queries;
pub mod region;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use postgres_types::ToSql;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseConfig, DbTls, DialectSetting, RetryPolicy};

pub use region::Region;
pub use retry::{RetryError, Tx, TxError, retry};

/// The SQL dialect spoken by the server: DML is shared, DDL and a few session settings differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL 15+.
    Postgres,
    /// CockroachDB.
    Cockroach,
}

impl Dialect {
    /// Detects the dialect from the text of `SELECT version()`.
    pub fn from_version(version: &str) -> Self {
        if version.contains("CockroachDB") { Self::Cockroach } else { Self::Postgres }
    }

    /// The folder name of this dialect's migrations under `sql/migrations/`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Cockroach => "cockroach",
        }
    }
}

/// The pools and what the service knows about the database.
#[derive(Clone)]
pub struct Db {
    /// Primary: every write, and reads that decide anything (seat availability).
    pub write: Pool,
    /// Catalog reads; may lag the primary (follower reads), so never used to decide availability.
    pub read: Pool,
    /// Dialect, detected or configured.
    pub dialect: Dialect,
    /// Retry bounds for [`retry`].
    pub retry_policy: RetryPolicy,
    /// Timeout for health checks.
    pub timeout: Duration,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect)
            .field("write", &self.write.status())
            .field("read", &self.read.status())
            .finish()
    }
}

/// Why the database layer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    /// Pool construction failed (bad settings).
    #[error("could not build the {0} pool: {1}")]
    Build(&'static str, String),
    /// The server could not be reached to detect the dialect.
    #[error("could not reach the database to detect its dialect (set BOXOFFICE_DB_DIALECT to skip): {0}")]
    Detect(String),
    /// A TLS certificate or key could not be loaded.
    #[error("database TLS: {0}")]
    Tls(String),
}

/// The session setting that makes a CockroachDB connection read from the nearest replica (read pool only).
pub const FOLLOWER_READS: &str = "SET default_transaction_use_follower_reads = on";

/// A rustls connector trusting only `tls.ca_cert`, presenting the client certificate if configured.
///
/// # Errors
/// [`DbSetupError::Tls`] naming the file that is missing, unreadable or not PEM.
pub fn tls_connector(tls: &DbTls) -> Result<MakeRustlsConnect, DbSetupError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = |path: &std::path::Path| -> Result<Vec<CertificateDer<'static>>, DbSetupError> {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|e| DbSetupError::Tls(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(DbSetupError::Tls(format!("{}: no certificate in the file", path.display())));
        }
        Ok(certs)
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(&tls.ca_cert)? {
        roots.add(cert).map_err(|e| DbSetupError::Tls(format!("{}: {e}", tls.ca_cert.display())))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| DbSetupError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match &tls.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| DbSetupError::Tls(format!("{}: {e}", key.display())))?;
            builder.with_client_auth_cert(certs(cert)?, key).map_err(|e| DbSetupError::Tls(e.to_string()))?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The write pool's session on PostgreSQL, two settings:
///
/// * `enable_seqscan = off`. Under SERIALIZABLE, PostgreSQL's predicate locks follow the access path, and a
///   sequential scan locks the whole relation: on a small table (a fresh deployment's or a new region's bookings
///   partition, where the planner prefers scanning a page or two to using an index) every transaction that reads the
///   table then conflicts with every concurrent insert into it, and uncontended holds on different showtimes retry
///   each other into 503s (measured: 37% of them retried in the load run). Every statement of the write path has an
///   index to use, and this makes the planner take it whatever the table's size (a sequential scan is still used
///   when no index applies).
/// * `plan_cache_mode = force_generic_plan`. The booking tables are partitioned by region, and for a prepared
///   statement on a partitioned table PostgreSQL's default keeps planning each execution anew: the generic plan's
///   estimate counts every partition, so it never looks cheaper than a custom plan pruned to one. Planning was half
///   the database's work in a hold: pgbench of the service's hold SQL ran at 1,318-1,461 tx/s with custom plans and
///   3,177-4,023 with the generic plan (same run, alternated). The generic plan prunes the partitions when it starts
///   executing, and every statement of the write path is a key or index lookup whose best plan does not depend on
///   its parameters.
///
/// CockroachDB has neither predicate locks nor this planner, and no such settings.
pub const WRITE_SESSION: &str = "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan";

/// A statement of a [`pipeline`] and its parameters.
pub type Step<'a> = (&'a str, &'a [&'a (dyn ToSql + Sync)]);

/// Statements sent back to back in one round trip. All are prepared first (a statement not yet cached on this
/// connection would otherwise be overtaken by the next one); the server then runs them in order. The results come
/// back in order; the first failing statement's error is the one returned (the later ones only report that the
/// transaction is aborted).
///
/// # Errors
/// Database errors.
pub async fn pipeline(c: &ClientWrapper, steps: &[Step<'_>]) -> Result<Vec<Vec<Row>>, tokio_postgres::Error> {
    let statements = futures_util::future::try_join_all(steps.iter().map(|(sql, _)| c.prepare_cached(sql))).await?;
    let runs = statements.iter().zip(steps).map(|(statement, (_, params))| c.query(statement, params));
    futures_util::future::join_all(runs).await.into_iter().collect()
}

fn build_pool(
    name: &'static str,
    mut pg: tokio_postgres::Config,
    size: usize,
    timeout: Duration,
    tls: Option<&MakeRustlsConnect>,
    session: Option<&'static str>,
) -> Result<Pool, DbSetupError> {
    pg.connect_timeout(timeout);
    pg.application_name(format!("boxoffice-{name}"));
    let manager_config = ManagerConfig {
        // Fast recycling checks `is_closed()` only; a connection broken mid-use fails one query, and the retry
        // helper or the next request gets a fresh one.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls {
        Some(tls) => Manager::from_config(pg, tls.clone(), manager_config),
        None => Manager::from_config(pg, NoTls, manager_config),
    };
    let mut builder = Pool::builder(manager);
    if let Some(statement) = session {
        // Runs once per new connection, before the pool hands it out.
        builder = builder.post_create(Hook::async_fn(move |client, _| {
            Box::pin(async move { client.batch_execute(statement).await.map_err(HookError::Backend) })
        }));
    }
    builder
        .max_size(size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| DbSetupError::Build(name, e.to_string()))
}

impl Db {
    /// Builds both pools. Connections are made lazily, except one to detect the dialect when it is `auto`.
    ///
    /// # Errors
    /// Invalid pool settings, unloadable TLS files, or an unreachable server while detecting the dialect.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbSetupError> {
        let tls = config.tls.as_ref().map(tls_connector).transpose()?;
        let dialect = match config.dialect {
            DialectSetting::Postgres => Dialect::Postgres,
            DialectSetting::Cockroach => Dialect::Cockroach,
            DialectSetting::Auto => {
                // A one-connection probe: the write pool's session depends on the answer.
                let probe = build_pool("probe", config.write.clone(), 1, config.timeout, tls.as_ref(), None)?;
                let client = probe.get().await.map_err(|e| DbSetupError::Detect(e.to_string()))?;
                let row =
                    client.query_one("SELECT version()", &[]).await.map_err(|e| DbSetupError::Detect(e.to_string()))?;
                Dialect::from_version(row.get(0))
            }
        };
        let write_session = (dialect == Dialect::Postgres).then_some(WRITE_SESSION);
        let write =
            build_pool("write", config.write.clone(), config.pool_size, config.timeout, tls.as_ref(), write_session)?;
        let session = (dialect == Dialect::Cockroach).then_some(FOLLOWER_READS);
        let read =
            build_pool("read", config.read.clone(), config.read_pool_size, config.timeout, tls.as_ref(), session)?;
        Ok(Self { write, read, dialect, retry_policy: config.retry, timeout: config.timeout })
    }

    /// A connection for a catalog read: from the read pool, or from the primary's when the read pool cannot make
    /// one (its replicas are down or being switched over). Reads keep answering while either side is up.
    ///
    /// # Errors
    /// The read pool's error, when neither pool gives a connection.
    pub async fn reader(&self) -> Result<deadpool_postgres::Object, deadpool_postgres::PoolError> {
        match self.read.get().await {
            Ok(client) => Ok(client),
            Err(err) => {
                metrics::counter!("boxoffice_db_pool_fallbacks_total", "from" => "read").increment(1);
                self.write.get().await.map_err(|_| err)
            }
        }
    }

    /// Answers whether the primary runs a trivial query within the health-check timeout.
    ///
    /// # Errors
    /// The reason it does not, as text for the readiness report.
    pub async fn ping(&self) -> Result<(), String> {
        self.ping_pool(&self.write).await
    }

    /// Answers whether the read database (a replica, or the primary when no read URL is set) runs a trivial query
    /// within the health-check timeout.
    ///
    /// # Errors
    /// The reason it does not, as text for the readiness report.
    pub async fn ping_read(&self) -> Result<(), String> {
        self.ping_pool(&self.read).await
    }

    async fn ping_pool(&self, pool: &Pool) -> Result<(), String> {
        let check = async {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            client.simple_query("SELECT 1").await.map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        };
        match tokio::time::timeout(self.timeout, check).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }
}

/// Whether `err` is the server telling us a unique constraint named `constraint` was violated.
pub fn is_unique_violation(err: &tokio_postgres::Error, constraint: &str) -> bool {
    err.as_db_error().is_some_and(|db| *db.code() == SqlState::UNIQUE_VIOLATION && db.constraint() == Some(constraint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_is_read_from_the_version_string() {
        assert_eq!(
            Dialect::from_version("PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu"),
            Dialect::Postgres
        );
        assert_eq!(
            Dialect::from_version("CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu, built 2024/05/15)"),
            Dialect::Cockroach
        );
    }
}
