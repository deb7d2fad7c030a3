//! The migrations runner: applies `sql/migrations/<dialect>/NNNN_name.sql` in order, once each.
//!
//! Safe from several pods at once without advisory locks (which CockroachDB ignores): each migration runs in its own
//! transaction that first inserts its row into `schema_migrations`. A second runner's insert of the same version
//! waits on the first's uncommitted row, then finds it (`ON CONFLICT DO NOTHING` returns nothing) and skips; if the
//! first rolls back, the second applies it. An applied migration whose file changed since is an error: migrations are
//! append-only.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::Dialect;

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number, the order of application.
    pub version: i32,
    /// Its file name without `.sql`.
    pub name: &'static str,
    /// Its text.
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dialect:literal: $( $version:literal => $name:literal ),* $(,)?) => {
        &[ $( Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/migrations/", $dialect, "/", $name, ".sql")),
        } ),* ]
    };
}

/// PostgreSQL migrations, in order.
pub const POSTGRES: &[Migration] = migrations!("postgres":
    1 => "0001_schema",
    2 => "0002_booking_seats_taken_from",
);

/// CockroachDB migrations, in order.
pub const COCKROACH: &[Migration] = &[];

/// The migrations of a dialect.
pub fn for_dialect(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Postgres => POSTGRES,
        Dialect::Cockroach => COCKROACH,
    }
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A statement failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        /// The migration.
        version: i32,
        /// Its name.
        name: &'static str,
        /// The database's error.
        source: tokio_postgres::Error,
    },
    /// An applied migration's file changed.
    #[error("migration {version} ({name}) was edited after it was applied; add a new migration instead")]
    Edited {
        /// The migration.
        version: i32,
        /// Its name.
        name: &'static str,
    },
    /// The tracking table could not be read or created.
    #[error("migrations table: {0}")]
    Tracking(#[from] tokio_postgres::Error),
    /// This dialect has no migrations in this build.
    #[error("no migrations for {0} in this build")]
    NoMigrations(&'static str),
}

/// FNV-1a, 64 bits, as hex: a stable fingerprint of a migration's text (not a security measure).
pub fn checksum(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

const CREATE_TRACKING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// Applies every pending migration of `dialect`; returns the versions applied by this call.
///
/// # Errors
/// See [`MigrateError`]; a failed migration leaves no trace (its transaction rolls back).
pub async fn run(client: &mut Client, dialect: Dialect) -> Result<Vec<i32>, MigrateError> {
    let migrations = for_dialect(dialect);
    if migrations.is_empty() {
        return Err(MigrateError::NoMigrations(dialect.name()));
    }
    // Two runners creating the table at once: one of them gets a duplicate-object error from the catalog. The table
    // exists either way, so a second try settles it.
    if let Err(err) = client.batch_execute(CREATE_TRACKING).await {
        let race = [SqlState::UNIQUE_VIOLATION, SqlState::DUPLICATE_TABLE];
        if !err.code().is_some_and(|c| race.contains(c)) {
            return Err(err.into());
        }
        client.batch_execute(CREATE_TRACKING).await?;
    }
    let mut applied = Vec::new();
    for m in migrations {
        let sum = checksum(m.sql);
        let tx = client.transaction().await?;
        let claimed = tx
            .query(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3) \
                 ON CONFLICT (version) DO NOTHING RETURNING version",
                &[&m.version, &m.name, &sum],
            )
            .await?;
        if claimed.is_empty() {
            let row = tx.query_one("SELECT checksum FROM schema_migrations WHERE version = $1", &[&m.version]).await?;
            tx.rollback().await?;
            if row.get::<_, String>(0) != sum {
                return Err(MigrateError::Edited { version: m.version, name: m.name });
            }
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(|source| MigrateError::Failed {
            version: m.version,
            name: m.name,
            source,
        })?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_listed_in_order() {
        for (dialect, listed) in [("postgres", POSTGRES), ("cockroach", COCKROACH)] {
            let dir = format!("{}/sql/migrations/{dialect}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter_map(|name| name.strip_suffix(".sql").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            let names: Vec<_> = listed.iter().map(|m| m.name.to_owned()).collect();
            assert_eq!(files, names, "{dir} and the list in migrate.rs differ");
            for (i, m) in listed.iter().enumerate() {
                assert_eq!(m.version as usize, i + 1, "{}", m.name);
                assert!(m.name.starts_with(&format!("{:04}_", m.version)), "{}", m.name);
            }
        }
    }

    #[test]
    fn checksum_is_stable_and_sensitive() {
        assert_eq!(checksum("SELECT 1"), checksum("SELECT 1"));
        assert_ne!(checksum("SELECT 1"), checksum("SELECT 2"));
        assert_eq!(checksum("").len(), 16);
    }
}
